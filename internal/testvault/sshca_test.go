package testvault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestSSHCA signs a user and a host key with a real Vault and reads the
// certificates back as OpenSSH would: signed by the key public_key
// answers, of the asked type and principals; a principal outside the role
// is refused.
func TestSSHCA(t *testing.T) {
	s := StartT(t, Options{})
	if err := s.EnableSSH("ssh-ca"); err != nil {
		t.Fatal(err)
	}
	caLine, err := s.ConfigureSSHCA("ssh-ca")
	if err != nil {
		t.Fatal(err)
	}
	ca, _, _, _, err := ssh.ParseAuthorizedKey([]byte(caLine))
	if err != nil {
		t.Fatalf("public_key answered %q: %v", caLine, err)
	}
	if err := s.WriteUserCertRole("ssh-ca", "user", "alice", "30m"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteHostCertRole("ssh-ca", "host", "example.test", "1h"); err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role, certType, principal string
		want                      uint32
	}{
		{"user", "user", "alice", ssh.UserCert},
		{"host", "host", "sshd.example.test", ssh.HostCert},
	} {
		line, err := s.SignSSHKey("ssh-ca", tc.role, SSHSignRequest{
			PublicKey: string(ssh.MarshalAuthorizedKey(key)), CertType: tc.certType, Principals: []string{tc.principal},
		})
		if err != nil {
			t.Fatal(err)
		}
		parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			t.Fatalf("signed_key %q: %v", line, err)
		}
		cert, ok := parsed.(*ssh.Certificate)
		switch {
		case !ok:
			t.Fatalf("signed_key is a %T, not a certificate", parsed)
		case cert.CertType != tc.want:
			t.Errorf("%s certificate has type %d, want %d", tc.role, cert.CertType, tc.want)
		case !slices.Equal(cert.ValidPrincipals, []string{tc.principal}):
			t.Errorf("%s certificate has principals %q, want %q", tc.role, cert.ValidPrincipals, tc.principal)
		case !bytes.Equal(cert.SignatureKey.Marshal(), ca.Marshal()):
			t.Errorf("%s certificate is not signed by the key public_key answered", tc.role)
		case !bytes.Equal(cert.Key.Marshal(), key.Marshal()):
			t.Errorf("%s certificate certifies another key", tc.role)
		}
	}
	_, err = s.SignSSHKey("ssh-ca", "user", SSHSignRequest{
		PublicKey: string(ssh.MarshalAuthorizedKey(key)), CertType: "user", Principals: []string{"root"},
	})
	if !IsStatus(err, 400) {
		t.Errorf("a principal outside allowed_users: want HTTP 400, got %v", err)
	}
}
