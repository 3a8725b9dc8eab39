package sshcert

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/sshdtest"
	"pam_vault/internal/testvault"
)

const (
	// userName is the account the tests log in as.
	userName = "pvcert1"
	// otherPrincipal is a name Vault signs certificates for that is not
	// the one logging in; it need not exist on the machine.
	otherPrincipal = "pvcert2"
	// userComment marks the account as this suite's, so that one left
	// behind by a killed run can be recognised and replaced.
	userComment = "pam_vault certificate test user"

	// caMount is Vault's SSH engine acting as the CA: a mount of its own,
	// not the one of an OTP role.
	caMount  = "ssh-ca"
	userRole = "user-cert"
	hostRole = "host-cert"
	// hostDomain is what the host role may sign; hostName is the name the
	// host certificate carries and the clients check.
	hostDomain = "pam-vault.test"
	hostName   = "sshd." + hostDomain

	// totpMount and totpPolicy: Vault's TOTP engine, and the policy of the
	// token pam_vault verifies codes with (update on <mount>/code/*).
	totpMount  = "totp"
	totpPolicy = "pam-vault-totp"
)

// tools are the programs the suite runs, besides the built ones.
var tools = []string{sshdtest.Path, "ssh", "unshare", "mount", "useradd", "userdel", "usermod", "getent"}

// env is what every test shares: the build, one Vault acting as CA and
// code checker, the user's TOTP key and the test user.
type env struct {
	build   string
	version sshdtest.Version // the release of sshdtest.Path
	dir     string           // config, token file, audit log
	vault   *testvault.Server
	caLine  string        // Vault's CA key, authorized_keys format
	ca      ssh.PublicKey // the same, parsed
	totp    *testvault.TOTPKey
	config  string // pam_vault's TOTP config
	user    *pamtest.User
	lock    net.Listener

	mu    sync.Mutex
	typed []string // every code a client typed, for the leak check
}

var (
	shared     *env
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.close(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: cleaning up: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// setup returns the shared environment, creating it on first use.
func setup(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		pamtest.Need(t, "the certificate tests need root: they create a user and mount namespaces, and run sshd")
	}
	sharedOnce.Do(func() { shared, sharedErr = newEnv() })
	if sharedErr != nil {
		pamtest.Need(t, "certificate test environment: %v", sharedErr)
	}
	return shared
}

// newEnv checks the prerequisites, then sets up Vault and the user.
// Whatever it created is undone if a later step fails.
func newEnv() (_ *env, err error) {
	build, err := pamtest.Built(pamtest.Artifacts...)
	if err != nil {
		return nil, err
	}
	if err := pamtest.Tools(tools...); err != nil {
		return nil, err
	}
	e := &env{build: build}
	if e.version, err = sshdtest.InstalledVersion(); err != nil {
		return nil, err
	}
	if e.lock, err = pamtest.LockMachine("sshcert"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if cerr := e.close(); cerr != nil {
				err = fmt.Errorf("%w; cleaning up: %v", err, cerr)
			}
		}
	}()
	if e.dir, err = os.MkdirTemp("", "pv-sshcert-"); err != nil {
		return nil, err
	}
	if e.vault, err = testvault.Start(testvault.Options{}); err != nil {
		return nil, err
	}
	if err := e.vault.EnableHashedFileAudit(filepath.Join(e.dir, "audit.log")); err != nil {
		return nil, err
	}
	if err := e.setupCA(); err != nil {
		return nil, err
	}
	if err := e.setupTOTP(); err != nil {
		return nil, err
	}
	if e.user, err = pamtest.CreateUser(userName, userComment); err != nil {
		return nil, err
	}
	return e, nil
}

