package testvault

import (
	"net/http"
	"strings"
	"testing"
)

// TestSealUnseal seals a dev server for real and unseals it with the key
// from its log: verify then answers 503, and afterwards the SSH engine and
// its OTPs work again.
func TestSealUnseal(t *testing.T) {
	s := StartT(t, Options{})
	if key, err := s.UnsealKey(); err != nil || key == "" {
		t.Fatalf("UnsealKey() = %q, %v", key, err)
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
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	if sealed, err := s.Sealed(); err != nil || !sealed {
		t.Fatalf("after Seal: Sealed() = %v, %v", sealed, err)
	}
	hc := plainClient(t, "")
	if status, body := verify(t, hc, s.Addr, otp); status != http.StatusServiceUnavailable || !strings.Contains(string(body), "sealed") {
		t.Errorf("verify while sealed: HTTP %d %s; want 503 Vault is sealed", status, body)
	}
	if err := s.Unseal(); err != nil {
		t.Fatal(err)
	}
	if sealed, err := s.Sealed(); err != nil || sealed {
		t.Fatalf("after Unseal: Sealed() = %v, %v", sealed, err)
	}
	if status, body := verify(t, hc, s.Addr, otp); status != http.StatusOK {
		t.Errorf("verify after unseal: HTTP %d %s; want 200 for the OTP issued before the seal", status, body)
	}
}
