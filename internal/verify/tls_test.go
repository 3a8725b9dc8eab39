package verify

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"pam_vault/internal/pamtest"
)

// TestTLSConfig checks the TLS settings built from the CA keys of a config.
func TestTLSConfig(t *testing.T) {
	caA := newCA(t, "CA A")
	caB := newCA(t, "CA B")
	dir := t.TempDir()
	pemA := writeFile(t, dir, "a.pem", caA.pem)
	both := writeFile(t, dir, "both.pem", append(append([]byte{}, caA.pem...), caB.pem...))
	notPEM := writeFile(t, dir, "not.pem", []byte("this is not a certificate\n"))
	empty := writeFile(t, dir, "empty.pem", nil)
	missing := filepath.Join(dir, "missing.pem")
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	dirB := t.TempDir()
	writeFile(t, dirB, "b.pem", caB.pem)
	dirAB := t.TempDir()
	writeFile(t, dirAB, "a.pem", caA.pem)
	writeFile(t, dirAB, "b.crt", caB.pem)
	if err := os.Mkdir(filepath.Join(dirAB, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	dirLink := t.TempDir()
	if err := os.Symlink(pemA, filepath.Join(dirLink, "0a1b2c3d.0")); err != nil {
		t.Fatal(err)
	}
	emptyDir := t.TempDir()
	dirOnlySub := t.TempDir()
	if err := os.Mkdir(filepath.Join(dirOnlySub, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	dirBad := t.TempDir()
	writeFile(t, dirBad, "a.pem", caA.pem)
	writeFile(t, dirBad, "readme.txt", []byte("not a certificate"))

	// CA files and directories that break the config file's rules.
	groupWritable := writeFile(t, t.TempDir(), "a.pem", caA.pem)
	chmod(t, groupWritable, 0o664)
	openDir := t.TempDir()
	inOpenDir := writeFile(t, openDir, "a.pem", caA.pem)
	chmod(t, openDir, 0o775)
	dirWritableFile := t.TempDir()
	chmod(t, writeFile(t, dirWritableFile, "a.pem", caA.pem), 0o666)
	dirLinkOut := t.TempDir()
	if err := os.Symlink(inOpenDir, filepath.Join(dirLinkOut, "0a1b2c3d.0")); err != nil {
		t.Fatal(err)
	}
	dirFull := t.TempDir()
	for i := range maxCAEntries + 1 {
		writeFile(t, dirFull, strconv.Itoa(i)+".pem", caA.pem)
	}
	dirAtBound := t.TempDir()
	for i := range maxCAEntries {
		writeFile(t, dirAtBound, strconv.Itoa(i)+".pem", caB.pem)
	}

	_, systemErr := os.Stat(systemBundles[0])

	tests := []struct {
		name       string
		lines      []string
		wantErr    bool
		trustA     bool
		trustB     bool
		anyPool    bool // the system bundle: trust of A and B is not checked beyond "not A"
		needsSys   bool
		serverName string
		skipVerify bool
	}{
		{name: "ca_cert", lines: []string{"ca_cert = " + strconv.Quote(pemA)}, trustA: true},
		{name: "ca_cert with two CAs", lines: []string{"ca_cert = " + strconv.Quote(both)}, trustA: true, trustB: true},
		{name: "ca_cert wins over ca_path", lines: []string{"ca_cert = " + strconv.Quote(pemA), "ca_path = " + strconv.Quote(dirB)}, trustA: true},
		{name: "ca_cert wins over a missing ca_path", lines: []string{"ca_cert = " + strconv.Quote(pemA), "ca_path = " + strconv.Quote(filepath.Join(dir, "nope"))}, trustA: true},
		{name: "ca_cert without PEM", lines: []string{"ca_cert = " + strconv.Quote(notPEM)}, wantErr: true},
		{name: "ca_cert empty file", lines: []string{"ca_cert = " + strconv.Quote(empty)}, wantErr: true},
		{name: "ca_cert missing", lines: []string{"ca_cert = " + strconv.Quote(missing)}, wantErr: true},
		{name: "ca_cert a directory", lines: []string{"ca_cert = " + strconv.Quote(dirB)}, wantErr: true},
		{name: "ca_cert a FIFO", lines: []string{"ca_cert = " + strconv.Quote(fifo)}, wantErr: true},
		{name: "bad ca_cert does not fall back to ca_path", lines: []string{"ca_cert = " + strconv.Quote(notPEM), "ca_path = " + strconv.Quote(dirB)}, wantErr: true},
		{name: "ca_path with one PEM", lines: []string{"ca_path = " + strconv.Quote(dirB)}, trustB: true},
		{name: "ca_path with two files and a subdirectory", lines: []string{"ca_path = " + strconv.Quote(dirAB)}, trustA: true, trustB: true},
		{name: "ca_path with a hash link", lines: []string{"ca_path = " + strconv.Quote(dirLink)}, trustA: true},
		{name: "ca_path empty", lines: []string{"ca_path = " + strconv.Quote(emptyDir)}, wantErr: true},
		{name: "ca_path only a subdirectory", lines: []string{"ca_path = " + strconv.Quote(dirOnlySub)}, wantErr: true},
		{name: "ca_path missing", lines: []string{"ca_path = " + strconv.Quote(filepath.Join(dir, "nope"))}, wantErr: true},
		{name: "ca_path a file", lines: []string{"ca_path = " + strconv.Quote(pemA)}, wantErr: true},
		{name: "ca_path with a file without PEM", lines: []string{"ca_path = " + strconv.Quote(dirBad)}, wantErr: true},
		{name: "ca_cert writable by group", lines: []string{"ca_cert = " + strconv.Quote(groupWritable)}, wantErr: true},
		{name: "ca_cert in a group-writable directory", lines: []string{"ca_cert = " + strconv.Quote(inOpenDir)}, wantErr: true},
		{name: "ca_path writable by group", lines: []string{"ca_path = " + strconv.Quote(openDir)}, wantErr: true},
		{name: "ca_path with a file writable by others", lines: []string{"ca_path = " + strconv.Quote(dirWritableFile)}, wantErr: true},
		{name: "ca_path with a link into a group-writable directory", lines: []string{"ca_path = " + strconv.Quote(dirLinkOut)}, wantErr: true},
		{name: "ca_path with too many entries", lines: []string{"ca_path = " + strconv.Quote(dirFull)}, wantErr: true},
		{name: "ca_path with as many entries as allowed", lines: []string{"ca_path = " + strconv.Quote(dirAtBound)}, trustB: true},
		{name: "system bundle", anyPool: true, needsSys: true},
		{name: "tls_server_name", lines: []string{"ca_cert = " + strconv.Quote(pemA), `tls_server_name = "vault.internal"`}, trustA: true, serverName: "vault.internal"},
		{name: "tls_skip_verify", lines: []string{"ca_cert = " + strconv.Quote(pemA), "tls_skip_verify = true"}, trustA: true, skipVerify: true},
		{name: "tls_skip_verify false", lines: []string{"ca_cert = " + strconv.Quote(pemA), "tls_skip_verify = false"}, trustA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needsSys && systemErr != nil {
				pamtest.Need(t, "no system CA bundle (apt-get install ca-certificates): %v", systemErr)
			}
			cfg := parseConfig(t, append([]string{`vault_addr = "https://v:8200"`}, tt.lines...)...)
			conf, err := TLSConfig(cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("TLSConfig succeeded, want an error")
				}
				if !errors.Is(err, ErrConfig) {
					t.Errorf("TLSConfig error %q does not wrap ErrConfig", err)
				}
				errKind(t, err)
				if conf != nil {
					t.Errorf("TLSConfig returned a config with its error")
				}
				return
			}
			if err != nil {
				t.Fatalf("TLSConfig: %v", err)
			}
			if conf.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %#x, want TLS 1.2 (%#x)", conf.MinVersion, tls.VersionTLS12)
			}
			if conf.RootCAs == nil {
				t.Fatal("RootCAs is nil, which would mean the system pool and its environment")
			}
			for _, id := range conf.CipherSuites {
				for _, bad := range tls.InsecureCipherSuites() {
					if id == bad.ID {
						t.Errorf("CipherSuites offers insecure %s", bad.Name)
					}
				}
			}
			if conf.ServerName != tt.serverName {
				t.Errorf("ServerName = %q, want %q", conf.ServerName, tt.serverName)
			}
			if conf.InsecureSkipVerify != tt.skipVerify {
				t.Errorf("InsecureSkipVerify = %v, want %v", conf.InsecureSkipVerify, tt.skipVerify)
			}
			if tt.anyPool {
				if trusts(t, conf.RootCAs, caA) {
					t.Error("the system bundle trusts a CA made by this test")
				}
				return
			}
			if got := trusts(t, conf.RootCAs, caA); got != tt.trustA {
				t.Errorf("trusts CA A = %v, want %v", got, tt.trustA)
			}
			if got := trusts(t, conf.RootCAs, caB); got != tt.trustB {
				t.Errorf("trusts CA B = %v, want %v", got, tt.trustB)
			}
		})
	}
}

// TestTLSConfigIgnoresEnvironment checks that SSL_CERT_FILE and SSL_CERT_DIR,
// which crypto/x509's system pool honours, add no CA to the pool.
func TestTLSConfigIgnoresEnvironment(t *testing.T) {
	own := newCA(t, "own CA")
	hostile := newCA(t, "hostile CA")
	dir := t.TempDir()
	ownPEM := writeFile(t, dir, "own.pem", own.pem)
	ownDir := t.TempDir()
	writeFile(t, ownDir, "own.pem", own.pem)
	hostileDir := t.TempDir()
	hostilePEM := writeFile(t, hostileDir, "hostile.pem", hostile.pem)
	t.Setenv("SSL_CERT_FILE", hostilePEM)
	t.Setenv("SSL_CERT_DIR", hostileDir)

	tests := []struct {
		name     string
		line     string
		trustOwn bool
	}{
		{"ca_cert", "ca_cert = " + strconv.Quote(ownPEM), true},
		{"ca_path", "ca_path = " + strconv.Quote(ownDir), true},
		{"system bundle", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.line == "" {
				if _, err := os.Stat(systemBundles[0]); err != nil {
					pamtest.Need(t, "no system CA bundle (apt-get install ca-certificates): %v", err)
				}
			}
			conf, err := TLSConfig(parseConfig(t, `vault_addr = "https://v:8200"`, tt.line))
			if err != nil {
				t.Fatalf("TLSConfig: %v", err)
			}
			if got := trusts(t, conf.RootCAs, own); got != tt.trustOwn {
				t.Errorf("trusts its own CA = %v, want %v", got, tt.trustOwn)
			}
			if trusts(t, conf.RootCAs, hostile) {
				t.Error("trusts the CA of SSL_CERT_FILE/SSL_CERT_DIR")
			}
		})
	}
}

// TestTLSConfigErrorNamesKey checks that a CA error says which key to fix,
// and where the config file sets it.
func TestTLSConfigErrorNamesKey(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.pem", []byte("x"))
	for _, key := range []string{"ca_cert", "ca_path"} {
		val := bad
		if key == "ca_path" {
			val = t.TempDir()
		}
		_, err := TLSConfig(parseConfig(t, `vault_addr = "https://v:8200"`, key+" = "+strconv.Quote(val)))
		if err == nil || !strings.Contains(err.Error(), "test.hcl:2: "+key) {
			t.Errorf("TLSConfig with a bad %s: error %v does not name test.hcl:2 and %s", key, err, key)
		}
	}
}
