package verify

import (
	"strings"
	"testing"
)

// TestDecodeWithToken checks how the answers to pam-vault-check's token
// checks are read: a 403 is the token refused, and a 400 a request
// rejected, which no OTP or code was in.
func TestDecodeWithToken(t *testing.T) {
	c := &Client{totpMount: "totp", token: "hvs.x"}
	tests := []struct {
		name   string
		status int
		body   string
		kind   error // nil for an answer read
		want   string
	}{
		{"read", 200, `{"data":{"type":"totp"}}`, nil, ""},
		{"400", 400, `{"errors":["missing client token"]}`, ErrRejected, "request rejected: Vault says HTTP 400: missing client token"},
		{"403", 403, `{"errors":["permission denied"]}`, ErrUnavailable, "Vault unavailable: Vault refused the token (HTTP 403: permission denied)"},
		{"503", 503, `{"errors":["Vault is sealed"]}`, ErrUnavailable, "Vault unavailable: Vault is sealed or in maintenance (HTTP 503: Vault is sealed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var typ string
			err := c.decodeWithToken(tt.status, []byte(tt.body), "mount answer", Field{"type", &typ})
			if tt.kind == nil {
				if err != nil || typ != "totp" {
					t.Fatalf("decodeWithToken = %v, type %q; want totp", err, typ)
				}
				return
			}
			if err == nil {
				t.Fatalf("decodeWithToken = nil, want %v", tt.kind)
			}
			if k := errKind(t, err); k != tt.kind {
				t.Errorf("kind %v, want %v: %v", k, tt.kind, err)
			}
			if err.Error() != tt.want || otpWord.MatchString(err.Error()) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hvs.x") {
				t.Errorf("error %q holds the token", err)
			}
		})
	}
}
