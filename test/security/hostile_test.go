package security

import (
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
)

// TestHostileEnvironment is DESIGN.md invariant 2 through real libpam, in
// each mode: with every variable a caller could use to redirect, weaken or
// stall the Vault call set to hostile values, a wrong token fails, a right
// one succeeds, no impostor is asked anything, and what reaches the real
// Vault carries no namespace or extra header, and no token but the one the
// config names. On each path the adapter can take.
func TestHostileEnvironment(t *testing.T) {
	e := setup(t)
	for _, m := range modes {
		for _, tc := range []struct {
			name   string
			args   []string // extra module arguments
			divert bool     // also set goRuntimeVars and resolverVars
			path   string   // the adapter's debug line for the path it took
		}{
			{"in process", nil, false, "verifying in process"},
			{"helper for load-time variables", nil, true, "GODEBUG is set in the environment; verifying in a helper process"},
			{"helper argument", []string{"helper"}, true, "helper argument given; verifying in a helper process"},
		} {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				h := newHostile(t, e)
				svc := m.service(t, e, "hostile", h.vaultAddr(), "8s", tc.args...)
				vars := h.vars()
				if tc.divert {
					vars = append(append(vars, goRuntimeVars...), resolverVars...)
				}
				u := m.newUser(t, e)
				r := e.pamtester(t, svc, u.wrong(t), vars)
				expect(t, r, "PAM_AUTH_ERR")
				logged(t, r.SyslogTexts(), tc.path)
				logged(t, r.SyslogTexts(), "authentication failure", m.refused)

				r = e.pamtester(t, svc, u.right(t), vars)
				expect(t, r, "PAM_SUCCESS")
				logged(t, r.SyslogTexts(), tc.path)
				logged(t, r.SyslogTexts(), m.accepted...)

				if n := m.checkVault(t, h); n != 2 {
					t.Errorf("the real Vault got %d requests, want 2", n)
				}
			})
		}
	}
}

// TestHostileEnvironmentForkHarness runs the same hostile environment
// through the fork harness, in each mode: the parent verifies in process,
// which loads the engine; the forked child must then verify in the helper,
// which starts with an empty environment. goRuntimeVars and resolverVars
// are left out, as they would send the parent to the helper too.
func TestHostileEnvironmentForkHarness(t *testing.T) {
	e := setup(t)
	for _, m := range modes {
		for _, tc := range []struct {
			name                  string
			parentRight           bool
			wantParent, wantChild string
		}{
			{"right token in the parent, wrong in the child", true, "PAM_SUCCESS", "PAM_AUTH_ERR"},
			{"wrong token in the parent, right in the child", false, "PAM_AUTH_ERR", "PAM_SUCCESS"},
		} {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				h := newHostile(t, e)
				svc := m.service(t, e, "hostile-fork", h.vaultAddr(), "8s")
				u := m.newUser(t, e)
				parent, child := u.wrong(t), u.right(t)
				if tc.parentRight {
					parent, child = child, parent
				}
				r := e.fork(t, svc, child, parent, h.vars())
				if r.parent != tc.wantParent || r.child != tc.wantChild {
					t.Fatalf("parent %s, child %s; want %s, %s\n%s", r.parent, r.child, tc.wantParent, tc.wantChild, r.Output)
				}
				logged(t, r.SyslogTexts(), "verifying in process")
				logged(t, r.SyslogTexts(), "engine was loaded by ancestor process")
				if n := m.checkVault(t, h); n != 2 {
					t.Errorf("the real Vault got %d requests, want 2", n)
				}
			})
		}
	}
}

// TestLoadTimeVariablesUseTheHelper sets, each on its own, the variables
// the engine's Go runtime reads when it loads and those that would send its
// name lookups to glibc's resolver: the adapter must not verify in process
// under any of them, and the helper, started with an empty environment,
// must still decide right.
func TestLoadTimeVariablesUseTheHelper(t *testing.T) {
	e := setup(t)
	h := newHostile(t, e)
	svc, _ := e.service(t, "load-time", h.config())
	for _, v := range append(append([]string(nil), goRuntimeVars...), resolverVars...) {
		name, _, _ := strings.Cut(v, "=")
		t.Run(name, func(t *testing.T) {
			r := e.pamtester(t, svc, forgedOTP, []string{v})
			expect(t, r, "PAM_AUTH_ERR")
			logged(t, r.SyslogTexts(), name+" is set in the environment; verifying in a helper process")
			logged(t, r.SyslogTexts(), "OTP not found")
			r = e.pamtester(t, svc, e.otp(t), []string{v})
			expect(t, r, "PAM_SUCCESS")
		})
	}
	h.checkUntouched(t)
}

// TestUserNameCannotForgeALogLine: the user name is the caller's to choose
// (su's argument, sshd's login name). One that holds a newline and a line
// of sshd's own must not become a second syslog line when the adapter logs
// it, here in its line about a failed conversation.
func TestUserNameCannotForgeALogLine(t *testing.T) {
	e := setup(t)
	svc, _ := e.service(t, "forge", config(e.vault.Addr, "3s"))
	forged := "sshd[1]: Accepted password for root from 192.0.2.1 port 22 ssh2"
	user := "x\n" + forged
	// No answer on stdin: the conversation fails. Without -v, pamtester
	// itself does not print the user name.
	o := pamtest.Pamtester(t, runLimit, pamtest.WrapperEnv(e.serviceDir, 2), "", svc, user, "authenticate")
	journal.Record(t, 1, nil, o.Syslog)
	if o.Result != "Conversation error" {
		t.Fatalf("want a conversation error, got %q\n%s", o.Result, o.Output)
	}
	logged(t, o.SyslogTexts(), `cannot obtain the one-time password for "x\x0a`+forged+`"`)
	for _, line := range strings.Split(o.Output, "\n") {
		if strings.HasPrefix(line, "sshd[1]") {
			t.Fatalf("the user name started a line of its own:\n%s", o.Output)
		}
	}
}
