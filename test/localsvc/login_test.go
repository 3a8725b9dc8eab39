package localsvc

import (
	"crypto/rand"
	"strings"
	"testing"
)

// login's words, the same in Debian 12's login (shadow 4.13) and Debian
// 13's (util-linux 2.41).
const (
	// loginPrompt is the module's prompt, which login shows as it is.
	loginPrompt = "Password: "
	// loginIncorrect is what login says after any refusal, before it
	// asks for a user name again.
	loginIncorrect = "Login incorrect"
	// loginAgain ends the prompt for a user name after a refusal,
	// "<host> login: " ("login: " without a host name); "Login
	// incorrect" does not hold it.
	loginAgain = "login: "
	// shellPrompt is the login shell's: the users' shell is /bin/sh
	// (dash), and Debian's /etc/profile sets PS1 to "$ " for a user
	// other than root.
	shellPrompt = "$ "
	// shellCommand is what the user types in the shell, and shellSaid
	// what it prints there: not in the echo of the command, so seen only
	// when a shell of the user's ran it.
	shellCommand = `echo "logged in as $(id -un)"; exit`
	shellSaid    = "logged in as "
	// loginDefaultPath is the module's debug line in login without
	// in_process.
	loginDefaultPath = "process login is not sshd and in_process is not given; verifying in a helper process"
)

// loginRun is `login pvlocal2` run by root on a terminal, as getty runs it
// once it has read a user name: the user types token at the password
// prompt and, if a shell starts, shellCommand in it.
func loginRun(token string) invocation {
	return invocation{user: "root", argv: []string{"login", target},
		typed: []string{token, shellCommand}, prompts: []string{loginPrompt, shellPrompt}}
}

// loginRefused is `login pvlocal2` where token is to be refused: the user
// types it and hangs up when login asks for a user name again.
func loginRefused(token string) invocation {
	return invocation{user: "root", argv: []string{"login", target},
		typed: []string{token}, prompt: loginPrompt, hangUpAt: loginAgain}
}

// TestLogin runs the system's login(1) on a pseudo-terminal, with
// pam_vault as the only auth module of its service: Debian 12's login from
// shadow, Debian 13's from util-linux. login authenticates the user it
// logs in, so the OTP is pvlocal2's, issued for an address of this host
// (127.0.0.1). A valid OTP starts pvlocal2's login shell, which runs what
// the user types; a reused OTP, another user's OTP, a typed password and
// an OTP of a Vault that has stopped are refused: login says "Login
// incorrect" and asks for a user name again, and no session is opened.
// login is not sshd, so the module verifies in the helper process, as its
// debug line says.
func TestLogin(t *testing.T) {
	e := setup(t)
	h := e.newHost(t, hostOptions{})
	valid := e.otp(t, target, "127.0.0.1")

	t.Run("valid OTP", func(t *testing.T) {
		o := h.run(t, loginRun(valid), valid)
		expectRan(t, o, shellSaid+target)
		expectShown(t, o, loginPrompt)
		expectNotShown(t, o, valid)
		expectModule(t, o, "login", []string{"accepted Vault OTP; user=" + target + " rhost= role=" + role})
		expectPath(t, o, "login", loginDefaultPath)
		expectSession(t, o, true)
	})
	for _, tc := range []struct {
		name  string
		token string
		log   []string
	}{
		{"same OTP again", valid, []string{"authentication failure; user=" + target, "OTP not found"}},
		{"OTP of another user", e.otp(t, caller, "127.0.0.1"), []string{`OTP was issued for user \"` + caller + `\"`}},
		{"typed password", rand.Text(), []string{"token is not shaped like a Vault OTP; Vault was not asked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := h.run(t, loginRefused(tc.token), tc.token)
			expectLoginRefused(t, o)
			expectNotShown(t, o, tc.token)
			expectModule(t, o, "login", tc.log)
			expectPath(t, o, "login", loginDefaultPath)
		})
	}

	// A run that outlives runLimit is killed and reported as a hang, as
	// in TestSudoNeverHangs; the stopped Vault refuses connections, so
	// the module answers at once.
	t.Run("Vault stopped", func(t *testing.T) {
		stopped := e.stoppedVault(t)
		down := e.newHost(t, hostOptions{vaultAddr: stopped.server.Addr})
		token := stopped.otps[target]
		o, err := down.try(t, loginRefused(token), token)
		if err != nil {
			t.Fatalf("login with Vault stopped: %v\n%s", err, o)
		}
		expectLoginRefused(t, o)
		expectShown(t, o, unavailableMessage)
		expectModule(t, o, "login", []string{"Vault unavailable; user=" + target, "connection refused"})
	})

	t.Run("a used OTP, then the user name and a valid OTP", func(t *testing.T) {
		token := e.otp(t, target, "127.0.0.1")
		o := h.run(t, invocation{user: "root", argv: []string{"login", target},
			typed:   []string{valid, target, token, shellCommand},
			prompts: []string{loginPrompt, loginAgain, loginPrompt, shellPrompt}}, valid, token)
		expectRan(t, o, shellSaid+target)
		expectShown(t, o, loginIncorrect)
		expectNotShown(t, o, valid, token)
		expectModule(t, o, "login",
			[]string{"authentication failure; user=" + target, "OTP not found"},
			[]string{"accepted Vault OTP; user=" + target})
		expectSession(t, o, true)
	})
}

// expectLoginRefused fails t unless login said "Login incorrect", asked
// for a user name again, started no shell and opened no session.
func expectLoginRefused(t *testing.T, o outcome) {
	t.Helper()
	expectRefused(t, o, shellSaid)
	i := strings.Index(o.transcript, loginIncorrect)
	if i < 0 || !strings.Contains(o.transcript[i:], loginAgain) {
		t.Fatalf("want login to say %q and ask for a user name again: %s", loginIncorrect, o)
	}
	expectSession(t, o, false)
}

// expectSession fails t unless pam_unix logged that it opened a session
// for the target user, or, when !opened, that it did not.
func expectSession(t *testing.T, o outcome, opened bool) {
	t.Helper()
	want := "pam_unix(login:session): session opened for user " + target
	found := false
	for _, l := range o.syslog {
		found = found || strings.Contains(l.Text, want)
	}
	if found != opened {
		t.Fatalf("want %q logged: %t: %s", want, opened, o)
	}
}
