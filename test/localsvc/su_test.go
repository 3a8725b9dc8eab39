package localsvc

import (
	"crypto/rand"
	"testing"
)

const (
	// goTrace makes a Go runtime that reads it print its start-up on
	// standard error, where goTraced then shows: the caller's setting
	// reached a Go runtime in the setuid program.
	goTrace  = "GODEBUG=inittrace=1"
	goTraced = "init runtime @"
	// suPrompt is the prompt of the module, which su shows as it is.
	suPrompt = "Password: "
	// unavailableMessage is what the module tells the user when Vault
	// cannot answer.
	unavailableMessage = "The one-time password cannot be checked right now; try again later."
)

// suRun is `su pvlocal2 -c 'id -un'` run by the caller with token on
// standard input (util-linux su reads it there): su authenticates the
// target user.
func suRun(token string, env ...string) invocation {
	return invocation{user: caller, argv: []string{"su", target, "-c", "id -un"}, stdin: token + "\n", env: env}
}

// TestSu runs util-linux su with pam_vault as the only auth module of its
// service after pam_rootok. The OTP is the target user's, issued for an
// address of this host (127.0.0.1). A valid OTP runs the command as the
// target; a reused OTP, the caller's own OTP, a typed password and an OTP
// of a Vault that has stopped are refused and the command does not run; su
// shows the module's message. su is not sshd, so the module verifies in
// the helper process; with in_process on the line it verifies in process,
// except with GODEBUG in the caller's environment, which su passes on.
func TestSu(t *testing.T) {
	e := setup(t)
	h := e.newHost(t, hostOptions{})
	valid := e.otp(t, target, "127.0.0.1")

	t.Run("valid OTP", func(t *testing.T) {
		o := h.run(t, suRun(valid), valid)
		expectRan(t, o, target+"\n")
		expectShown(t, o, suPrompt)
		expectModule(t, o, "su", []string{"accepted Vault OTP; user=" + target + " rhost= role=" + role})
		expectPath(t, o, "su", "process su is not sshd and in_process is not given; verifying in a helper process")
	})
	t.Run("login shell: the su-l service", func(t *testing.T) {
		token := e.otp(t, target, "127.0.0.1")
		o := h.run(t, invocation{user: caller, argv: []string{"su", "-l", target, "-c", "id -un"}, stdin: token + "\n"}, token)
		expectRan(t, o, target+"\n")
		expectModule(t, o, "su-l", []string{"accepted Vault OTP; user=" + target})
	})
	for _, tc := range []struct {
		name  string
		token string
		log   []string
	}{
		{"same OTP again", valid, []string{"authentication failure; user=" + target, "OTP not found"}},
		{"OTP of the calling user", e.otp(t, caller, "127.0.0.1"), []string{`OTP was issued for user \"` + caller + `\"`}},
		{"typed password", rand.Text(), []string{"token is not shaped like a Vault OTP; Vault was not asked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := h.run(t, suRun(tc.token), tc.token)
			expectRefused(t, o, target)
			expectShown(t, o, "su: Authentication failure")
			expectModule(t, o, "su", tc.log)
		})
	}

	t.Run("Vault stopped", func(t *testing.T) {
		stopped := e.stoppedVault(t)
		down := e.newHost(t, hostOptions{vaultAddr: stopped.server.Addr})
		token := stopped.otps[target]
		o := down.run(t, suRun(token), token)
		expectRefused(t, o, target)
		if o.elapsed > unavailableBound {
			t.Errorf("refused after %s, want within %s", o.elapsed, unavailableBound)
		}
		expectShown(t, o, unavailableMessage, "su: Authentication service cannot retrieve authentication info")
		expectModule(t, o, "su", []string{"Vault unavailable; user=" + target, "connection refused"})
	})

	// su waits for its command with waitpid(), so the engine may be
	// loaded into it; in_process opts in.
	opted := e.newHost(t, hostOptions{moduleArgs: []string{"in_process"}})
	t.Run("in_process", func(t *testing.T) {
		token := e.otp(t, target, "127.0.0.1")
		o := opted.run(t, suRun(token), token)
		expectRan(t, o, target+"\n")
		expectModule(t, o, "su", []string{"accepted Vault OTP; user=" + target})
		expectPath(t, o, "su", "verifying in process (in_process argument given)")
	})
	t.Run("in_process, GODEBUG in the caller's environment", func(t *testing.T) {
		token := e.otp(t, target, "127.0.0.1")
		o := opted.run(t, suRun(token, goTrace), token)
		expectRan(t, o, target+"\n")
		expectModule(t, o, "su", []string{"accepted Vault OTP; user=" + target})
		expectPath(t, o, "su", "GODEBUG is set in the environment; verifying in a helper process")
		expectNotShown(t, o, goTraced)
	})

	t.Run("on a terminal", func(t *testing.T) {
		token := e.otp(t, target, "127.0.0.1")
		o := h.run(t, invocation{user: caller, argv: []string{"su", target, "-c", "id -un"},
			typed: []string{token}, prompt: suPrompt}, token)
		expectRan(t, o, target)
		expectNotShown(t, o, token)
		expectModule(t, o, "su", []string{"accepted Vault OTP; user=" + target})
	})
}
