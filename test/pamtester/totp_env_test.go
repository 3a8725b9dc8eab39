package pamtester

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

// The TOTP side of the shared Vault: the engine at totpMount, a token with
// the verifying policy only in a token file, and a config that names both.
const (
	totpMount  = "totp"
	totpPolicy = "pam-vault-totp"
)

// totpEnv is what the TOTP tests share.
type totpEnv struct {
	token     string // the verifying token
	tokenFile string
	config    string // the TOTP config's path
}

var (
	totpShared     *totpEnv
	totpSharedErr  error
	totpSharedOnce sync.Once
)

// totpSetup returns the TOTP side of the shared environment, setting it up
// on first use.
func (e *env) totpSetup(t *testing.T) *totpEnv {
	t.Helper()
	totpSharedOnce.Do(func() { totpShared, totpSharedErr = e.newTOTPEnv(totpMount, totpPolicy, "totp") })
	if totpSharedErr != nil {
		t.Fatalf("setting up Vault's TOTP engine: %v", totpSharedErr)
	}
	return totpShared
}

// newTOTPEnv enables a TOTP engine at mount on the shared Vault and sets up
// the module's side of it: policy, written as mount's verifying policy and
// nothing else, a token holding only it in the token file <name>-token, and
// the config <name>.hcl naming mount and that file.
func (e *env) newTOTPEnv(mount, policy, name string) (*totpEnv, error) {
	if err := e.vault.EnableTOTP(mount); err != nil {
		return nil, err
	}
	if err := e.vault.WritePolicy(policy, testvault.VerifyPolicy(mount)); err != nil {
		return nil, err
	}
	token, err := e.vault.CreateToken([]string{policy}, time.Hour)
	if err != nil {
		return nil, err
	}
	te := &totpEnv{token: token, tokenFile: filepath.Join(e.dir, name+"-token")}
	if err := os.WriteFile(te.tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return nil, err
	}
	te.config, err = pamtest.WriteConfig(e.dir, name, e.totpMountConfigText(mount, te.tokenFile))
	return te, err
}

// totpConfigText is a TOTP config for the shared Vault's engine at
// totpMount with tokenFile; extra lines are appended.
func (e *env) totpConfigText(tokenFile string, extra ...string) string {
	return e.totpMountConfigText(totpMount, tokenFile, extra...)
}

// totpMountConfigText is totpConfigText for the engine at mount.
func (e *env) totpMountConfigText(mount, tokenFile string, extra ...string) string {
	lines := append([]string{
		"vault_addr = \"" + e.vault.Addr + "\"",
		"totp_mount_point = \"" + mount + "\"",
		"token_file = \"" + tokenFile + "\"",
		`timeout = "3s"`,
	}, extra...)
	return strings.Join(lines, "\n") + "\n"
}

// totpService writes a PAM service whose only auth line is pam_vault in
// TOTP mode with the shared TOTP config, dev and args.
func (e *env) totpService(t *testing.T, name string, args ...string) string {
	t.Helper()
	te := e.totpSetup(t)
	line := strings.Join(append([]string{"auth requisite MODULE totp config=" + te.config, "dev"}, args...), " ")
	return e.service(t, name, line)
}

// totpKey creates a key named user with digits digits on the shared TOTP
// engine, as enrolment would.
func (e *env) totpKey(t *testing.T, user string, digits int) *testvault.TOTPKey {
	t.Helper()
	e.totpSetup(t)
	k, err := e.vault.CreateTOTPKey(totpMount, user, digits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// code returns a fresh code of k that Vault accepts now.
func code(t *testing.T, k *testvault.TOTPKey) string {
	t.Helper()
	c, err := k.Code()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode returns a code of k's length that Vault refuses now.
func wrongCode(t *testing.T, k *testvault.TOTPKey) string {
	t.Helper()
	c, err := k.WrongCode()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// audit returns Vault's audit log so far.
func (e *env) audit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
