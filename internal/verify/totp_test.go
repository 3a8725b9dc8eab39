package verify

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIsTOTPCode(t *testing.T) {
	for s, want := range map[string]bool{
		"123456": true, "000000": true, "12345678": true, "00000000": true,
		"": false, "12345": false, "1234567": false, "123456789": false,
		"12345a": false, " 123456": false, "123456\n": false, "123 456": false,
		"１２３４５６": false, "١٢٣٤٥٦": false, "+12345": false, "-12345": false,
		"0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f": false, "hunter2": false,
	} {
		if got := IsTOTPCode(s); got != want {
			t.Errorf("IsTOTPCode(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzIsTOTPCode holds IsTOTPCode to its definition.
func FuzzIsTOTPCode(f *testing.F) {
	for _, s := range []string{"123456", "12345678", "1234567", "12345a", "١٢٣٤٥٦"} {
		f.Add(s)
	}
	digits := regexp.MustCompile(`^([0-9]{6}|[0-9]{8})$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsTOTPCode(s), digits.MatchString(s); got != want {
			t.Fatalf("IsTOTPCode(%q) = %v, want %v", s, got, want)
		}
	})
}

// otpWord matches the word OTP, which TOTP mode's errors never use: there
// is no OTP in that mode.
var otpWord = regexp.MustCompile(`\bOTP\b`)

// TestDecodeCode checks how an answer to a code becomes nil or an error of
// the right kind and reason, with Vault 1.21's answers as measured.
func TestDecodeCode(t *testing.T) {
	c := &Client{totpMount: "totp", token: "hvs.x"}
	proxied := &Client{totpMount: "mfa/totp", socket: "/run/p.sock"}
	tests := []struct {
		name   string
		client *Client
		status int
		body   string
		kind   error // nil for a valid code
		reason error // ErrWrongCode, ErrCodeUsed, ErrUnknownKey or nil
		parts  []string
	}{
		{"valid", c, 200, `{"request_id":"r","data":{"valid":true},"warnings":null}`, nil, nil, nil},
		{"wrong", c, 200, `{"data":{"valid":false}}`, ErrRejected, ErrWrongCode, []string{"code rejected: not this user's current code"}},
		{"used", c, 400, `{"errors":["code already used; wait until the next time period"]}`, ErrRejected, ErrCodeUsed, []string{"code rejected: already used; Vault takes each code once"}},
		{"unknown key", c, 400, `{"errors":["unknown key: alice"]}`, ErrRejected, ErrUnknownKey, []string{"code rejected: no TOTP key for this user in Vault"}},
		{"unknown key of another name", c, 400, `{"errors":["unknown key: bob"]}`, ErrRejected, nil, []string{"code rejected: Vault says HTTP 400: unknown key: bob"}},
		{"another 400", c, 400, `{"errors":["the code value is required"]}`, ErrRejected, nil, []string{"code rejected: Vault says HTTP 400: the code value is required"}},
		{"token refused", c, 403, `{"errors":["permission denied"]}`, ErrUnavailable, nil,
			[]string{"Vault refused the token (HTTP 403: permission denied)", "update on totp/code/*"}},
		{"Vault Proxy's token refused", proxied, 403, `{"errors":["permission denied"]}`, ErrUnavailable, nil,
			[]string{"Vault refused the token Vault Proxy added", "update on mfa/totp/code/*"}},
		{"no engine at the mount", c, 404, `{"errors":["no handler for route \"totp/code/alice\". route entry not found."]}`, ErrUnavailable, nil,
			[]string{"no TOTP secrets engine answers at totp_mount_point totp"}},
		{"sealed", c, 503, `{"errors":["Vault is sealed"]}`, ErrUnavailable, nil, []string{"sealed"}},
		{"rate limited", c, 429, `{"errors":["request path \"totp/code/alice\": rate limit quota exceeded"]}`, ErrUnavailable, nil, []string{"HTTP 429", "rate limit quota exceeded"}},
		{"500", c, 500, `{"errors":["internal error"]}`, ErrUnavailable, nil, nil},
		{"no data", c, 200, `{"request_id":"r"}`, ErrUnavailable, nil, []string{"no data"}},
		{"data empty", c, 200, `{"data":{}}`, ErrUnavailable, nil, []string{"data.valid is missing"}},
		{"valid null", c, 200, `{"data":{"valid":null}}`, ErrUnavailable, nil, []string{"data.valid is missing"}},
		{"valid a string", c, 200, `{"data":{"valid":"true"}}`, ErrUnavailable, nil, []string{"data.valid is a JSON", "not true or false"}},
		{"valid a number", c, 200, `{"data":{"valid":1}}`, ErrUnavailable, nil, []string{"data.valid is a JSON", "not true or false"}},
		{"data an array", c, 200, `{"data":[true]}`, ErrUnavailable, nil, nil},
		{"the generate answer", c, 200, `{"data":{"code":"123456"}}`, ErrUnavailable, nil, []string{"data.valid is missing"}},
		{"HTML", c, 200, `<html>valid</html>`, ErrUnavailable, nil, []string{"not JSON"}},
		{"400 not JSON", c, 400, `bad request`, ErrRejected, nil, []string{"code rejected: Vault says HTTP 400"}},
		{"valid twice", c, 200, `{"data":{"valid":false,"valid":true}}`, ErrUnavailable, nil, []string{"duplicate key"}},
		{"Valid in another case", c, 200, `{"data":{"Valid":true}}`, ErrUnavailable, nil, []string{"in case only"}},
		{"errors beside valid data", c, 200, `{"data":{"valid":true},"errors":["no"]}`, ErrUnavailable, nil, []string{"errors beside its data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.client.decodeCode(tt.status, []byte(tt.body), "alice")
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("decodeCode = %v, want valid", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decodeCode = nil (valid), want %v", tt.kind)
			}
			if k := errKind(t, err); k != tt.kind {
				t.Errorf("kind %v, want %v: %v", k, tt.kind, err)
			}
			for _, r := range []error{ErrWrongCode, ErrCodeUsed, ErrUnknownKey} {
				if errors.Is(err, r) != (r == tt.reason) {
					t.Errorf("errors.Is(%q, %q) = %v", err, r, !(r == tt.reason))
				}
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not contain %q", err, p)
				}
			}
			// A refused code is a code, never an OTP, in what the log says;
			// "TOTP" is the mode's name.
			if tt.kind == ErrRejected && (!strings.HasPrefix(err.Error(), "code rejected: ") || otpWord.MatchString(err.Error())) {
				t.Errorf("error %q does not start with \"code rejected: \" or speaks of an OTP", err)
			}
		})
	}
}

// codeServer is an HTTP server for what a real Vault never does: it
// records each request and answers with body.
type codeServer struct {
	mu   sync.Mutex
	seen []*http.Request
	body string
}

func (s *codeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(b)))
	s.mu.Lock()
	s.seen = append(s.seen, r)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, s.body)
}

func (s *codeServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.seen...)
}

// serveUnix serves h on a new unix socket of mode 0600 in a directory of
// its own and returns the socket's path.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "pv-sock-") // short: sun_path holds 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "p.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return path
}

// TestValidateCodeRequest checks the request the client sends: PUT to
// /v1/<totp_mount_point>/code/<user> with the code alone in the body, and
// X-Vault-Token only when a token was given, whatever VAULT_TOKEN says;
// through a Vault Proxy socket, no token at all.
func TestValidateCodeRequest(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "hostile-token")
	t.Setenv("VAULT_AGENT_ADDR", "http://127.0.0.1:1")
	srv := &codeServer{body: `{"data":{"valid":true}}`}

	socket := serveUnix(t, srv)
	c := newTestClient(t, "unix://"+socket, `totp_mount_point = "mfa/totp"`)
	if err := c.ValidateCode(context.Background(), "alice@example.com", "123456"); err != nil {
		t.Fatalf("ValidateCode through the socket: %v", err)
	}
	tcp := newLocalServer(t, srv)
	c = newTestClient(t, tcp)
	if err := c.WithToken("hvs.file-token").ValidateCode(context.Background(), "bob", "12345678"); err != nil {
		t.Fatalf("ValidateCode with a token: %v", err)
	}
	seen := srv.requests()
	if len(seen) != 2 {
		t.Fatalf("the server saw %d requests, want 2", len(seen))
	}
	for i, want := range []struct{ path, token, body string }{
		{"/v1/mfa/totp/code/alice@example.com", "", `{"code":"123456"}`},
		{"/v1/totp/code/bob", "hvs.file-token", `{"code":"12345678"}`},
	} {
		r := seen[i]
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPut || r.URL.Path != want.path || string(body) != want.body {
			t.Errorf("request %d: %s %s %s, want PUT %s %s", i, r.Method, r.URL.Path, body, want.path, want.body)
		}
		if got := r.Header.Get("X-Vault-Token"); got != want.token {
			t.Errorf("request %d: X-Vault-Token %q, want %q", i, got, want.token)
		}
	}
}

// TestValidateCodeNeverEchoesTheCode: a server that is not Vault may send
// the code back in its errors; the error text must not carry it.
func TestValidateCodeNeverEchoesTheCode(t *testing.T) {
	for _, body := range []string{`{"errors":["code 493817 is wrong"]}`, `{"data":{"valid":"493817"}}`} {
		srv := &codeServer{body: body}
		c := newTestClient(t, newLocalServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(body, `{"errors"`) {
				w.WriteHeader(http.StatusBadRequest)
			}
			srv.ServeHTTP(w, r)
		})))
		err := c.ValidateCode(context.Background(), "alice", "493817")
		if err == nil || strings.Contains(err.Error(), "493817") {
			t.Errorf("ValidateCode = %v; want an error without the code", err)
		}
		if err != nil && !errors.Is(err, ErrRejected) && !errors.Is(err, ErrUnavailable) {
			t.Errorf("the redacted error %v lost its kind", err)
		}
	}
}

// newLocalServer serves h on loopback over plain http and returns its
// address.
func newLocalServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestClientRefusesAnUnsafeSocket: a Vault Proxy socket that others may
// write is a configuration error before any request; a missing one is
// left to the connection, which reports Vault unavailable.
func TestClientRefusesAnUnsafeSocket(t *testing.T) {
	socket := serveUnix(t, &codeServer{body: `{"data":{"valid":true}}`})
	if err := os.Chmod(socket, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := NewClient(parseConfig(t, `vault_addr = "unix://`+socket+`"`))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("NewClient with a 0777 socket = %v, want ErrConfig", err)
	}
	c, err := NewClient(parseConfig(t, `vault_addr = "unix://`+filepath.Dir(socket)+`/absent.sock"`))
	if err != nil {
		t.Fatalf("NewClient with a missing socket: %v", err)
	}
	err = c.ValidateCode(context.Background(), "alice", "123456")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "absent.sock") {
		t.Fatalf("ValidateCode through a missing socket = %v, want ErrUnavailable naming it", err)
	}
}
