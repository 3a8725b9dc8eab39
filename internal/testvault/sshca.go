package testvault

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Vault's SSH secrets engine is also an OpenSSH certificate authority: with
// a signing key (config/ca) and roles of key_type "ca" it signs users' and
// hosts' public keys. sshd trusts it through TrustedUserCAKeys, clients
// through @cert-authority lines in known_hosts.

// ConfigureSSHCA makes the SSH engine at mount a certificate authority
// with a signing key Vault generates (config/ca generate_signing_key=true)
// and returns the CA's public key, as PublicSSHCAKey does.
func (s *Server) ConfigureSSHCA(mount string) (string, error) {
	body := map[string]any{"generate_signing_key": true}
	if err := s.Do(http.MethodPost, mount+"/config/ca", body, nil); err != nil {
		return "", fmt.Errorf("configure the SSH CA at %s: %w", mount, err)
	}
	return s.PublicSSHCAKey(mount)
}

// PublicSSHCAKey returns the public key of the CA at mount, one line in
// authorized_keys format, as GET /v1/<mount>/public_key answers it: plain
// text, not JSON, and without a token.
func (s *Server) PublicSSHCAKey(mount string) (string, error) {
	resp, err := s.client.Get(s.Addr + "/v1/" + mount + "/public_key")
	if err != nil {
		return "", fmt.Errorf("read the SSH CA key of %s: %w", mount, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return "", fmt.Errorf("read the SSH CA key of %s: %w", mount, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("read the SSH CA key of %s: HTTP %d: %s", mount, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	key := strings.TrimSpace(string(b))
	if strings.Count(key, " ") < 1 || strings.Contains(key, "\n") {
		return "", fmt.Errorf("read the SSH CA key of %s: not one public key: %q", mount, key)
	}
	return key, nil
}

// WriteUserCertRole writes a role on the CA at mount that signs user
// certificates for the principals in allowedUsers (comma separated) with
// the given TTL (a Vault duration such as "30m"); the certificates permit
// a pty, as ssh-keygen's do by default.
func (s *Server) WriteUserCertRole(mount, role, allowedUsers, ttl string) error {
	body := map[string]any{
		"key_type":                "ca",
		"allow_user_certificates": true,
		"allowed_users":           allowedUsers,
		"default_extensions":      map[string]string{"permit-pty": ""},
		"allowed_extensions":      "permit-pty",
		"ttl":                     ttl,
	}
	if err := s.Do(http.MethodPost, mount+"/roles/"+role, body, nil); err != nil {
		return fmt.Errorf("write user certificate role %s/%s: %w", mount, role, err)
	}
	return nil
}

// WriteHostCertRole writes a role on the CA at mount that signs host
// certificates for the names in allowedDomains (comma separated) and
// their subdomains.
func (s *Server) WriteHostCertRole(mount, role, allowedDomains, ttl string) error {
	body := map[string]any{
		"key_type":                "ca",
		"allow_host_certificates": true,
		"allowed_domains":         allowedDomains,
		"allow_bare_domains":      true,
		"allow_subdomains":        true,
		"ttl":                     ttl,
	}
	if err := s.Do(http.MethodPost, mount+"/roles/"+role, body, nil); err != nil {
		return fmt.Errorf("write host certificate role %s/%s: %w", mount, role, err)
	}
	return nil
}

// SSHSignRequest is what SignSSHKey asks the CA to sign.
type SSHSignRequest struct {
	// PublicKey is the key to sign, in authorized_keys format.
	PublicKey string
	// CertType is "user" or "host".
	CertType string
	// Principals are the certificate's principals: user names for a user
	// certificate, host names for a host certificate.
	Principals []string
	// TTL is the certificate's life (a Vault duration); "" for the role's.
	TTL string
}

// SignSSHKey has role sign req.PublicKey and returns the certificate, one
// line in authorized_keys format, for a -cert.pub file.
func (s *Server) SignSSHKey(mount, role string, req SSHSignRequest) (string, error) {
	body := map[string]any{
		"public_key":       req.PublicKey,
		"cert_type":        req.CertType,
		"valid_principals": strings.Join(req.Principals, ","),
	}
	if req.TTL != "" {
		body["ttl"] = req.TTL
	}
	var out struct {
		Data struct {
			SignedKey string `json:"signed_key"`
		} `json:"data"`
	}
	if err := s.Do(http.MethodPost, mount+"/sign/"+role, body, &out); err != nil {
		return "", fmt.Errorf("sign an SSH %s key with %s/%s: %w", req.CertType, mount, role, err)
	}
	if out.Data.SignedKey == "" {
		return "", fmt.Errorf("sign an SSH %s key with %s/%s: the answer has no data.signed_key", req.CertType, mount, role)
	}
	return strings.TrimSpace(out.Data.SignedKey), nil
}
