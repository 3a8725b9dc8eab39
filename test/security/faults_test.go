package security

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"pam_vault/test/security/faultproxy"
)

// faultTimeout is the timeout of every config in the failing-Vault tests.
const faultTimeout = 2 * time.Second

// margin is what a run may take beyond the configured timeout: process
// start, loading the engine, a busy machine. A hang exceeds it by far; it
// is no measure of speed.
const margin = 10 * time.Second

// withinDeadline fails t unless r ended within the configured timeout plus
// margin.
func withinDeadline(t *testing.T, r run) {
	t.Helper()
	if limit := faultTimeout + margin; r.Elapsed > limit {
		t.Fatalf("the run took %s, more than the timeout %s plus %s\n%s", r.Elapsed, faultTimeout, margin, r.Output)
	}
}

// editData returns a Rewrite edit that applies f to the data object of a
// verify answer.
func editData(f func(data map[string]any)) func(map[string]any) {
	return func(answer map[string]any) {
		if data, ok := answer["data"].(map[string]any); ok {
			f(data)
		}
	}
}

// faultsOfTransport are the ways a Vault, or whatever answers in its
// place, can fail a request of either mode: no answer, one that never ends,
// an error status, an envelope without data. Each is put between the module
// and the real Vault, and a login with a right token must end in
// PAM_AUTHINFO_UNAVAIL, never in success. The rewrites act on the real
// Vault's answer to a right token: Vault said yes, but what arrives is
// broken.
func faultsOfTransport() []faultproxy.Fault {
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
		faultproxy.Rewrite("no data", func(a map[string]any) { delete(a, "data") }),
		faultproxy.Rewrite("data null", func(a map[string]any) { a["data"] = nil }),
		faultproxy.Rewrite("data empty", func(a map[string]any) { a["data"] = map[string]any{} }),
	}
}

// otpFaults are faultsOfTransport and the ways an SSH verify answer can be
// broken.
func otpFaults() []faultproxy.Fault {
	set := func(key string, v any) func(map[string]any) {
		return editData(func(d map[string]any) { d[key] = v })
	}
	drop := func(key string) func(map[string]any) {
		return editData(func(d map[string]any) { delete(d, key) })
	}
	return append(faultsOfTransport(),
		faultproxy.Respond(http.StatusOK, `{"data":{"username":"alice",`).Named("truncated JSON"),
		faultproxy.Respond(http.StatusOK, `<html>not JSON</html>`).Named("HTML"),
		faultproxy.Rewrite("data a string", func(a map[string]any) { a["data"] = "alice" }),
		faultproxy.Rewrite("data an array", func(a map[string]any) { a["data"] = []any{testUser, loopback, role} }),
		faultproxy.Rewrite("no username", drop("username")),
		faultproxy.Rewrite("no ip", drop("ip")),
		faultproxy.Rewrite("no role_name", drop("role_name")),
		faultproxy.Rewrite("username a number", set("username", 1000)),
		faultproxy.Rewrite("username null", set("username", nil)),
		faultproxy.Rewrite("ip an array", set("ip", []any{loopback})),
		faultproxy.Rewrite("ip an object", set("ip", map[string]any{"ip": loopback})),
		faultproxy.Rewrite("role_name a boolean", set("role_name", true)),
		faultproxy.Rewrite("ip not an address", set("ip", "localhost")),
	)
}

// totpFaults are faultsOfTransport and the ways a TOTP code answer can be
// broken.
func totpFaults() []faultproxy.Fault {
	set := func(v any) func(map[string]any) {
		return func(a map[string]any) { a["data"] = map[string]any{"valid": v} }
	}
	return append(faultsOfTransport(),
		faultproxy.Respond(http.StatusOK, `{"data":{"valid":tr`).Named("truncated JSON"),
		faultproxy.Respond(http.StatusOK, `<html>valid</html>`).Named("HTML"),
		faultproxy.Respond(http.StatusOK, `{"data":{"valid":false,"valid":true}}`).Named("valid twice"),
		faultproxy.Respond(http.StatusOK, `{"data":{"Valid":true}}`).Named("Valid in another case"),
		faultproxy.Respond(http.StatusOK, `{"data":{"valid":true},"errors":["permission denied"]}`).Named("errors beside valid"),
		faultproxy.Echo(http.StatusInternalServerError).Named("500 echoing the code"),
		faultproxy.Rewrite("data true", func(a map[string]any) { a["data"] = true }),
		faultproxy.Rewrite("valid a string", set("true")),
		faultproxy.Rewrite("valid a number", set(1)),
		faultproxy.Rewrite("valid null", set(nil)),
		faultproxy.Rewrite("valid a list", set([]any{true})),
		faultproxy.Rewrite("the generate answer", func(a map[string]any) { a["data"] = map[string]any{"code": "123456"} }),
	)
}

