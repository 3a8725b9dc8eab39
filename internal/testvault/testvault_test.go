package testvault

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func TestServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{{"plain", Options{}}, {"tls", Options{TLS: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := StartT(t, tc.opts)
			checkServer(t, s, tc.opts)
		})
	}
}

func checkServer(t *testing.T, s *Server, opts Options) {
	wantScheme := "http://127.0.0.1:"
	if opts.TLS {
		wantScheme = "https://127.0.0.1:"
		if _, err := os.Stat(s.CACert); err != nil {
			t.Fatalf("CACert: %v", err)
		}
	} else if s.CACert != "" {
		t.Errorf("CACert = %q without TLS, want empty", s.CACert)
	}
	if !strings.HasPrefix(s.Addr, wantScheme) {
		t.Errorf("Addr = %q, want prefix %q", s.Addr, wantScheme)
	}

	audit := filepath.Join(s.Dir, "audit.log")
	if err := s.EnableFileAudit(audit); err != nil {
		t.Fatal(err)
	}
	if s.AuditLog() != audit {
		t.Errorf("AuditLog() = %q, want %q", s.AuditLog(), audit)
	}
	if err := s.EnableSSH("ssh"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteOTPRole("ssh", "otp_key_role", "alice", "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}

	otp, err := s.IssueOTP("ssh", "otp_key_role", "alice", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(otp) != 36 || !uuidRE.MatchString(otp) {
		t.Fatalf("OTP %q is not a 36-character UUID", otp)
	}

	hc := plainClient(t, s.CACert)
	status, body := verify(t, hc, s.Addr, otp)
	if status != http.StatusOK {
		t.Fatalf("verify: HTTP %d: %s", status, body)
	}
	var ok struct {
		Data struct {
			Username string `json:"username"`
			IP       string `json:"ip"`
			RoleName string `json:"role_name"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ok); err != nil {
		t.Fatalf("verify answer %s: %v", body, err)
	}
	if ok.Data.Username != "alice" || ok.Data.IP != "127.0.0.1" || ok.Data.RoleName != "otp_key_role" {
		t.Errorf("verify data = %+v, want alice, 127.0.0.1, otp_key_role", ok.Data)
	}

	status, body = verify(t, hc, s.Addr, otp)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "OTP not found") {
		t.Errorf("second verify: HTTP %d: %s; want 400 OTP not found", status, body)
	}

	waitForFile(t, audit, otp)

	_, err = s.IssueOTP("ssh", "otp_key_role", "alice", "192.0.2.7")
	if err == nil {
		t.Error("issuing an OTP for an IP outside cidr_list succeeded")
	} else {
		var ve *Error
		if !errors.As(err, &ve) || ve.StatusCode/100 != 4 || len(ve.Errors) == 0 {
			t.Errorf("issue outside cidr_list: %v; want a 4xx *Error with Vault's errors", err)
		}
		t.Logf("outside cidr_list: %v", err)
	}
}

// plainClient is an independent net/http client: no proxy, trusting caFile.
func plainClient(t *testing.T, caFile string) *http.Client {
	tr := &http.Transport{Proxy: nil}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatal("no certificate in CA file")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// verify sends the unauthenticated OTP verify call.
func verify(t *testing.T, hc *http.Client, addr, otp string) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"otp": otp})
	req, err := http.NewRequest(http.MethodPut, addr+"/v1/ssh/verify", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// waitForFile waits briefly for path to contain want.
func waitForFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not mention %q (read error: %v, %d bytes)", path, want, err, len(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStopAndClose(t *testing.T) {
	s := StartT(t, Options{})
	hc := plainClient(t, "")
	s.Stop()
	s.Stop()
	if _, err := hc.Get(s.Addr + "/v1/sys/health"); err == nil {
		t.Error("server still answers after Stop")
	}
	if _, err := os.Stat(s.LogPath()); err != nil {
		t.Errorf("log gone after Stop: %v", err)
	}
	s.Close()
	s.Close()
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Dir %s still there after Close: %v", s.Dir, err)
	}
}

func TestDoError(t *testing.T) {
	s := StartT(t, Options{})
	err := s.Do(http.MethodPost, "ssh-missing/creds/none", map[string]string{"ip": "127.0.0.1"}, nil)
	if !IsStatus(err, http.StatusNotFound) && !IsStatus(err, http.StatusBadRequest) {
		t.Fatalf("Do on a missing mount: %v; want a 4xx *Error", err)
	}
	if !strings.Contains(err.Error(), "HTTP 4") {
		t.Errorf("error %q does not name the status", err)
	}
}

func TestBinFromEnv(t *testing.T) {
	t.Setenv("VAULT_BIN", filepath.Join(t.TempDir(), "no-such-vault"))
	if _, err := Bin(); err == nil {
		t.Error("Bin() accepted a VAULT_BIN that does not exist")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_BIN", self)
	if got, err := Bin(); err != nil || got != self {
		t.Errorf("Bin() = %q, %v; want %q", got, err, self)
	}
}

func TestBinMissing(t *testing.T) {
	t.Setenv("VAULT_BIN", "")
	t.Setenv("PATH", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	_, err := Bin()
	if err == nil || !strings.Contains(err.Error(), "make vault") {
		t.Errorf("Bin() error = %v; want one telling to run make vault", err)
	}
}
