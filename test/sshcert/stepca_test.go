package sshcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/sshdtest"
)

const (
	// stepCAVersion is the step-ca release scripts/step-ca-bin.sh builds.
	stepCAVersion = "v0.30.2"
	// stepCAStart bounds the wait for step-ca to answer /health.
	stepCAStart = 30 * time.Second
	// provisionerName names the JWK provisioner the test signs its
	// one-time tokens with.
	provisionerName = "pam-vault-test"
)

// TestStepCA follows seed 004's login with step-ca as the CA: sshd trusts
// step-ca's SSH user CA key, as GET /ssh/roots answers it; the user's
// certificate comes from POST /1.0/ssh/sign with a one-time token of a JWK
// provisioner; the code is Vault's, checked by pam_vault. Both clients log
// in with it, and the same code again is refused.
func TestStepCA(t *testing.T) {
	e := setup(t)
	ca := startStepCA(t, e)
	roots := ca.userCAKeys(t)
	s := e.startServer(t, serverOptions{userCAs: roots})
	id := newIdentity(t)
	id.withCert(t, ca.signUserKey(t, id, userName))
	if got := string(ssh.MarshalAuthorizedKey(id.cert.SignatureKey)); !strings.Contains(strings.Join(roots, "\n"), strings.TrimSpace(got)) {
		t.Fatalf("step-ca signed with %s, not a key of /ssh/roots %q", got, roots)
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			code := e.code(t)
			s.expectLogin(t, e, c, attempt{userName, id, code})
			s.expectCodeRefused(t, e, c, attempt{userName, id, code}, "code rejected: already used")
		})
	}
	// A Vault-signed certificate means nothing to this sshd.
	s.expectKeyRefused(t, e, clients[0], attempt{userName, e.vaultIdentity(t, "", userName), e.code(t)},
		"Failed publickey for "+userName)
}

// stepCA is a running step-ca with an SSH user CA and a JWK provisioner.
type stepCA struct {
	url    string // https://127.0.0.1:PORT
	client *http.Client
	kid    string             // the provisioner key's id
	key    ed25519.PrivateKey // the provisioner's key, which signs tokens
	log    string             // step-ca's log file
}

// stepCABin returns the step-ca to run: $STEP_CA_BIN, a step-ca on PATH,
// or the build scripts/step-ca-bin.sh caches.
func stepCABin() (string, error) {
	if p := os.Getenv("STEP_CA_BIN"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("step-ca"); err == nil {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(cache, "pam_vault", "step-ca-"+stepCAVersion)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no step-ca: STEP_CA_BIN is unset, none is on PATH, and %s is missing; run scripts/step-ca-bin.sh: %w", p, err)
	}
	return p, nil
}

// startStepCA writes step-ca's keys and ca.json, starts it on a free
// loopback port and waits until it answers; t's clean-up stops it and
// checks its log for typed codes.
func startStepCA(t *testing.T, e *env) *stepCA {
	t.Helper()
	bin, err := stepCABin()
	if err != nil {
		pamtest.Need(t, "%v", err)
	}
	dir := t.TempDir()
	port, err := sshdtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ca := &stepCA{url: "https://127.0.0.1:" + strconv.Itoa(port), log: filepath.Join(dir, "step-ca.log")}
	root, err := ca.writeConfig(dir, port)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	ca.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}

	logf, err := os.Create(ca.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, filepath.Join(dir, "ca.json"))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "STEPPATH=" + dir}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		text, _ := os.ReadFile(ca.log)
		for _, line := range strings.Split(string(text), "\n") {
			for _, code := range e.codesTyped() {
				if pamtest.ContainsToken(line, code) {
					t.Errorf("the code %q a client typed appears in step-ca's log: %s", code, line)
				}
			}
		}
		if t.Failed() {
			t.Logf("step-ca log:\n%s", text)
		}
	})
	if err := ca.waitHealthy(done); err != nil {
		text, _ := os.ReadFile(ca.log)
		t.Fatalf("%v\n--- step-ca log ---\n%s", err, text)
	}
	return ca
}

// waitHealthy polls /health until it answers ok, step-ca exits, or
// stepCAStart passes.
func (ca *stepCA) waitHealthy(done <-chan struct{}) error {
	deadline := time.Now().Add(stepCAStart)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("step-ca exited during start-up")
		default:
		}
		var out struct {
			Status string `json:"status"`
		}
		if lastErr = ca.do(http.MethodGet, "/health", nil, &out); lastErr == nil && out.Status == "ok" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("step-ca not healthy after %s: %v", stepCAStart, lastErr)
}

