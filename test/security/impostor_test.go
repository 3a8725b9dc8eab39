package security

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/test/security/faultproxy"
)

// impostor is a server that is not Vault and says yes to everything: any
// request, whatever its method, path or OTP, gets the 200 verify answer of
// a valid OTP for alice at loopback under the allowed role, which would
// pass every host rule. It records every request it gets.
type impostor struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newImpostor(t *testing.T, withTLS bool) *impostor {
	t.Helper()
	imp := &impostor{}
	answer, _ := json.Marshal(map[string]any{"data": map[string]string{
		"username": testUser, "ip": loopback, "role_name": role,
	}})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		imp.mu.Lock()
		imp.seen = append(imp.seen, fmt.Sprintf("%s %s (Host %s)", r.Method, r.RequestURI, r.Host))
		imp.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	})
	imp.Server = httptest.NewUnstartedServer(h)
	// The TLS impostor's rejected handshakes are expected; keep them quiet.
	imp.Config.ErrorLog = log.New(io.Discard, "", 0)
	if withTLS {
		imp.StartTLS()
	} else {
		imp.Start()
	}
	t.Cleanup(imp.Close)
	return imp
}

// requests returns what the impostor was asked.
func (imp *impostor) requests() []string {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	return append([]string(nil), imp.seen...)
}

// hostile is everything a hostile caller environment points at: a plain and
// a TLS impostor, the TLS impostor's certificate as a CA file and directory,
// a FIFO that blocks whoever opens it, and a recording proxy in front of the
// real Vault, which is what the configs name.
type hostile struct {
	plain, tls *impostor
	caFile     string // the TLS impostor's self-signed certificate
	caDir      string // a directory holding only that certificate
	fifo       string
	recorder   *faultproxy.Proxy
}

