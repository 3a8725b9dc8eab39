package security

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pam_vault/internal/testvault"
)

// The TOTP side of the shared Vault: the engine at totpMount and a token
// with update on <totpMount>/code/* only, in a token file.
const totpMount = "totp"

var (
	totpToken, totpTokenFile string
	totpErr                  error
	totpOnce                 sync.Once
)

// totpSetup mounts the TOTP engine on the shared Vault and writes the
// verifying token's file, once, and returns that file.
func (e *env) totpSetup(t *testing.T) string {
	t.Helper()
	totpOnce.Do(func() {
		if totpErr = e.vault.EnableTOTP(totpMount); totpErr != nil {
			return
		}
		if totpErr = e.vault.WritePolicy("pam-vault-totp", testvault.VerifyPolicy(totpMount)); totpErr != nil {
			return
		}
		if totpToken, totpErr = e.vault.CreateToken([]string{"pam-vault-totp"}, time.Hour); totpErr != nil {
			return
		}
		totpTokenFile = filepath.Join(e.dir, "totp-token")
		totpErr = os.WriteFile(totpTokenFile, []byte(totpToken), 0o600)
	})
	if totpErr != nil {
		t.Fatalf("setting up Vault's TOTP engine: %v", totpErr)
	}
	return totpTokenFile
}

// totpConfig is a TOTP config's text for vaultAddr and timeout.
func totpConfig(vaultAddr, timeout, tokenFile string) string {
	return "vault_addr = \"" + vaultAddr + "\"\ntotp_mount_point = \"" + totpMount +
		"\"\ntoken_file = \"" + tokenFile + "\"\ntimeout = \"" + timeout + "\"\n"
}

// totpUser is a user of TOTP mode: testUser's key, created as enrolment
// would. Each has a key of its own: Vault takes three codes of a key per
// period, and a test that needs more would wait for the next one.
func totpUser(t *testing.T, e *env) user {
	t.Helper()
	e.totpSetup(t)
	k, err := e.vault.CreateTOTPKey(totpMount, testUser, 6)
	if err != nil {
		t.Fatal(err)
	}
	code := func(get func() (string, error)) func(*testing.T) string {
		return func(t *testing.T) string {
			t.Helper()
			c, err := get()
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	return user{right: code(k.Code), wrong: code(k.WrongCode)}
}

// TestVaultRateLimitTOTP applies README's rate-limit quota to a TOTP
// mount of its own: once the quota is spent, Vault answers 429 and the
// login is PAM_AUTHINFO_UNAVAIL, without Vault having checked the code.
func TestVaultRateLimitTOTP(t *testing.T) {
	e := setup(t)
	tokenFile := e.totpSetup(t)
	const limited = "totp-limited"
	if err := e.vault.EnableTOTP(limited); err != nil {
		t.Fatal(err)
	}
	if err := e.vault.WritePolicy("pam-vault-totp", testvault.VerifyPolicy(totpMount)+testvault.VerifyPolicy(limited)); err != nil {
		t.Fatal(err)
	}
	// As README writes it with the CLI:
	// vault write sys/quotas/rate-limit/pam-vault-totp path='totp/code/*' rate=3 interval=1m
	// Measured on Vault 1.21: a path suffix without the trailing * (totp/code
	// or totp/code/) matches that very path only and limits nothing.
	quota := map[string]any{"path": limited + "/code/*", "rate": 3, "interval": "1m"}
	if err := e.vault.Do(http.MethodPost, "sys/quotas/rate-limit/pam-vault-totp-test", quota, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.vault.Do(http.MethodDelete, "sys/quotas/rate-limit/pam-vault-totp-test", nil, nil) })
	k, err := e.vault.CreateTOTPKey(limited, testUser, 6)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(totpConfig(e.vault.Addr, faultTimeout.String(), tokenFile), `"totp"`, `"`+limited+`"`, 1)
	svc, _ := e.service(t, "rate-limited", cfg, "totp")
	limitedOnce := false
	for i := 0; i < 6 && !limitedOnce; i++ {
		wrong, err := k.WrongCode()
		if err != nil {
			t.Fatal(err)
		}
		wrong = wrong[:5] + string(rune('0'+i)) // six distinct codes
		r := e.pamtester(t, svc, wrong, nil)
		switch r.code {
		case "PAM_AUTH_ERR":
		case "PAM_AUTHINFO_UNAVAIL":
			logged(t, r.SyslogTexts(), "HTTP 429", "rate limit quota exceeded")
			limitedOnce = true
			if i < 3 {
				t.Fatalf("rate limited after %d requests, want 3 allowed", i)
			}
		default:
			t.Fatalf("attempt %d: %s\n%s", i, r.code, r.Output)
		}
	}
	if !limitedOnce {
		t.Fatal("six guesses within a minute were never rate limited")
	}
}
