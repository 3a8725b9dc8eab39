package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// otp is an OTP-shaped token; no Vault in these tests knows it.
const otp = "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f"

// writeConfig writes content to a config file of mode 0600 in a new
// temporary directory and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.hcl")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// caFile writes a self-signed CA certificate to a PEM file and returns its
// path, so that configs need not rely on the host's CA bundle.
func caFile(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "engine test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDecide runs Decide on requests that need no Vault: configuration
// errors, bad input, and a Vault that cannot be reached.
func TestDecide(t *testing.T) {
	ca := caFile(t)
	closed := "http://" + closedAddr(t)
	good := writeConfig(t, "vault_addr = "+strconv.Quote(closed)+"\nca_cert = "+strconv.Quote(ca)+"\nallowed_roles = \"*\"\ntimeout = \"2s\"\n")
	https := writeConfig(t, "vault_addr = \"https://"+closedAddr(t)+"\"\nca_cert = "+strconv.Quote(ca)+"\ntimeout = \"2s\"\n")
	missing := filepath.Join(t.TempDir(), "missing.hcl")
	unknownKey := writeConfig(t, "vault_addr = \"https://v:8200\"\nvault_token = \"s.hunter2\"\n")
	groupWritable := writeConfig(t, "vault_addr = \"https://v:8200\"\n")
	if err := os.Chmod(groupWritable, 0o620); err != nil {
		t.Fatal(err)
	}
	// The CA files are read only for an https address.
	badCA := writeConfig(t, "vault_addr = "+strconv.Quote(strings.Replace(closed, "http:", "https:", 1))+"\nca_cert = "+strconv.Quote(missing)+"\n")
	httpBadCA := writeConfig(t, "vault_addr = "+strconv.Quote(closed)+"\nca_cert = "+strconv.Quote(missing)+"\n")

	tests := []struct {
		name    string
		req     Request
		want    Result
		parts   []string // substrings of the log line
		absent  []string // substrings the log line must not hold
		wantMsg bool     // a message for the user
	}{
		{
			name:  "missing config file",
			req:   Request{Args: []string{"config=" + missing}, User: "alice", Token: "hunter2"},
			want:  ServiceErr,
			parts: []string{"configuration error", missing, "no such file"},
		},
		{
			name:  "relative config path",
			req:   Request{Args: []string{"config=etc/config.hcl"}, User: "alice", Token: otp},
			want:  ServiceErr,
			parts: []string{"absolute"},
		},
		{
			name:  "empty config path",
			req:   Request{Args: []string{"config="}, User: "alice", Token: otp},
			want:  ServiceErr,
			parts: []string{"config="},
		},
		{
			name:  "unknown key",
			req:   Request{Args: []string{"config=" + unknownKey}, User: "alice", Token: otp},
			want:  ServiceErr,
			parts: []string{unknownKey + ":2:", "vault_token"},
		},
		{
			name:  "group-writable config file",
			req:   Request{Args: []string{"config=" + groupWritable}, User: "alice", Token: otp},
			want:  ServiceErr,
			parts: []string{groupWritable, "writable"},
		},
		{
			name:  "malformed SSH_CONNECTION: refused before Vault is asked",
			req:   Request{Args: []string{"config=" + good, "dev"}, User: "alice", Token: otp, SSHConnection: "UNKNOWN 65535 UNKNOWN 65535"},
			want:  AuthErr,
			parts: []string{"authentication failure", "Vault was not asked", `SSH_CONNECTION's client address \"UNKNOWN\" is not an IP address`},
		},
		{
			name:    "well-formed SSH_CONNECTION: Vault is asked",
			req:     Request{Args: []string{"config=" + good, "dev"}, User: "alice", Token: otp, SSHConnection: "10.0.0.1 50022 10.0.0.2 22"},
			want:    Unavailable,
			parts:   []string{"Vault unavailable", "connection refused"},
			wantMsg: true,
		},
		{
			name:  "http without dev",
			req:   Request{Args: []string{"config=" + good}, User: "alice", Token: otp},
			want:  ServiceErr,
			parts: []string{good + ":1:", "dev"},
		},
		{
			name:   "unusable ca_cert",
			req:    Request{Args: []string{"config=" + badCA, "dev"}, User: "alice", Token: otp},
			want:   ServiceErr,
			parts:  []string{"ca_cert"},
			absent: []string{otp},
		},
		{
			name:    "ca_cert ignored for plain http",
			req:     Request{Args: []string{"config=" + httpBadCA, "dev"}, User: "alice", Token: otp},
			want:    Unavailable,
			parts:   []string{"connection refused"},
			absent:  []string{otp, "ca_cert"},
			wantMsg: true,
		},
		{
			name:  "empty user",
			req:   Request{Args: []string{"config=" + good, "dev"}, User: "", Token: otp},
			want:  AuthErr,
			parts: []string{"authentication failure", "no user name"},
		},
		{
			name:  "password instead of an OTP",
			req:   Request{Args: []string{"config=" + good, "dev"}, User: "alice", Token: "hunter2", RemoteHost: "192.0.2.7", Service: "sshd"},
			want:  AuthErr,
			parts: []string{"authentication failure", "user=alice", "rhost=192.0.2.7", "Vault was not asked"},
		},
		{
			name:  "empty token",
			req:   Request{Args: []string{"config=" + good, "dev"}, User: "alice", Token: ""},
			want:  AuthErr,
			parts: []string{"Vault was not asked"},
		},
		{
			name:  "OTP with a trailing newline",
			req:   Request{Args: []string{"config=" + good, "dev"}, User: "alice", Token: otp + "\n"},
			want:  AuthErr,
			parts: []string{"Vault was not asked"},
		},
		{
			name:  "long password",
			req:   Request{Args: []string{"config=" + good, "dev"}, User: "alice", Token: "correct horse battery staple, 36 chr"},
			want:  AuthErr,
			parts: []string{"Vault was not asked"},
		},
		{
			name:    "Vault unreachable",
			req:     Request{Args: []string{"config=" + good, "dev"}, User: "alice", Token: otp, RemoteHost: "192.0.2.7"},
			want:    Unavailable,
			parts:   []string{"Vault unavailable", "user=alice", "rhost=192.0.2.7", "reason="},
			absent:  []string{"elapsed=", "vault=", "ignored="},
			wantMsg: true,
		},
		{
			name:    "Vault unreachable over https",
			req:     Request{Args: []string{"config=" + https}, User: "alice", Token: otp},
			want:    Unavailable,
			wantMsg: true,
		},
		{
			name:    "unknown module argument",
			req:     Request{Args: []string{"config=" + good, "dev", "frobnicate", "use_first_pass"}, User: "alice", Token: otp},
			want:    Unavailable,
			parts:   []string{"ignored=", "frobnicate"},
			absent:  []string{"use_first_pass"},
			wantMsg: true,
		},
		{
			name:  "unknown module argument on a config error",
			req:   Request{Args: []string{"frobnicate", "config=" + missing}, User: "alice", Token: otp},
			want:  ServiceErr,
			parts: []string{"ignored=", "frobnicate"},
		},
		{
			name:    "debug",
			req:     Request{Args: []string{"config=" + good, "dev", "debug"}, User: "alice", Token: otp},
			want:    Unavailable,
			parts:   []string{" elapsed=", " vault=" + closed},
			wantMsg: true,
		},
		{
			name:  "debug on a rejected token",
			req:   Request{Args: []string{"debug", "config=" + good, "dev"}, User: "alice", Token: "hunter2"},
			want:  AuthErr,
			parts: []string{" elapsed=", " vault="},
		},
		{
			name:   "debug on a config error",
			req:    Request{Args: []string{"debug", "config=" + missing}, User: "alice", Token: "hunter2"},
			want:   ServiceErr,
			parts:  []string{" elapsed="},
			absent: []string{"vault="},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			v := Decide(ctx, tt.req)
			// Prepared before the token is known, as the PAM module does,
			// and connected early: the same verdict, word for word but
			// for the time it took.
			p := Prepare(tt.req.Args)
			p.Connect()
			early := p.Decide(ctx, tt.req)
			if early.Result != v.Result || early.Message != v.Message || withoutElapsed(early.Log) != withoutElapsed(v.Log) {
				t.Errorf("prepared early: %+v\nwhole: %+v", early, v)
			}
			if v.Result != tt.want {
				t.Errorf("Result = %s, want %s; log: %s", v.Result.PAMName(), tt.want.PAMName(), v.Log)
			}
			if tt.req.Token != "" {
				if strings.Contains(v.Log, tt.req.Token) {
					t.Errorf("log holds the token %q: %s", tt.req.Token, v.Log)
				}
				if strings.Contains(v.Message, tt.req.Token) {
					t.Errorf("message holds the token %q: %s", tt.req.Token, v.Message)
				}
			}
			for _, p := range tt.parts {
				if !strings.Contains(v.Log, p) {
					t.Errorf("log does not contain %q: %s", p, v.Log)
				}
			}
			for _, p := range tt.absent {
				if strings.Contains(v.Log, p) {
					t.Errorf("log contains %q: %s", p, v.Log)
				}
			}
			if tt.wantMsg && v.Message == "" {
				t.Errorf("no message for the user")
			}
			if !tt.wantMsg && v.Message != "" {
				t.Errorf("message %q, want none", v.Message)
			}
			if strings.ContainsAny(v.Log, "\n\r\x00") {
				t.Errorf("log is not one line: %q", v.Log)
			}
			if len(v.Log) > MaxLog {
				t.Logf("log is %d bytes; the adapter keeps %d", len(v.Log), MaxLog)
			}
		})
	}
}