func newHostile(t *testing.T, e *env) *hostile {
	t.Helper()
	needSystemBundle(t)
	h := &hostile{plain: newImpostor(t, false), tls: newImpostor(t, true)}
	dir := t.TempDir()
	h.caDir = filepath.Join(dir, "certs")
	if err := os.Mkdir(h.caDir, 0o755); err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.tls.Certificate().Raw})
	h.caFile = filepath.Join(dir, "impostor-ca.pem")
	for _, path := range []string{h.caFile, filepath.Join(h.caDir, "impostor-ca.pem")} {
		if err := os.WriteFile(path, certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.fifo = filepath.Join(dir, "vault-ca.fifo")
	if err := syscall.Mkfifo(h.fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Close)
	h.recorder = rec
	return h
}

// needSystemBundle fails or skips t when no system CA bundle exists: the
// hostile config sets no ca_cert, so the module needs one to start at all.
func needSystemBundle(t *testing.T) {
	t.Helper()
	for _, b := range []string{
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
		"/etc/ssl/cert.pem",
	} {
		if _, err := os.Stat(b); err == nil {
			return
		}
	}
	pamtest.Need(t, "no system CA bundle; install ca-certificates (make deps)")
}

// trapHosts are vault_addr entries whose host does not resolve. A client
// that honoured HTTP_PROXY or HTTPS_PROXY would not resolve them itself but
// hand them to the proxy, which is the impostor. (Go sends nothing for
// loopback addresses to a proxy, so loopback cannot be the trap.)
const (
	trapHTTP  = "http://vault.invalid:8200"
	trapHTTPS = "https://vault.invalid:8443"
)

// config is the config every hostile run uses: each address of vault_addr
// but the last is a trap that leads to an impostor only if the environment
// is read (a proxy, SSL_CERT_FILE, VAULT_SKIP_VERIFY); the last is the real
// Vault, behind the recorder. ca_cert is unset: the system bundle decides.
func (h *hostile) config() string {
	return config(h.vaultAddr(), "8s")
}

// vaultAddr is the vault_addr of config: the traps, then the real Vault.
func (h *hostile) vaultAddr() string {
	return strings.Join([]string{trapHTTP, trapHTTPS, h.tls.URL, h.recorder.URL}, ", ")
}

// vaultHeaders is VAULT_HEADERS, JSON as vault/api reads it.
const vaultHeaders = `{"X-Hostile":"vault-headers","X-Vault-Token":"hostile-token"}`

// vars is every variable of DESIGN.md invariant 2 (and more that vault/api,
// net/http, crypto/x509 or curl read) set to a hostile value.
func (h *hostile) vars() []string {
	proxy := h.plain.URL
	return []string{
		"VAULT_ADDR=" + h.plain.URL,
		"VAULT_AGENT_ADDR=" + h.plain.URL,
		"VAULT_SKIP_VERIFY=true",
		"VAULT_CACERT=" + h.fifo,
		"VAULT_CAPATH=" + h.caDir,
		"VAULT_TLS_SERVER_NAME=example.com",
		"VAULT_NAMESPACE=hostile-namespace",
		"VAULT_TOKEN=hostile-token",
		"VAULT_HEADERS=" + vaultHeaders,
		"VAULT_CLIENT_TIMEOUT=1ns",
		"VAULT_MAX_RETRIES=garbage",
		"VAULT_RATE_LIMIT=garbage",
		"VAULT_SRV_LOOKUP=true",
		"VAULT_PROXY_ADDR=" + proxy,
		"VAULT_HTTP_PROXY=" + proxy,
		"HTTP_PROXY=" + proxy,
		"HTTPS_PROXY=" + proxy,
		"http_proxy=" + proxy,
		"https_proxy=" + proxy,
		"ALL_PROXY=" + proxy,
		"NO_PROXY=nothing.invalid",
		"no_proxy=nothing.invalid",
		"SSL_CERT_FILE=" + h.caFile,
		"SSL_CERT_DIR=" + h.caDir,
	}
}

// goRuntimeVars are read by the Go runtime itself when the engine loads.
// GODEBUG asks for weaker TLS and X.509 behaviour.
var goRuntimeVars = []string{
	"GODEBUG=tlsrsakex=1,tls10server=1,tls3des=1,x509negativeserial=1,x509sha1=1,http2client=0",
	"GOTRACEBACK=crash",
	"GOMAXPROCS=1",
	"GOGC=1",
	"GOMEMLIMIT=1MiB",
}

// resolverVars make Go's net package hand name lookups to glibc, which
// honours them: HOSTALIASES renames single-label hosts, LOCALDOMAIN sets the
// search list, RES_OPTIONS can make the search list be tried first.
var resolverVars = []string{
	"HOSTALIASES=/nonexistent/hostaliases",
	"LOCALDOMAIN=attacker.invalid",
	"RES_OPTIONS=ndots:15",
}

// checkUntouched fails t if an impostor was asked anything, or if a request
// that reached the real Vault carried a token, a namespace or a header from
// VAULT_HEADERS. It returns how many requests reached the real Vault.
func (h *hostile) checkUntouched(t *testing.T) int {
	t.Helper()
	return h.checkRequests(t, "/v1/"+mount+"/verify", "")
}

// checkRequests is checkUntouched for requests to path that carry token as
// X-Vault-Token ("" for none).
func (h *hostile) checkRequests(t *testing.T, path, token string) int {
	t.Helper()
	for name, imp := range map[string]*impostor{"plain impostor": h.plain, "TLS impostor": h.tls} {
		if seen := imp.requests(); len(seen) != 0 {
			t.Errorf("the %s was asked %d times:\n%s", name, len(seen), strings.Join(seen, "\n"))
		}
	}
	reqs := h.recorder.Requests()
	for _, r := range reqs {
		for _, hdr := range []string{"X-Vault-Namespace", "X-Hostile", "Authorization", "Proxy-Authorization"} {
			if v := r.Header.Values(hdr); len(v) != 0 {
				t.Errorf("%s %s reached Vault with %s: %q", r.Method, r.Path, hdr, v)
			}
		}
		if v := r.Header.Values("X-Vault-Token"); (token == "" && len(v) != 0) || (token != "" && (len(v) != 1 || v[0] != token)) {
			t.Errorf("%s %s reached Vault with X-Vault-Token %q; want only the configured one", r.Method, r.Path, v)
		}
		if r.Method != http.MethodPut || r.Path != path {
			t.Errorf("Vault got %s %s; want only PUT %s", r.Method, r.Path, path)
		}
	}
	return len(reqs)
}
