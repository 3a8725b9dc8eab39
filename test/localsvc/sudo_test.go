package localsvc

import (
	"crypto/rand"
	"testing"
)

// sudoDefaultPath is the module's debug line in sudo without in_process.
const sudoDefaultPath = "process sudo is not sshd and in_process is not given; verifying in a helper process"

// sudo's words, as Debian 12's sudo 1.9.13 prints them.
const (
	sudoPrompt   = "[sudo] password for " + caller + ": "
	sudoSorry    = "Sorry, try again."
	sudoNoTokens = "sudo: no password was provided"
)

// Lines the module logs after a refusal under sudo: sudo asks again, and
// with nothing more on standard input the second conversation fails;
// libpam logs "conversation failed" under the module's name.
var sudoAbandoned = [][]string{
	{"conversation failed"},
	{"cannot obtain the one-time password for " + caller},
}

// sudoRun is `sudo -S id -un` run by the caller with token on standard
// input: sudo authenticates the user who runs it, and runs the command as
// root.
func sudoRun(token string) invocation {
	return invocation{user: caller, argv: []string{"sudo", "-S", "id", "-un"}, stdin: token + "\n"}
}

// TestSudo runs the real sudo with pam_vault as the only auth module of its
// service. The OTP is the invoking user's, issued for an address of this
// host (127.0.0.1). A valid OTP runs the command as root; a reused OTP, an
// OTP of another user (root's, the target's), a typed password and an OTP
// of a Vault that has stopped are refused and the command does not run;
// sudo then says "Sorry, try again." rather than the module's message
// (it authenticates with PAM_SILENT) and asks again. The service's line
// has no argument that chooses where the verdict is made: sudo is not
// sshd, so the module verifies in the helper process, and says so.
func TestSudo(t *testing.T) {
	e := setup(t)
	h := e.newHost(t, hostOptions{})
	valid := e.otp(t, caller, "127.0.0.1")

	t.Run("valid OTP", func(t *testing.T) {
		o := h.run(t, sudoRun(valid), valid)
		expectRan(t, o, "root\n")
		expectShown(t, o, sudoPrompt)
		expectModule(t, o, "sudo", []string{"accepted Vault OTP; user=" + caller + " rhost= role=" + role})
		expectPath(t, o, "sudo", sudoDefaultPath)
	})
	t.Run("login shell: the sudo-i service", func(t *testing.T) {
		token := e.otp(t, caller, "127.0.0.1")
		o := h.run(t, invocation{user: caller, argv: []string{"sudo", "-S", "-i", "id", "-un"}, stdin: token + "\n"}, token)
		expectRan(t, o, "root\n")
		expectModule(t, o, "sudo-i", []string{"accepted Vault OTP; user=" + caller})
		expectModule(t, o, "sudo")
	})
	for _, tc := range []struct {
		name  string
		token string
		log   []string
	}{
		{"same OTP again", valid, []string{"authentication failure; user=" + caller, "OTP not found"}},
		{"OTP of the target user", e.otp(t, "root", "127.0.0.1"), []string{`OTP was issued for user \"root\"`}},
		{"typed password", rand.Text(), []string{"token is not shaped like a Vault OTP; Vault was not asked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := h.run(t, sudoRun(tc.token), tc.token)
			expectRefused(t, o, "root")
			expectShown(t, o, sudoPrompt, sudoSorry, sudoNoTokens)
			expectModule(t, o, "sudo", append([][]string{tc.log}, sudoAbandoned...)...)
		})
	}

	t.Run("Vault stopped", func(t *testing.T) {
		stopped := e.stoppedVault(t)
		down := e.newHost(t, hostOptions{vaultAddr: stopped.server.Addr})
		token := stopped.otps[caller]
		o := down.run(t, sudoRun(token), token)
		expectRefused(t, o, "root")
		if o.elapsed > unavailableBound {
			t.Errorf("refused after %s, want within %s", o.elapsed, unavailableBound)
		}
		expectShown(t, o, sudoSorry)
		expectNotShown(t, o, "cannot be checked right now")
		expectModule(t, o, "sudo", append([][]string{{"Vault unavailable; user=" + caller, "connection refused"}}, sudoAbandoned...)...)
	})

	t.Run("no terminal and no -S", func(t *testing.T) {
		token := e.otp(t, caller, "127.0.0.1")
		o := h.run(t, invocation{user: caller, argv: []string{"sudo", "id", "-un"}, stdin: token + "\n"}, token)
		expectRefused(t, o, "root")
		expectShown(t, o, "a terminal is required to read the password")
		expectModule(t, o, "sudo", sudoAbandoned...)
	})

	t.Run("on a terminal", func(t *testing.T) {
		token := e.otp(t, caller, "127.0.0.1")
		o := h.run(t, invocation{user: caller, argv: []string{"sudo", "id", "-un"},
			typed: []string{token}, prompt: sudoPrompt}, token)
		expectRan(t, o, "root")
		expectShown(t, o, sudoPrompt)
		expectNotShown(t, o, token)
		expectModule(t, o, "sudo", []string{"accepted Vault OTP; user=" + caller})
	})

	t.Run("on a terminal, a used OTP then a valid one", func(t *testing.T) {
		token := e.otp(t, caller, "127.0.0.1")
		o := h.run(t, invocation{user: caller, argv: []string{"sudo", "id", "-un"},
			typed: []string{valid, token}, prompt: sudoPrompt}, valid, token)
		expectRan(t, o, "root")
		expectShown(t, o, sudoPrompt+"\r\n"+sudoSorry)
		expectNotShown(t, o, valid, token)
		expectModule(t, o, "sudo",
			[]string{"authentication failure; user=" + caller, "OTP not found"},
			[]string{"accepted Vault OTP; user=" + caller})
	})
}