// do sends a request to step-ca's API, body as JSON, and decodes the JSON
// answer into out.
func (ca *stepCA) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ca.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := ca.client.Do(req)
	if err != nil {
		return fmt.Errorf("step-ca %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("step-ca %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("step-ca %s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("step-ca %s %s: decode %q: %w", method, path, b, err)
	}
	return nil
}

// userCAKeys returns step-ca's SSH user CA keys, as GET /ssh/roots
// answers them, one authorized_keys line each: what an operator puts into
// TrustedUserCAKeys.
func (ca *stepCA) userCAKeys(t *testing.T) []string {
	t.Helper()
	var out struct {
		UserKey []string `json:"userKey"`
	}
	if err := ca.do(http.MethodGet, "/ssh/roots", nil, &out); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, k := range out.UserKey {
		wire, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			t.Fatalf("/ssh/roots: %v", err)
		}
		key, err := ssh.ParsePublicKey(wire)
		if err != nil {
			t.Fatalf("/ssh/roots: %v", err)
		}
		lines = append(lines, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))))
	}
	if len(lines) == 0 {
		t.Fatal("/ssh/roots answered no user CA key")
	}
	return lines
}

// signUserKey has step-ca sign id's key as a user certificate for user
// (POST /1.0/ssh/sign) and returns it in authorized_keys format.
func (ca *stepCA) signUserKey(t *testing.T, id *identity, user string) string {
	t.Helper()
	ott, err := ca.token(user)
	if err != nil {
		t.Fatal(err)
	}
	req := map[string]any{
		"publicKey":  id.signer.PublicKey().Marshal(), // []byte: base64 in JSON
		"ott":        ott,
		"certType":   "user",
		"keyID":      user,
		"principals": []string{user},
	}
	var out struct {
		Crt string `json:"crt"`
	}
	if err := ca.do(http.MethodPost, "/1.0/ssh/sign", req, &out); err != nil {
		t.Fatal(err)
	}
	wire, err := base64.StdEncoding.DecodeString(out.Crt)
	if err != nil {
		t.Fatalf("/1.0/ssh/sign: crt: %v", err)
	}
	cert, err := ssh.ParsePublicKey(wire)
	if err != nil {
		t.Fatalf("/1.0/ssh/sign: crt: %v", err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert)))
}

// token is a one-time token of the JWK provisioner for a user certificate
// of user: a JWT signed with the provisioner's key (EdDSA), naming the
// provisioner as issuer, the sign endpoint as audience, and the
// certificate's options in its "step" claim.
func (ca *stepCA) token(user string) (string, error) {
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	header := map[string]any{"alg": "EdDSA", "kid": ca.kid, "typ": "JWT"}
	claims := map[string]any{
		"iss": provisionerName,
		"sub": user,
		"aud": ca.url + "/1.0/ssh/sign",
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": fmt.Sprintf("%x", jti),
		"step": map[string]any{"ssh": map[string]any{
			"certType": "user", "keyID": user, "principals": []string{user},
		}},
	}
	var parts []string
	for _, v := range []any{header, claims} {
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		parts = append(parts, base64.RawURLEncoding.EncodeToString(b))
	}
	signing := strings.Join(parts, ".")
	sig := ed25519.Sign(ca.key, []byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// writeConfig writes what `step ca init --ssh` would: a root and an
// intermediate X.509 CA (step-ca serves TLS with a certificate of the
// intermediate), the SSH user CA key, and ca.json with one JWK provisioner
// allowed to sign SSH certificates. It returns the root certificate.
func (ca *stepCA) writeConfig(dir string, port int) (*x509.Certificate, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root, rootDER, err := caCert("pam_vault test root CA", rootKey, nil, nil)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	_, interDER, err := caCert("pam_vault test intermediate CA", interKey, root, rootKey)
	if err != nil {
		return nil, err
	}
	_, sshUserKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	jwkPub, jwkKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ca.key, ca.kid = jwkKey, "pam-vault-test-jwk"

	files := map[string][]byte{
		"root_ca.crt":         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		"intermediate_ca.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: interDER}),
	}
	for name, key := range map[string]any{"intermediate_ca_key": interKey, "ssh_user_ca_key": sshUserKey} {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		files[name] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	config := map[string]any{
		"root":     filepath.Join(dir, "root_ca.crt"),
		"crt":      filepath.Join(dir, "intermediate_ca.crt"),
		"key":      filepath.Join(dir, "intermediate_ca_key"),
		"address":  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		"dnsNames": []string{"127.0.0.1"},
		"ssh":      map[string]any{"userKey": filepath.Join(dir, "ssh_user_ca_key")},
		"logger":   map[string]any{"format": "text"},
		"authority": map[string]any{"provisioners": []any{map[string]any{
			"type": "JWK",
			"name": provisionerName,
			"key": map[string]any{
				"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": ca.kid,
				"x": base64.RawURLEncoding.EncodeToString(jwkPub),
			},
			"claims": map[string]any{"enableSSHCA": true},
		}}},
	}
	if files["ca.json"], err = json.MarshalIndent(config, "", "  "); err != nil {
		return nil, err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// caCert makes a CA certificate for key, signed by parent's parentKey, or
// self-signed when parent is nil.
func caCert(name string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	} else {
		tmpl.MaxPathLenZero = true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, der, err
}
