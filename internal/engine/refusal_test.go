package engine

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// otpWord matches the word OTP, which no line of TOTP mode holds: that mode
// has no OTP. "TOTP", the mode's name, is not the word.
var otpWord = regexp.MustCompile(`\bOTP\b`)

// TestRefusalWording runs Decide against a server that refuses the token as
// Vault does, in each mode, and checks the reason logged word for word: OTP
// mode says "OTP rejected: …", which operators grep for, and TOTP mode
// "code rejected: …", with no word of an OTP anywhere in its line. Both are
// PAM_AUTH_ERR (PAM_IGNORE for a user without a key under nullok).
func TestRefusalWording(t *testing.T) {
	const code = "123456"
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("hvs.engine-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	verifyAnswer := func(user, ip, role string) string {
		return `{"data":{"username":"` + user + `","ip":"` + ip + `","role_name":"` + role + `"}}`
	}
	tests := []struct {
		name   string
		totp   bool
		args   []string // module arguments beyond the mode's
		status int      // Vault's answer
		body   string
		want   Result
		reason string // the log line's reason, unquoted
	}{
		{name: "OTP unknown or already used", status: 400, body: `{"errors":["OTP not found"]}`,
			want: AuthErr, reason: "OTP rejected: Vault says HTTP 400: OTP not found"},
		{name: "OTP issued for another user", status: 200, body: verifyAnswer("bob", "127.0.0.1", "otp"),
			want: AuthErr, reason: `OTP rejected: OTP was issued for user "bob"`},
		{name: "OTP issued for another host", status: 200, body: verifyAnswer("alice", "192.0.2.1", "otp"),
			want: AuthErr, reason: "OTP rejected: OTP was issued for another host: 192.0.2.1 is neither an address of this host nor in allowed_cidr_list"},
		{name: "OTP of a role not allowed", status: 200, body: verifyAnswer("alice", "127.0.0.1", "admin"),
			want: AuthErr, reason: `OTP rejected: role "admin" is not in allowed_roles`},

		{name: "wrong code", totp: true, status: 200, body: `{"data":{"valid":false}}`,
			want: AuthErr, reason: "code rejected: not this user's current code"},
		{name: "code already used", totp: true, status: 400, body: `{"errors":["code already used; wait until the next time period"]}`,
			want: AuthErr, reason: "code rejected: already used; Vault takes each code once"},
		{name: "no key", totp: true, status: 400, body: `{"errors":["unknown key: alice"]}`,
			want: AuthErr, reason: "code rejected: no TOTP key for this user in Vault"},
		{name: "no key under nullok", totp: true, args: []string{"nullok"}, status: 400, body: `{"errors":["unknown key: alice"]}`,
			want: Ignore, reason: "code rejected: no TOTP key for this user in Vault"},
		{name: "another 400", totp: true, status: 400, body: `{"errors":["the code value is required"]}`,
			want: AuthErr, reason: "code rejected: Vault says HTTP 400: the code value is required"},
		{name: "a 400 that is not JSON", totp: true, status: 400, body: `Bad Request`,
			want: AuthErr, reason: "code rejected: Vault says HTTP 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, tok, args := "/v1/ssh/verify", otp, []string{"dev"}
			if tt.totp {
				path, tok, args = "/v1/totp/code/alice", code, []string{"totp", "dev"}
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPut || r.URL.Path != path {
					t.Errorf("request %s %s, want PUT %s", r.Method, r.URL.Path, path)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			cfg := writeConfig(t, "vault_addr = "+strconv.Quote(srv.URL)+"\nallowed_roles = \"otp\"\ntoken_file = "+strconv.Quote(token)+"\n")
			args = append(append(args, "config="+cfg), tt.args...)

			v := Decide(context.Background(), Request{Args: args, User: "alice", Token: tok})
			if v.Result != tt.want {
				t.Errorf("Result = %s, want %s; log: %s", v.Result.PAMName(), tt.want.PAMName(), v.Log)
			}
			if got := fieldValue(t, v.Log, "reason"); got != tt.reason {
				t.Errorf("reason %q, want %q", got, tt.reason)
			}
			if tt.totp && otpWord.MatchString(v.Log) {
				t.Errorf("TOTP mode's line speaks of an OTP: %s", v.Log)
			}
			if !tt.totp && !strings.Contains(v.Log, `reason="OTP rejected: `) {
				t.Errorf("OTP mode's line does not say reason=\"OTP rejected: …\": %s", v.Log)
			}
			if tt.totp && strings.Contains(v.Log, code) {
				t.Errorf("the line holds the code: %s", v.Log)
			}
		})
	}
}