// setupCA makes Vault's SSH engine at caMount the CA of users and hosts.
func (e *env) setupCA() (err error) {
	if err := e.vault.EnableSSH(caMount); err != nil {
		return err
	}
	if e.caLine, err = e.vault.ConfigureSSHCA(caMount); err != nil {
		return err
	}
	if e.ca, _, _, _, err = ssh.ParseAuthorizedKey([]byte(e.caLine)); err != nil {
		return fmt.Errorf("Vault's CA key %q: %w", e.caLine, err)
	}
	if err := e.vault.WriteUserCertRole(caMount, userRole, userName+","+otherPrincipal, "30m"); err != nil {
		return err
	}
	return e.vault.WriteHostCertRole(caMount, hostRole, hostDomain, "1h")
}

// setupTOTP enables the TOTP engine, enrolls the user, writes a token that
// may only verify codes into a token file and pam_vault's config naming
// it.
func (e *env) setupTOTP() (err error) {
	if err := e.vault.EnableTOTP(totpMount); err != nil {
		return err
	}
	if err := e.vault.WritePolicy(totpPolicy, testvault.VerifyPolicy(totpMount)); err != nil {
		return err
	}
	token, err := e.vault.CreateToken([]string{totpPolicy}, time.Hour)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(e.dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	if e.totp, err = e.vault.CreateTOTPKey(totpMount, userName, 6); err != nil {
		return err
	}
	e.config, err = pamtest.WriteConfig(e.dir, "totp", strings.Join([]string{
		fmt.Sprintf("vault_addr = %q", e.vault.Addr),
		fmt.Sprintf("totp_mount_point = %q", totpMount),
		fmt.Sprintf("token_file = %q", tokenFile),
		`timeout = "5s"`,
	}, "\n")+"\n")
	return err
}

// close removes the user, stops Vault, removes e.dir and releases the
// machine lock.
func (e *env) close() error {
	var errs []error
	if e.user != nil {
		errs = append(errs, e.user.Remove())
	}
	if e.vault != nil {
		e.vault.Close()
	}
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	if e.lock != nil {
		e.lock.Close()
		e.lock = nil
	}
	return errors.Join(errs...)
}

// code returns a code of the user's key that Vault accepts now and that no
// test has used.
func (e *env) code(t *testing.T) string {
	t.Helper()
	c, err := e.totp.Code()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode returns a code Vault refuses now.
func (e *env) wrongCode(t *testing.T) string {
	t.Helper()
	c, err := e.totp.WrongCode()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// typedCode records a code a client is about to type, for the leak check.
func (e *env) typedCode(code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.typed = append(e.typed, code)
}

// codesTyped returns every code typed so far.
func (e *env) codesTyped() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.typed...)
}

// auditMark is the size of Vault's audit log, for codeRequests.
func (e *env) auditMark(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(e.dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// codeRequests counts the requests to verify one of the user's codes that
// Vault's audit log recorded after mark. The log holds request paths in
// clear and every string of a body as an HMAC.
func (e *env) codeRequests(t *testing.T, mark int64) int {
	t.Helper()
	f, err := os.Open(filepath.Join(e.dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(mark, 0); err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var entry struct {
			Type    string `json:"type"`
			Request struct {
				Path string `json:"path"`
			} `json:"request"`
		}
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Fatalf("Vault's audit log: %v: %s", err, sc.Text())
		}
		if entry.Type == "request" && entry.Request.Path == totpMount+"/code/"+userName {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// auditHMAC matches a value Vault's audit log holds as an HMAC.
var auditHMAC = regexp.MustCompile(`hmac-sha256:[0-9a-f]+`)

// vaultLogs is the text of Vault's server log and audit log, for the leak
// check. The audit log's HMACs are left out: long runs of hex digits would
// hold any six digits by chance, and an HMAC is not the code.
func (e *env) vaultLogs(t *testing.T) string {
	t.Helper()
	server, err := os.ReadFile(e.vault.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	audit, err := os.ReadFile(filepath.Join(e.dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(server) + "\n" + auditHMAC.ReplaceAllString(string(audit), "hmac-sha256:…")
}