// TestFailingVault puts each fault of each mode between the module and the
// real Vault and logs in with a right token, in process and through the
// helper.
func TestFailingVault(t *testing.T) {
	e := setup(t)
	proxy, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	for _, m := range modes {
		for _, path := range []struct {
			name string
			args []string
		}{{"in process", nil}, {"helper", []string{"helper"}}} {
			svc := m.service(t, e, "fault", proxy.URL, faultTimeout.String(), path.args...)
			for _, f := range m.faults() {
				t.Run(m.name+"/"+path.name+"/"+f.Name, func(t *testing.T) {
					right := m.newUser(t, e).right(t)
					proxy.SetFault(f)
					proxy.Reset()
					r := e.pamtester(t, svc, right, nil)
					expect(t, r, "PAM_AUTHINFO_UNAVAIL")
					logged(t, r.SyslogTexts(), "Vault unavailable", "user="+testUser)
					withinDeadline(t, r)
					if proxy.Conns() == 0 {
						t.Fatalf("the module never reached the fault:\n%s", r.Output)
					}
					t.Logf("%s after %s: %s", r.code, r.Elapsed.Round(time.Millisecond), r.SyslogTexts()[len(r.SyslogTexts())-1])
				})
			}
		}
	}
	// A 400 that echoes the code is Vault refusing it, as far as pam_vault
	// can tell; the code still never reaches the log (the journal checks).
	// TOTP mode only: its errors are redacted of the code.
	t.Run("TOTP/400 echoing the code", func(t *testing.T) {
		proxy.SetFault(faultproxy.Echo(http.StatusBadRequest).Named("400 echoing the code"))
		svc := totpMode.service(t, e, "fault-echo", proxy.URL, faultTimeout.String())
		r := e.pamtester(t, svc, totpMode.newUser(t, e).right(t), nil)
		expect(t, r, "PAM_AUTH_ERR")
		logged(t, r.SyslogTexts(), "you sent", "[code]")
	})
}

// TestRefusedConnection points the module at a port where nothing listens,
// as a stopped Vault leaves it: PAM_AUTHINFO_UNAVAIL within the deadline on
// both paths, and the user is told to try later.
func TestRefusedConnection(t *testing.T) {
	e := setup(t)
	addr, err := faultproxy.RefusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, args := range [][]string{nil, {"helper"}} {
				svc := m.service(t, e, "refused", addr, faultTimeout.String(), args...)
				r := e.pamtester(t, svc, m.newUser(t, e).right(t), nil)
				expect(t, r, "PAM_AUTHINFO_UNAVAIL")
				logged(t, r.SyslogTexts(), "Vault unavailable", "connection refused")
				withinDeadline(t, r)
				if !strings.Contains(r.Output, m.unavailable) {
					t.Fatalf("the user was not told to try later:\n%s", r.Output)
				}
			}
		})
	}
}

// TestRedirectIsNotFollowed has the proxy redirect the verify request to an
// impostor that would say yes: the module must not follow, so the OTP never
// leaves for an address the config does not name.
func TestRedirectIsNotFollowed(t *testing.T) {
	e := setup(t)
	imp := newImpostor(t, false)
	proxy, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.SetFault(faultproxy.Redirect(imp.URL))
	svc, _ := e.service(t, "redirect", config(proxy.URL, faultTimeout.String()))
	r := e.pamtester(t, svc, forgedOTP, nil)
	expect(t, r, "PAM_AUTHINFO_UNAVAIL")
	if seen := imp.requests(); len(seen) != 0 {
		t.Fatalf("the redirect was followed to the impostor: %q", seen)
	}
}

// TestSealedVault seals the real test Vault and logs in through it: the
// module must answer PAM_AUTHINFO_UNAVAIL within the deadline on both
// paths. After unsealing, the token tried while sealed still logs in: Vault
// never saw it, so the failed attempts did not use it up.
func TestSealedVault(t *testing.T) {
	e := setup(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			right := m.newUser(t, e).right(t)
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
			if sealed, err := e.vault.Sealed(); err != nil || !sealed {
				t.Fatalf("Vault sealed = %v, %v after Seal", sealed, err)
			}
			for _, args := range [][]string{nil, {"helper"}} {
				svc := m.service(t, e, "sealed", e.vault.Addr, faultTimeout.String(), args...)
				r := e.pamtester(t, svc, right, nil)
				expect(t, r, "PAM_AUTHINFO_UNAVAIL")
				logged(t, r.SyslogTexts(), "Vault unavailable", "Vault is sealed")
				withinDeadline(t, r)
			}
			unseal()
			svc := m.service(t, e, "sealed", e.vault.Addr, faultTimeout.String())
			r := e.pamtester(t, svc, right, nil)
			expect(t, r, "PAM_SUCCESS")
			logged(t, r.SyslogTexts(), m.accepted...)
		})
	}
}
