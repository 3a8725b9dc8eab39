package sshd

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/sshdtest"
)

// TestPAMProcess shows, on the installed sshd release, which process runs
// pam_vault for each method and which path the module takes there:
//
//   - keyboard-interactive: the "[pam]" child the monitor forks after
//     pam_start, which loads the engine itself and verifies in process;
//   - password: the "[priv]" monitor, in process;
//   - a failed password, then keyboard-interactive (under [default=ok]):
//     the monitor in process, then the "[pam]" child, which inherited the
//     engine the monitor loaded and so verifies in the helper process.
//
// While the client answers sshd's question the test lists the connection's
// processes (sshdtest.Server.Connection): their pids, parents, titles and
// the files they have mapped. Each pam_vault line must then come from the
// expected one of them: glibc's syslog tag names the program and pid. Up to
// OpenSSH 9.7 the program is sshd, from 9.8 sshd-session; from 10.0 the
// unprivileged child is sshd-auth, which never calls pam_start: it has no
// PAM module mapped (Debian links it with libpam all the same), and no line
// comes from it.
func TestPAMProcess(t *testing.T) {
	e := setup(t)
	v := e.version
	t.Logf("sshd is %s: PAM runs in %s, the unprivileged child is %s", v, v.SessionProgram(), v.AuthProgram())
	s := e.startServer(t, serverOptions{
		config:     configText(e.vault.Addr),
		password:   true,
		control:    "[default=ok]",
		moduleArgs: []string{"debug"},
	})

	t.Run("keyboard-interactive", func(t *testing.T) {
		kbd := s.sshd.Watch(v, testUserName)
		sysMark := s.watchedLogin(t, e, func(otp string) []ssh.AuthMethod {
			return []ssh.AuthMethod{ssh.KeyboardInteractive(answerNoting(kbd, otp))}
		}, "Accepted keyboard-interactive/pam for "+testUserName)
		conn := sshdtest.CheckedConnection(t, kbd)
		child := sshdtest.PAMChild(t, conn)
		// pam_start loaded the module into the monitor, which never
		// loads the engine; the child loads it before it asks, so that
		// after the answer only Vault's answer is left to wait for.
		sshdtest.NoEngine(t, conn.Monitor)
		sshdtest.HasEngine(t, "when the question was answered", child)
		lines := sshdtest.ModuleLines(t, s.syslog, sysMark, 2)
		sshdtest.ExpectFrom(t, lines, "verifying in process", child)
		sshdtest.ExpectFrom(t, lines, "accepted Vault OTP", child)
	})

	t.Run("password", func(t *testing.T) {
		pw := s.sshd.Watch(v, testUserName)
		sysMark := s.watchedLogin(t, e, func(otp string) []ssh.AuthMethod {
			return []ssh.AuthMethod{ssh.PasswordCallback(passwordNoting(pw, otp))}
		}, "Accepted password for "+testUserName)
		conn := sshdtest.CheckedConnection(t, pw)
		sshdtest.NoEngine(t, conn.Monitor)
		lines := sshdtest.ModuleLines(t, s.syslog, sysMark, 2)
		sshdtest.ExpectFrom(t, lines, "verifying in process", conn.Monitor)
		sshdtest.ExpectFrom(t, lines, "accepted Vault OTP", conn.Monitor)
	})

	t.Run("a failed password, then keyboard-interactive", func(t *testing.T) {
		pw, kbd := s.sshd.Watch(v, testUserName), s.sshd.Watch(v, testUserName)
		sysMark := s.watchedLogin(t, e, func(otp string) []ssh.AuthMethod {
			return []ssh.AuthMethod{ssh.PasswordCallback(passwordNoting(pw, "not-the-otp")), ssh.KeyboardInteractive(answerNoting(kbd, otp))}
		}, "Failed password for "+testUserName, "Accepted keyboard-interactive/pam for "+testUserName)
		first, second := sshdtest.CheckedConnection(t, pw), sshdtest.CheckedConnection(t, kbd)
		if first.Monitor.PID != second.Monitor.PID {
			t.Fatalf("the two methods were answered on different connections: monitors %d and %d", first.Monitor.PID, second.Monitor.PID)
		}
		child := sshdtest.PAMChild(t, second)
		// The password attempt loaded the engine into the monitor; the
		// child forked from it carries the same, started runtime.
		sshdtest.HasEngine(t, "after the password attempt", second.Monitor, child)
		lines := sshdtest.ModuleLines(t, s.syslog, sysMark, 4)
		sshdtest.ExpectFrom(t, lines, "verifying in process", first.Monitor)
		sshdtest.ExpectFrom(t, lines, "authentication failure", first.Monitor)
		sshdtest.ExpectFrom(t, lines, fmt.Sprintf("engine was loaded by ancestor process %d; verifying in a helper process", first.Monitor.PID), child)
		sshdtest.ExpectFrom(t, lines, "accepted Vault OTP", child)
	})
}

// watchedLogin logs testUserName in from 127.0.0.1 with a new OTP, offering
// the methods that methods builds around it, and fails t unless the login
// prints the user's name and sshd logs a line with each of logged. It
// returns the syslog mark from before the login, for the module's lines.
func (s *server) watchedLogin(t *testing.T, e *env, methods func(otp string) []ssh.AuthMethod, logged ...string) int {
	t.Helper()
	sysMark, logMark := s.syslog.Mark(), s.log.Mark()
	otp := e.otp(t, testUserName, "127.0.0.1")
	s.typedToken(otp)
	r := goLogin(context.Background(), s, "127.0.0.1", testUserName, methods(otp)...)
	if r.err != nil || r.output != testUserName+"\n" {
		t.Fatalf("want a login that prints %q, got %v", testUserName+"\n", r)
	}
	for _, l := range logged {
		s.expectLog(t, logMark, l)
	}
	return sysMark
}

// answerNoting is a keyboard-interactive callback that notes the
// connection's processes while PAM waits for the answer, then answers
// every prompt with token. sshd's last round, once PAM has decided, has no
// prompts.
func answerNoting(w *sshdtest.Watch, token string) ssh.KeyboardInteractiveChallenge {
	return func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		if len(questions) > 0 {
			w.Note()
		}
		return answerWith(token)(name, instruction, questions, echos)
	}
}

// passwordNoting is a password callback that notes the connection's
// processes before it answers with token.
func passwordNoting(w *sshdtest.Watch, token string) func() (string, error) {
	return func() (string, error) {
		w.Note()
		return token, nil
	}
}