// withoutElapsed drops the debug field elapsed= from a log line.
func withoutElapsed(line string) string {
	i := strings.Index(line, " elapsed=")
	if i < 0 {
		return line
	}
	j := strings.IndexByte(line[i+1:], ' ')
	if j < 0 {
		return line[:i]
	}
	return line[:i] + line[i+1+j:]
}

// TestPrepareCancel: what Connect opened before the prompt carries nothing
// Vault could read until a token of the right shape comes. A login given
// up (Close, twice) and a login whose token is a password, or not a code,
// close the connection with not one byte written on it (DESIGN.md
// invariant 3: a typed password goes nowhere).
func TestPrepareCancel(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("hvs.ExampleToken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		extra string // more of the config
		end   func(p *Prepared)
	}{
		{"given up", nil, "", func(p *Prepared) { p.Close(); p.Close() }},
		{"a password for an OTP", nil, "", func(p *Prepared) {
			if v := p.Decide(context.Background(), Request{User: "alice", Token: "hunter2"}); v.Result != AuthErr {
				t.Errorf("Decide = %v, want AuthErr", v.Result)
			}
		}},
		{"not a code in TOTP mode", []string{"totp"}, "token_file = " + strconv.Quote(token) + "\n", func(p *Prepared) {
			if v := p.Decide(context.Background(), Request{User: "alice", Token: "12345"}); v.Result != AuthErr {
				t.Errorf("Decide = %v, want AuthErr", v.Result)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				if c, err := ln.Accept(); err == nil {
					accepted <- c
				}
			}()
			cfg := writeConfig(t, "vault_addr = \"http://"+ln.Addr().String()+"\"\nallowed_roles = \"*\"\n"+tc.extra)
			p := Prepare(append([]string{"config=" + cfg, "dev"}, tc.args...))
			p.Connect()
			var conn net.Conn
			select {
			case conn = <-accepted:
			case <-time.After(10 * time.Second):
				t.Fatal("Connect did not connect")
			}
			defer conn.Close()
			tc.end(p)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := conn.Read(make([]byte, 1))
			if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the server read %d bytes, %v; want the connection closed with nothing sent", n, err)
			}
		})
	}
}

