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
	"pam_vault/test/security/faultproxy"
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

// totpKey creates the key user, as enrolment would.
func (e *env) totpKey(t *testing.T, user string) *testvault.TOTPKey {
	t.Helper()
	e.totpSetup(t)
	k, err := e.vault.CreateTOTPKey(totpMount, user, 6)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func totpCode(t *testing.T, k *testvault.TOTPKey) string {
	t.Helper()
	c, err := k.Code()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHostileEnvironmentTOTP is TestHostileEnvironment in TOTP mode: with
// VAULT_TOKEN, VAULT_ADDR, proxies and the rest set to hostile values, a
// wrong code fails, a right one succeeds, no impostor is asked anything,
// and what reaches the real Vault carries the token file's token and no
// other, on each path the adapter can take.
func TestHostileEnvironmentTOTP(t *testing.T) {
	e := setup(t)
	tokenFile := e.totpSetup(t)
	k := e.totpKey(t, testUser)
	for _, tc := range []struct {
		name   string
		args   []string
		divert bool
		path   string
	}{
		{"in process", nil, false, "verifying in process"},
		{"helper for load-time variables", nil, true, "GODEBUG is set in the environment; verifying in a helper process"},
		{"helper argument", []string{"helper"}, true, "helper argument given; verifying in a helper process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostile(t, e)
			svc, _ := e.service(t, "hostile-totp", totpConfig(h.vaultAddr(), "8s", tokenFile), append([]string{"totp"}, tc.args...)...)
			vars := h.vars()
			if tc.divert {
				vars = append(append(vars, goRuntimeVars...), resolverVars...)
			}
			wrong, err := k.WrongCode()
			if err != nil {
				t.Fatal(err)
			}
			r := e.pamtester(t, svc, wrong, vars)
			expect(t, r, "PAM_AUTH_ERR")
			logged(t, r.SyslogTexts(), tc.path)
			logged(t, r.SyslogTexts(), "authentication failure", "wrong code")

			r = e.pamtester(t, svc, totpCode(t, k), vars)
			expect(t, r, "PAM_SUCCESS")
			logged(t, r.SyslogTexts(), tc.path)
			logged(t, r.SyslogTexts(), "accepted Vault TOTP code", "user="+testUser)

			if n := h.checkRequests(t, "/v1/"+totpMount+"/code/"+testUser, totpToken); n != 2 {
				t.Errorf("the real Vault got %d code requests, want 2", n)
			}
		})
	}
}

// TestHostileEnvironmentTOTPForkHarness: the parent verifies in process
// under the hostile environment, the forked child in the helper.
func TestHostileEnvironmentTOTPForkHarness(t *testing.T) {
	e := setup(t)
	tokenFile := e.totpSetup(t)
	k := e.totpKey(t, testUser)
	h := newHostile(t, e)
	svc, _ := e.service(t, "hostile-totp-fork", totpConfig(h.vaultAddr(), "8s", tokenFile), "totp")
	wrong, err := k.WrongCode()
	if err != nil {
		t.Fatal(err)
	}
	r := e.fork(t, svc, totpCode(t, k), wrong, h.vars())
	if r.parent != "PAM_AUTH_ERR" || r.child != "PAM_SUCCESS" {
		t.Fatalf("parent %s, child %s; want PAM_AUTH_ERR, PAM_SUCCESS\n%s", r.parent, r.child, r.Output)
	}
	logged(t, r.SyslogTexts(), "verifying in process")
	logged(t, r.SyslogTexts(), "engine was loaded by ancestor process")
	if n := h.checkRequests(t, "/v1/"+totpMount+"/code/"+testUser, totpToken); n != 2 {
		t.Errorf("the real Vault got %d code requests, want 2", n)
	}
}

// totpFaults are the ways a Vault, or whatever answers in its place, can
// fail a code request. Each is put between the module and the real Vault;
// a login with a right code must end in PAM_AUTHINFO_UNAVAIL, never in
// success. The rewrites act on the real Vault's answer to the right code.
func totpFaults() []faultproxy.Fault {
	set := func(v any) func(map[string]any) {
		return func(a map[string]any) { a["data"] = map[string]any{"valid": v} }
	}
	return []faultproxy.Fault{
		faultproxy.Blackhole(),
		faultproxy.StallBody(),
		faultproxy.Drip(100 * time.Millisecond),
		faultproxy.Endless(),
		faultproxy.EndlessHeaders(),
		faultproxy.EndlessInformational(),
		faultproxy.Respond(http.StatusInternalServerError, `{"errors":["internal error"]}`).Named("500"),
		faultproxy.Respond(http.StatusServiceUnavailable, `{"errors":["Vault is sealed"]}`).Named("503"),
		faultproxy.Respond(http.StatusForbidden, `{"errors":["permission denied"]}`).Named("403"),
		faultproxy.Respond(http.StatusNotFound, `{"errors":[]}`).Named("404"),
		faultproxy.Respond(http.StatusTooManyRequests, `{"errors":["rate limit quota exceeded"]}`).Named("429"),
		faultproxy.Respond(http.StatusOK, `{"data":{"valid":tr`).Named("truncated JSON"),
		faultproxy.Respond(http.StatusOK, `<html>valid</html>`).Named("HTML"),
		faultproxy.Respond(http.StatusOK, `{"data":{"valid":false,"valid":true}}`).Named("valid twice"),
		faultproxy.Respond(http.StatusOK, `{"data":{"Valid":true}}`).Named("Valid in another case"),
		faultproxy.Respond(http.StatusOK, `{"data":{"valid":true},"errors":["permission denied"]}`).Named("errors beside valid"),
		faultproxy.Echo(http.StatusInternalServerError).Named("500 echoing the code"),
		faultproxy.Rewrite("no data", func(a map[string]any) { delete(a, "data") }),
		faultproxy.Rewrite("data null", func(a map[string]any) { a["data"] = nil }),
		faultproxy.Rewrite("data empty", func(a map[string]any) { a["data"] = map[string]any{} }),
		faultproxy.Rewrite("data true", func(a map[string]any) { a["data"] = true }),
		faultproxy.Rewrite("valid a string", set("true")),
		faultproxy.Rewrite("valid a number", set(1)),
		faultproxy.Rewrite("valid null", set(nil)),
		faultproxy.Rewrite("valid a list", set([]any{true})),
		faultproxy.Rewrite("the generate answer", func(a map[string]any) { a["data"] = map[string]any{"code": "123456"} }),
	}
}

// TestFailingVaultTOTP puts each fault between the module and the real
// Vault and logs in with a right code, in process and through the helper.
func TestFailingVaultTOTP(t *testing.T) {
	e := setup(t)
	tokenFile := e.totpSetup(t)
	proxy, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	for _, path := range []struct {
		name string
		args []string
	}{{"in process", []string{"totp"}}, {"helper", []string{"totp", "helper"}}} {
		svc, _ := e.service(t, "fault-totp", totpConfig(proxy.URL, faultTimeout.String(), tokenFile), path.args...)
		for _, f := range totpFaults() {
			t.Run(path.name+"/"+f.Name, func(t *testing.T) {
				// A key of its own: Vault takes three codes of a key
				// per period, and every fault gets a right one.
				k := e.totpKey(t, testUser)
				proxy.SetFault(f)
				proxy.Reset()
				r := e.pamtester(t, svc, totpCode(t, k), nil)
				expect(t, r, "PAM_AUTHINFO_UNAVAIL")
				logged(t, r.SyslogTexts(), "Vault unavailable", "user="+testUser)
				withinDeadline(t, r)
				if proxy.Conns() == 0 {
					t.Fatalf("the module never reached the fault:\n%s", r.Output)
				}
			})
		}
	}
	// A 400 that echoes the code is Vault refusing it, as far as pam_vault
	// can tell; the code still never reaches the log (the journal checks).
	proxy.SetFault(faultproxy.Echo(http.StatusBadRequest).Named("400 echoing the code"))
	svc, _ := e.service(t, "fault-totp-echo", totpConfig(proxy.URL, faultTimeout.String(), tokenFile), "totp")
	c := totpCode(t, e.totpKey(t, testUser))
	r := e.pamtester(t, svc, c, nil)
	expect(t, r, "PAM_AUTH_ERR")
	logged(t, r.SyslogTexts(), "you sent", "[code]")
}

// TestVaultStoppedSealedTOTP: a stopped and a sealed Vault are
// PAM_AUTHINFO_UNAVAIL within the deadline on both paths, and the code
// tried while sealed still logs in afterwards: Vault never saw it.
func TestVaultStoppedSealedTOTP(t *testing.T) {
	e := setup(t)
	tokenFile := e.totpSetup(t)
	k := e.totpKey(t, testUser)
	addr, err := faultproxy.RefusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"totp"}, {"totp", "helper"}} {
		svc, _ := e.service(t, "stopped-totp", totpConfig(addr, faultTimeout.String(), tokenFile), args...)
		r := e.pamtester(t, svc, "123456", nil)
		expect(t, r, "PAM_AUTHINFO_UNAVAIL")
		logged(t, r.SyslogTexts(), "Vault unavailable", "connection refused")
		withinDeadline(t, r)
		if !strings.Contains(r.Output, "The verification code cannot be checked right now") {
			t.Fatalf("the user was not told to try later:\n%s", r.Output)
		}
	}

	c := totpCode(t, k)
	if err := e.vault.Seal(); err != nil {
		t.Fatal(err)
	}
	unsealed := false
	unseal := func() {
		if !unsealed {
			unsealed = true
			if err := e.vault.Unseal(); err != nil {
				t.Fatalf("unsealing the shared Vault: %v", err)
			}
		}
	}
	t.Cleanup(unseal)
	cfg := totpConfig(e.vault.Addr, faultTimeout.String(), tokenFile)
	for _, args := range [][]string{{"totp"}, {"totp", "helper"}} {
		svc, _ := e.service(t, "sealed-totp", cfg, args...)
		r := e.pamtester(t, svc, c, nil)
		expect(t, r, "PAM_AUTHINFO_UNAVAIL")
		logged(t, r.SyslogTexts(), "Vault unavailable", "Vault is sealed")
		withinDeadline(t, r)
	}
	unseal()
	svc, _ := e.service(t, "sealed-totp", cfg, "totp")
	r := e.pamtester(t, svc, c, nil)
	expect(t, r, "PAM_SUCCESS")
	logged(t, r.SyslogTexts(), "accepted Vault TOTP code")
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
