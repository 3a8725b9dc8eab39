package verify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// errKind returns the one error kind err wraps, or fails t when it wraps
// none or more than one.
func errKind(t *testing.T, err error) error {
	t.Helper()
	var kinds []error
	for _, k := range []error{ErrRejected, ErrUnavailable, ErrConfig} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		t.Fatalf("error %q wraps %d of ErrRejected, ErrUnavailable, ErrConfig, want exactly one", err, len(kinds))
	}
	return kinds[0]
}

// TestDecodeVerify checks how a verify answer becomes an Answer or an error
// of the right kind.
func TestDecodeVerify(t *testing.T) {
	long := strings.Repeat("Vault says no. ", 1000)
	tests := []struct {
		name    string
		status  int
		body    string
		want    Answer
		wantErr error    // nil for success
		parts   []string // substrings of the error text
		absent  []string // substrings the error text must not hold
	}{
		{
			name:   "valid",
			status: 200,
			body:   `{"request_id":"x","data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"},"warnings":null}`,
			want:   Answer{Username: "alice", IP: "10.1.2.3", Role: "otp"},
		},
		{
			name:   "valid with extra fields",
			status: 200,
			body:   `{"data":{"username":"alice","ip":"::1","role_name":"otp","key_type":"otp"},"lease_id":"","auth":null}`,
			want:   Answer{Username: "alice", IP: "::1", Role: "otp"},
		},
		// The answers of a server that controls what Vault says: a key
		// that differs from Vault's in case only, a key given twice, and
		// errors beside data. encoding/json alone reads the first two as
		// Vault's keys (matching case-insensitively, the last duplicate
		// winning) and ignores the third.
		{name: "keys in another case", status: 200, body: `{"data":{"Username":"alice","IP":"10.1.2.3","Role_Name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"in case only"}},
		{name: "one key in another case", status: 200, body: `{"data":{"username":"bob","USERNAME":"alice","ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"in case only"}},
		{name: "data in another case", status: 200, body: `{"Data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"in case only"}},
		{name: "username twice", status: 200, body: `{"data":{"username":"bob","ip":"10.1.2.3","role_name":"otp","username":"alice"}}`, wantErr: ErrUnavailable, parts: []string{"duplicate key", "username"}},
		{name: "ip twice", status: 200, body: `{"data":{"username":"alice","ip":"192.0.2.1","ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"duplicate key"}},
		{name: "data twice", status: 200, body: `{"data":{"username":"bob","ip":"10.1.2.3","role_name":"otp"},"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"duplicate key"}},
		{name: "a key twice in an unread member", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"},"auth":{"a":1,"a":2}}`, wantErr: ErrUnavailable, parts: []string{"duplicate key"}},
		{name: "errors beside data", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"},"errors":["permission denied"]}`, wantErr: ErrUnavailable, parts: []string{"errors"}},
		{name: "empty errors beside data", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"},"errors":[]}`, wantErr: ErrUnavailable, parts: []string{"errors"}},
		{name: "null errors beside data", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"},"errors":null}`, wantErr: ErrUnavailable, parts: []string{"errors"}},
		{name: "no data", status: 200, body: `{"request_id":"x"}`, wantErr: ErrUnavailable, parts: []string{"no data"}},
		{name: "data null", status: 200, body: `{"data":null}`, wantErr: ErrUnavailable, parts: []string{"no data"}},
		{name: "data empty object", status: 200, body: `{"data":{}}`, wantErr: ErrUnavailable, parts: []string{"data.username"}},
		{name: "missing username", status: 200, body: `{"data":{"ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"data.username"}},
		{name: "missing ip", status: 200, body: `{"data":{"username":"alice","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"data.ip"}},
		{name: "missing role_name", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3"}}`, wantErr: ErrUnavailable, parts: []string{"data.role_name"}},
		{name: "empty username", status: 200, body: `{"data":{"username":"","ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"data.username"}},
		{name: "empty ip", status: 200, body: `{"data":{"username":"alice","ip":"","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"data.ip"}},
		{name: "empty role_name", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":""}}`, wantErr: ErrUnavailable, parts: []string{"data.role_name"}},
		{name: "null username", status: 200, body: `{"data":{"username":null,"ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"data.username"}},
		{name: "username a number", status: 200, body: `{"data":{"username":0,"ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"data.username", "number"}},
		{name: "ip an object", status: 200, body: `{"data":{"username":"alice","ip":{"v":"10.1.2.3"},"role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"data.ip", "object"}},
		{name: "role_name an array", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":["otp"]}}`, wantErr: ErrUnavailable, parts: []string{"data.role_name", "array"}},
		{name: "username a bool", status: 200, body: `{"data":{"username":true,"ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable, parts: []string{"data.username"}},
		{name: "data a number", status: 200, body: `{"data":1}`, wantErr: ErrUnavailable, parts: []string{"not a JSON object"}},
		{name: "data a string", status: 200, body: `{"data":"alice"}`, wantErr: ErrUnavailable, parts: []string{"not a JSON object"}},
		{name: "data an array", status: 200, body: `{"data":[{"username":"alice","ip":"10.1.2.3","role_name":"otp"}]}`, wantErr: ErrUnavailable, parts: []string{"not a JSON object"}},
		{name: "body an array", status: 200, body: `[]`, wantErr: ErrUnavailable, parts: []string{"not JSON"}},
		{name: "body null", status: 200, body: `null`, wantErr: ErrUnavailable, parts: []string{"not a JSON object"}},
		{name: "errors a string", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"},"errors":"x"}`, wantErr: ErrUnavailable},
		{name: "invalid JSON", status: 200, body: `{"data":{"username":"alice"`, wantErr: ErrUnavailable, parts: []string{"not JSON"}},
		{name: "HTML", status: 200, body: `<html>proxy login</html>`, wantErr: ErrUnavailable, parts: []string{"not JSON"}},
		{name: "trailing garbage", status: 200, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"}} x`, wantErr: ErrUnavailable},
		{name: "empty body", status: 200, body: ``, wantErr: ErrUnavailable, parts: []string{"not JSON"}},
		{name: "OTP not found", status: 400, body: `{"errors":["OTP not found"]}`, wantErr: ErrRejected, parts: []string{"OTP rejected: Vault says HTTP 400: OTP not found"}},
		{name: "400 several errors", status: 400, body: `{"errors":["a","b"]}`, wantErr: ErrRejected, parts: []string{"a; b"}},
		{name: "400 not JSON", status: 400, body: `Bad Request`, wantErr: ErrRejected, parts: []string{"HTTP 400"}, absent: []string{"Bad Request"}},
		{name: "400 empty", status: 400, body: ``, wantErr: ErrRejected, parts: []string{"HTTP 400"}},
		{name: "400 with data", status: 400, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrRejected},
		{name: "404", status: 404, body: `{"errors":[]}`, wantErr: ErrUnavailable, parts: []string{"ssh_mount_point", "HTTP 404"}},
		{name: "403", status: 403, body: `{"errors":["permission denied"]}`, wantErr: ErrUnavailable, parts: []string{"ssh_mount_point", "permission denied"}},
		{name: "429", status: 429, body: `{"errors":["request path \"ssh/verify\": rate limit quota exceeded"]}`, wantErr: ErrUnavailable, parts: []string{"HTTP 429", "rate limit"}},
		{name: "500", status: 500, body: `{"errors":["internal error"]}`, wantErr: ErrUnavailable, parts: []string{"HTTP 500", "internal error"}},
		{name: "502 HTML", status: 502, body: `<html>Bad Gateway</html>`, wantErr: ErrUnavailable, parts: []string{"HTTP 502"}},
		{name: "503 sealed", status: 503, body: `{"errors":["Vault is sealed"]}`, wantErr: ErrUnavailable, parts: []string{"sealed", "HTTP 503"}},
		{name: "204", status: 204, body: ``, wantErr: ErrUnavailable, parts: []string{"HTTP 204"}},
		{name: "201 with data", status: 201, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable},
		{name: "307", status: 307, body: ``, wantErr: ErrUnavailable, parts: []string{"HTTP 307"}},
		{name: "status 0", status: 0, body: `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"}}`, wantErr: ErrUnavailable},
		{name: "very long Vault error", status: 400, body: `{"errors":["` + long + `"]}`, wantErr: ErrRejected, parts: []string{"Vault says no.", "…"}},
		{name: "very long Vault error on 500", status: 500, body: `{"errors":["` + long + `"]}`, wantErr: ErrUnavailable, parts: []string{"…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeVerify(tt.status, []byte(tt.body))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("decodeVerify: %v", err)
				}
				if got != tt.want {
					t.Fatalf("decodeVerify = %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("decodeVerify = %+v, want an error wrapping %v", got, tt.wantErr)
			}
			if kind := errKind(t, err); kind != tt.wantErr {
				t.Errorf("decodeVerify error %q wraps %v, want %v", err, kind, tt.wantErr)
			}
			if got != (Answer{}) {
				t.Errorf("decodeVerify returned %+v with its error, want the zero Answer", got)
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not contain %q", err, p)
				}
			}
			for _, p := range tt.absent {
				if strings.Contains(err.Error(), p) {
					t.Errorf("error %q contains %q", err, p)
				}
			}
			// Operators grep for this prefix.
			if tt.wantErr == ErrRejected && !strings.HasPrefix(err.Error(), "OTP rejected: Vault says HTTP 400") {
				t.Errorf("error %q does not start with \"OTP rejected: Vault says HTTP 400\"", err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error text is %d bytes long, want a truncated message: %.100q…", len(err.Error()), err)
			}
		})
	}
}

// TestDecodeEcho checks the answer to the echo probe.
func TestDecodeEcho(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
	}{
		{"echo response", 200, `{"data":{"message":"verify-echo-response"}}`, nil},
		{"other message", 200, `{"data":{"message":"hello"}}`, ErrUnavailable},
		{"message a number", 200, `{"data":{"message":1}}`, ErrUnavailable},
		{"verify answer", 200, `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"}}`, ErrUnavailable},
		{"data null", 200, `{"data":null}`, ErrUnavailable},
		{"no data", 200, `{}`, ErrUnavailable},
		{"data a string", 200, `{"data":"verify-echo-response"}`, ErrUnavailable},
		{"not JSON", 200, `verify-echo-response`, ErrUnavailable},
		{"400", 400, `{"errors":["OTP not found"]}`, ErrRejected},
		{"403", 403, `{"errors":["permission denied"]}`, ErrUnavailable},
		{"404", 404, ``, ErrUnavailable},
		{"503", 503, `{"errors":["Vault is sealed"]}`, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeEcho(tt.status, []byte(tt.body))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("decodeEcho: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decodeEcho succeeded, want an error wrapping %v", tt.wantErr)
			}
			if kind := errKind(t, err); kind != tt.wantErr {
				t.Errorf("decodeEcho error %q wraps %v, want %v", err, kind, tt.wantErr)
			}
			if tt.wantErr == ErrRejected && err.Error() != "OTP rejected: Vault says HTTP 400: OTP not found" {
				t.Errorf("decodeEcho error %q, want \"OTP rejected: Vault says HTTP 400: OTP not found\"", err)
			}
		})
	}
}

// TestDecodeEnvelope checks the classification of answers by status alone.
func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		status  int
		body    string
		wantErr error
	}{
		{http.StatusOK, `{"data":{"x":1}}`, nil},
		{http.StatusOK, `{"data":{}}`, nil},
		{http.StatusOK, `{"data":null}`, ErrUnavailable},
		{http.StatusOK, `{}`, ErrUnavailable},
		{http.StatusOK, ``, ErrUnavailable},
		{http.StatusBadRequest, `{"errors":["OTP not found"]}`, ErrRejected},
		{http.StatusBadRequest, `<html>`, ErrRejected},
		{http.StatusUnauthorized, `{"errors":["x"]}`, ErrUnavailable},
		{http.StatusForbidden, `{"errors":["permission denied"]}`, ErrUnavailable},
		{http.StatusNotFound, ``, ErrUnavailable},
		{http.StatusMethodNotAllowed, ``, ErrUnavailable},
		{http.StatusTooManyRequests, `{"errors":["rate limit quota exceeded"]}`, ErrUnavailable},
		{http.StatusInternalServerError, `{"errors":["x"]}`, ErrUnavailable},
		{http.StatusBadGateway, ``, ErrUnavailable},
		{http.StatusServiceUnavailable, `{"errors":["Vault is sealed"]}`, ErrUnavailable},
		{http.StatusGatewayTimeout, ``, ErrUnavailable},
		{http.StatusTemporaryRedirect, `{"data":{"x":1}}`, ErrUnavailable},
		{http.StatusPermanentRedirect, ``, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			_, err := decodeEnvelope(tt.status, []byte(tt.body))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("decodeEnvelope(%d, %s): %v", tt.status, tt.body, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decodeEnvelope(%d, %s) succeeded, want %v", tt.status, tt.body, tt.wantErr)
			}
			if kind := errKind(t, err); kind != tt.wantErr {
				t.Errorf("decodeEnvelope(%d) error %q wraps %v, want %v", tt.status, err, kind, tt.wantErr)
			}
		})
	}
}

// TestTruncate checks the bound on Vault's messages in error texts.
func TestTruncate(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"OTP not found", "OTP not found"},
		{strings.Repeat("x", 200), strings.Repeat("x", 200)},
		{strings.Repeat("x", 201), strings.Repeat("x", 200) + "…"},
		{strings.Repeat("x", 5000), strings.Repeat("x", 200) + "…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in); got != tt.want {
			t.Errorf("truncate(%d bytes) = %d bytes %.20q…, want %d bytes", len(tt.in), len(got), got, len(tt.want))
		}
	}
}

// FuzzDecodeVerify checks that no answer makes decodeVerify panic, that a
// success always names a user, an IP and a role, and that every error has
// exactly one kind.
func FuzzDecodeVerify(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"data":{"username":"alice","ip":"10.1.2.3","role_name":"otp"}}`},
		{200, `{"data":{"username":"","ip":"10.1.2.3","role_name":"otp"}}`},
		{200, `{"data":{"username":1,"ip":{},"role_name":[]}}`},
		{200, `{"data":null}`},
		{200, `{"data":"x"}`},
		{200, `{"errors":"x"}`},
		{200, `[]`},
		{200, ``},
		{400, `{"errors":["OTP not found"]}`},
		{400, `not json`},
		{403, `{"errors":["permission denied"]}`},
		{404, ``},
		{429, `{}`},
		{500, `{"errors":["` + strings.Repeat("é", 300) + `"]}`},
		{503, `{"errors":["Vault is sealed"]}`},
		{307, ``},
		{0, `{}`},
		{-1, `{}`},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		a, err := decodeVerify(status, body)
		if err == nil {
			if status != http.StatusOK {
				t.Fatalf("decodeVerify(%d, %q) succeeded with a status other than 200", status, body)
			}
			if a.Username == "" || a.IP == "" || a.Role == "" {
				t.Fatalf("decodeVerify(%d, %q) = %+v: success with an empty field", status, body, a)
			}
			return
		}
		if a != (Answer{}) {
			t.Fatalf("decodeVerify(%d, %q) = %+v with error %v", status, body, a, err)
		}
		rejected, unavailable := errors.Is(err, ErrRejected), errors.Is(err, ErrUnavailable)
		if rejected == unavailable || errors.Is(err, ErrConfig) {
			t.Fatalf("decodeVerify(%d, %q) error %q: rejected=%v unavailable=%v config=%v, want exactly one of the first two",
				status, body, err, rejected, unavailable, errors.Is(err, ErrConfig))
		}
		if rejected && status != http.StatusBadRequest {
			t.Fatalf("decodeVerify(%d, %q) rejected the OTP on a status other than 400: %v", status, body, err)
		}
		if err.Error() == "" {
			t.Fatalf("decodeVerify(%d, %q) gave an empty error text", status, body)
		}
	})
}