// TestResultPAMName checks the PAM code each result becomes.
func TestResultPAMName(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Success, "PAM_SUCCESS"},
		{AuthErr, "PAM_AUTH_ERR"},
		{Unavailable, "PAM_AUTHINFO_UNAVAIL"},
		{ServiceErr, "PAM_SERVICE_ERR"},
		{Ignore, "PAM_IGNORE"},
		{Result(5), "PAM_SERVICE_ERR"},
		{Result(-1), "PAM_SERVICE_ERR"},
		{Result(1 << 30), "PAM_SERVICE_ERR"},
	}
	for _, tt := range tests {
		if got := tt.r.PAMName(); got != tt.want {
			t.Errorf("Result(%d).PAMName() = %q, want %q", int(tt.r), got, tt.want)
		}
	}
	// The values are shared with cgo/pam_vault_engine.h.
	for r, want := range map[Result]int{Success: 0, AuthErr: 1, Unavailable: 2, ServiceErr: 3, Ignore: 4} {
		if int(r) != want {
			t.Errorf("%s = %d, want %d", r.PAMName(), int(r), want)
		}
	}
}

func TestFailure(t *testing.T) {
	v := Failure(errors.New("request is truncated"))
	if v.Result != ServiceErr || v.Log != `configuration error; user= rhost= reason="request is truncated"` || v.Message != "" {
		t.Fatalf("Failure = %+v", v)
	}
}

