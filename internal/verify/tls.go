package verify

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"pam_vault/internal/config"
)

// systemBundles are the CA bundles of the common Linux distributions, in the
// order tried. The list is fixed on purpose: crypto/x509's system pool would
// honour SSL_CERT_FILE and SSL_CERT_DIR from the caller's environment.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Alpine
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // RHEL, Fedora
	"/etc/pki/tls/certs/ca-bundle.crt",                  // older RHEL
	"/etc/ssl/ca-bundle.pem",                            // SUSE
	"/etc/ssl/cert.pem",                                 // others
}

// maxCAFile bounds what is read from one CA file.
const maxCAFile = 4 << 20

// maxCAEntries bounds the entries read from the ca_path directory. A
// distribution's whole /etc/ssl/certs holds about 300.
const maxCAEntries = 1024

// secureCipherSuites are the TLS 1.2 suites offered: forward-secret AEAD only.
// Listing them explicitly keeps a GODEBUG setting inherited from the caller
// (tlsrsakex, tls3des) from widening the set.
var secureCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns the TLS settings for talking to cfg's Vault: TLS 1.2 or
// newer, the CAs of ca_cert, else of ca_path, else the system bundle.
func TLSConfig(cfg *config.Config) (*tls.Config, error) {
	roots, err := rootCAs(cfg)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		CipherSuites:       secureCipherSuites,
		RootCAs:            roots,
		ServerName:         cfg.TLSServerName,
		InsecureSkipVerify: cfg.TLSSkipVerify,
	}, nil
}

func rootCAs(cfg *config.Config) (*x509.CertPool, error) {
	switch {
	case cfg.CACert != "":
		pool := x509.NewCertPool()
		if err := addPEMFile(pool, cfg.CACert); err != nil {
			return nil, fmt.Errorf("%w: %s: ca_cert: %w", ErrConfig, cfg.Where("ca_cert"), err)
		}
		return pool, nil
	case cfg.CAPath != "":
		pool, err := loadCADir(cfg.CAPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: ca_path: %w", ErrConfig, cfg.Where("ca_path"), err)
		}
		return pool, nil
	}
	for _, bundle := range systemBundles {
		pool := x509.NewCertPool()
		if err := addPEMFile(pool, bundle); err == nil {
			return pool, nil
		}
	}
	return nil, fmt.Errorf("%w: no ca_cert or ca_path is set and no system CA bundle was found (tried %s)", ErrConfig, systemBundles[0])
}

// loadCADir reads the CA files of the ca_path directory dir: every regular
// file in it, symbolic links followed (c_rehash names CAs by hash links),
// each of which must hold a certificate. The directory is held to the
// config file's rules and read up to maxCAEntries entries, each file to
// config.ReadTrusted's.
func loadCADir(dir string) (*x509.CertPool, error) {
	d, err := config.OpenTrustedDir(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(maxCAEntries + 1)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading CA directory %s: %w", dir, err)
	}
	if len(entries) > maxCAEntries {
		return nil, fmt.Errorf("%s holds more than %d entries; point ca_path at a directory of CA files only", dir, maxCAEntries)
	}
	pool := x509.NewCertPool()
	loaded := 0
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch e.Type() {
		case 0: // a regular file
		case fs.ModeSymlink:
			// A link to a directory, or to nothing, is passed over as a
			// subdirectory is; a link to a file is read.
			if info, err := os.Stat(path); err != nil || info.IsDir() {
				continue
			}
		default:
			continue
		}
		if err := addPEMFile(pool, path); err != nil {
			return nil, err
		}
		loaded++
	}
	if loaded == 0 {
		return nil, fmt.Errorf("%s holds no CA certificate file", dir)
	}
	return pool, nil
}

// addPEMFile adds the certificates of the PEM file at path to pool. The file
// is held to the config file's rules (config.ReadTrusted) and opened without
// blocking, so that a FIFO or a device named by ca_cert fails at once
// instead of holding the login past its deadline, which starts only after
// the client is built.
func addPEMFile(pool *x509.CertPool, path string) error {
	pem, err := config.ReadTrusted(path, maxCAFile)
	if err != nil {
		return err
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", path)
	}
	return nil
}
