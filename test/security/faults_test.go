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

// vaultFaults are the ways a Vault, or whatever answers in its place, can
// fail. Each is put between the module and the real Vault, and a login with
// a real OTP must end in PAM_AUTHINFO_UNAVAIL, never in success. The edits
// act on the real Vault's answer to a real OTP: Vault said yes, but what
// arrives is broken.
func vaultFaults() []faultproxy.Fault {
	set := func(key string, v any) func(map[string]any) {
		return editData(func(d map[string]any) { d[key] = v })
	}
	drop := func(key string) func(map[string]any) {
		return editData(func(d map[string]any) { delete(d, key) })
	}
	return []faultproxy.Fault{
		faultproxy.Blackhole(),
		faultproxy.StallBody(),
		faultproxy.Drip(100 * time.Millisecond),
		faultproxy.Respond(http.StatusInternalServerError, `{"errors":["internal error"]}`).Named("500"),
		faultproxy.Respond(http.StatusServiceUnavailable, `{"errors":["Vault is sealed"]}`).Named("503"),
		faultproxy.Respond(http.StatusOK, `{"data":{"username":"alice",`).Named("truncated JSON"),
		faultproxy.Respond(http.StatusOK, `<html>not JSON</html>`).Named("HTML"),
		faultproxy.Endless(),
		faultproxy.EndlessHeaders(),
		faultproxy.EndlessInformational(),
		faultproxy.Rewrite("no data", func(a map[string]any) { delete(a, "data") }),
		faultproxy.Rewrite("data null", func(a map[string]any) { a["data"] = nil }),
		faultproxy.Rewrite("data a string", func(a map[string]any) { a["data"] = "alice" }),
		faultproxy.Rewrite("data an array", func(a map[string]any) { a["data"] = []any{testUser, loopback, role} }),
		faultproxy.Rewrite("data empty", func(a map[string]any) { a["data"] = map[string]any{} }),
		faultproxy.Rewrite("no username", drop("username")),
		faultproxy.Rewrite("no ip", drop("ip")),
		faultproxy.Rewrite("no role_name", drop("role_name")),
		faultproxy.Rewrite("username a number", set("username", 1000)),
		faultproxy.Rewrite("username null", set("username", nil)),
		faultproxy.Rewrite("ip an array", set("ip", []any{loopback})),
		faultproxy.Rewrite("ip an object", set("ip", map[string]any{"ip": loopback})),
		faultproxy.Rewrite("role_name a boolean", set("role_name", true)),
		faultproxy.Rewrite("ip not an address", set("ip", "localhost")),
	}
}

// TestFailingVault puts each fault between the module and the real Vault and
// logs in with a real OTP, in process and through the helper.
func TestFailingVault(t *testing.T) {
	e := setup(t)
	proxy, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	for _, path := range []struct {
		name string
		args []string
	}{{"in process", nil}, {"helper", []string{"helper"}}} {
		svc, _ := e.service(t, "fault", config(proxy.URL, faultTimeout.String()), path.args...)
		for _, f := range vaultFaults() {
			t.Run(path.name+"/"+f.Name, func(t *testing.T) {
				proxy.SetFault(f)
				proxy.Reset()
				r := e.pamtester(t, svc, e.otp(t), nil)
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

// TestRefusedConnection points the module at a port where nothing listens.
func TestRefusedConnection(t *testing.T) {
	e := setup(t)
	addr, err := faultproxy.RefusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"helper"}} {
		svc, _ := e.service(t, "refused", config(addr, faultTimeout.String()), args...)
		r := e.pamtester(t, svc, e.otp(t), nil)
		expect(t, r, "PAM_AUTHINFO_UNAVAIL")
		logged(t, r.SyslogTexts(), "Vault unavailable", "connection refused")
		withinDeadline(t, r)
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
// module must answer PAM_AUTHINFO_UNAVAIL on both paths. After unsealing,
// the OTP issued before the seal still logs in: the failed attempts did
// not use it up.
func TestSealedVault(t *testing.T) {
	e := setup(t)
	otp := e.otp(t)
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
	cfg := config(e.vault.Addr, faultTimeout.String())
	for _, args := range [][]string{nil, {"helper"}} {
		svc, _ := e.service(t, "sealed", cfg, args...)
		r := e.pamtester(t, svc, otp, nil)
		expect(t, r, "PAM_AUTHINFO_UNAVAIL")
		logged(t, r.SyslogTexts(), "Vault unavailable", "Vault is sealed")
		withinDeadline(t, r)
	}
	unseal()
	svc, _ := e.service(t, "sealed", cfg)
	r := e.pamtester(t, svc, otp, nil)
	expect(t, r, "PAM_SUCCESS")
	if !strings.Contains(r.Output, "accepted Vault OTP") {
		t.Fatalf("no acceptance logged:\n%s", r.Output)
	}
}