// TestDecideTOTP runs Decide's TOTP branch on requests that need no Vault:
// a config without a token source, codes and user names of the wrong
// shape, token files that cannot be used, and a Vault that cannot be
// reached. What a real Vault answers is test/pamtester's business.
func TestDecideTOTP(t *testing.T) {
	closed := "http://" + closedAddr(t)
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	const secret = "hvs.ExampleTokenThatMustNeverBeLogged"
	if err := os.WriteFile(token, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	readable := filepath.Join(dir, "readable-token")
	if err := os.WriteFile(readable, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(readable, 0o644); err != nil {
		t.Fatal(err)
	}
	base := "vault_addr = " + strconv.Quote(closed) + "\ntimeout = \"2s\"\n"
	good := writeConfig(t, base+"token_file = "+strconv.Quote(token)+"\n")
	noToken := writeConfig(t, base)
	missingToken := writeConfig(t, base+"token_file = "+strconv.Quote(filepath.Join(dir, "absent"))+"\n")
	unsafeToken := writeConfig(t, base+"token_file = "+strconv.Quote(readable)+"\n")
	proxy := writeConfig(t, "vault_addr = \"unix://"+filepath.Join(dir, "no-proxy.sock")+"\"\ntimeout = \"2s\"\n")
	args := func(cfg string, more ...string) []string {
		return append([]string{"totp", "config=" + cfg, "dev"}, more...)
	}

	tests := []struct {
		name    string
		req     Request
		want    Result
		parts   []string
		wantMsg string
	}{
		{"no token source", Request{Args: args(noToken), User: "alice", Token: "123456"}, ServiceErr,
			[]string{"configuration error", noToken, "set token_file"}, ""},
		{"a password", Request{Args: args(good), User: "alice", Token: "hunter2"}, AuthErr,
			[]string{"not a 6- or 8-digit code; Vault was not asked"}, ""},
		{"an OTP", Request{Args: args(good), User: "alice", Token: otp}, AuthErr,
			[]string{"not a 6- or 8-digit code"}, ""},
		{"five digits", Request{Args: args(good), User: "alice", Token: "12345"}, AuthErr, []string{"Vault was not asked"}, ""},
		{"seven digits", Request{Args: args(good), User: "alice", Token: "1234567"}, AuthErr, []string{"Vault was not asked"}, ""},
		{"nine digits", Request{Args: args(good), User: "alice", Token: "123456789"}, AuthErr, []string{"Vault was not asked"}, ""},
		{"a code with a space", Request{Args: args(good), User: "alice", Token: "123 456"}, AuthErr, []string{"Vault was not asked"}, ""},
		{"Arabic-Indic digits", Request{Args: args(good), User: "alice", Token: "١٢٣٤٥٦"}, AuthErr, []string{"Vault was not asked"}, ""},
		{"empty code", Request{Args: args(good), User: "alice", Token: ""}, AuthErr, []string{"Vault was not asked"}, ""},
		{"user name with a slash", Request{Args: args(good), User: "alice/../bob", Token: "123456"}, AuthErr,
			[]string{"user name cannot name a Vault TOTP key", "Vault was not asked"}, ""},
		{"user name ending in a dot", Request{Args: args(good), User: "alice.", Token: "123456"}, AuthErr,
			[]string{"Vault was not asked"}, ""},
		{"non-ASCII user name", Request{Args: args(good), User: "zoë", Token: "123456"}, AuthErr,
			[]string{"Vault was not asked"}, ""},
		{"token file missing", Request{Args: args(missingToken), User: "alice", Token: "123456"}, ServiceErr,
			[]string{"configuration error", "token_file: ", "no such file"}, ""},
		{"token file readable by others", Request{Args: args(unsafeToken), User: "alice", Token: "123456"}, ServiceErr,
			[]string{"token_file: ", readable, "readable by others"}, ""},
		{"Vault unreachable", Request{Args: args(good), User: "alice", Token: "123456"}, Unavailable,
			[]string{"Vault unavailable", "connection refused"}, unavailableCodeMessage},
		{"Vault Proxy socket missing", Request{Args: args(proxy), User: "alice", Token: "12345678"}, Unavailable,
			[]string{"Vault unavailable", "no-proxy.sock"}, unavailableCodeMessage},
		{"nullok does not hide an unreachable Vault", Request{Args: args(good, "nullok"), User: "alice", Token: "123456"}, Unavailable,
			[]string{"Vault unavailable"}, unavailableCodeMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Decide(context.Background(), tt.req)
			if v.Result != tt.want {
				t.Errorf("Result = %s, want %s; log: %s", v.Result.PAMName(), tt.want.PAMName(), v.Log)
			}
			for _, p := range tt.parts {
				if !strings.Contains(v.Log, p) {
					t.Errorf("log does not contain %q: %s", p, v.Log)
				}
			}
			if v.Message != tt.wantMsg {
				t.Errorf("message %q, want %q", v.Message, tt.wantMsg)
			}
			for _, s := range []string{tt.req.Token, secret} {
				if s != "" && (strings.Contains(v.Log, s) || strings.Contains(v.Message, s)) {
					t.Errorf("the verdict holds %q: %+v", s, v)
				}
			}
		})
	}
}
