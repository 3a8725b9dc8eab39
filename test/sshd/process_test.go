package sshd

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
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
		sysMark, logMark := s.syslog.Mark(), s.log.Mark()
		otp := e.otp(t, testUserName, "127.0.0.1")
		kbd := s.sshd.Watch(v, testUserName)
		s.typedToken(otp)
		r := goLogin(context.Background(), s, "127.0.0.1", testUserName, ssh.KeyboardInteractive(answerNoting(kbd, otp)))
		if r.err != nil || r.output != testUserName+"\n" {
			t.Fatalf("want a login that prints %q, got %v", testUserName+"\n", r)
		}
		s.expectLog(t, logMark, "Accepted keyboard-interactive/pam for "+testUserName)
		conn := s.connection(t, kbd)
		child := s.pamChild(t, conn)
		// pam_start loaded the module into the monitor, which never
		// loads the engine; the child loads it before it asks, so that
		// after the answer only Vault's answer is left to wait for.
		noEngine(t, conn.Monitor)
		if !child.Maps("pam_vault_go.so") {
			t.Errorf("%d %q had not loaded the engine when the question was answered", child.PID, child.Title)
		}
		lines := s.moduleLines(t, sysMark, 2)
		expectFrom(t, lines, "verifying in process", child)
		expectFrom(t, lines, "accepted Vault OTP", child)
	})

	t.Run("password", func(t *testing.T) {
		sysMark, logMark := s.syslog.Mark(), s.log.Mark()
		otp := e.otp(t, testUserName, "127.0.0.1")
		pw := s.sshd.Watch(v, testUserName)
		s.typedToken(otp)
		r := goLogin(context.Background(), s, "127.0.0.1", testUserName, ssh.PasswordCallback(passwordNoting(pw, otp)))
		if r.err != nil || r.output != testUserName+"\n" {
			t.Fatalf("want a login that prints %q, got %v", testUserName+"\n", r)
		}
		s.expectLog(t, logMark, "Accepted password for "+testUserName)
		conn := s.connection(t, pw)
		noEngine(t, conn.Monitor)
		lines := s.moduleLines(t, sysMark, 2)
		expectFrom(t, lines, "verifying in process", conn.Monitor)
		expectFrom(t, lines, "accepted Vault OTP", conn.Monitor)
	})

	t.Run("a failed password, then keyboard-interactive", func(t *testing.T) {
		sysMark, logMark := s.syslog.Mark(), s.log.Mark()
		otp := e.otp(t, testUserName, "127.0.0.1")
		pw, kbd := s.sshd.Watch(v, testUserName), s.sshd.Watch(v, testUserName)
		s.typedToken(otp)
		r := goLogin(context.Background(), s, "127.0.0.1", testUserName,
			ssh.PasswordCallback(passwordNoting(pw, "not-the-otp")), ssh.KeyboardInteractive(answerNoting(kbd, otp)))
		if r.err != nil || r.output != testUserName+"\n" {
			t.Fatalf("want a login that prints %q, got %v", testUserName+"\n", r)
		}
		s.expectLog(t, logMark, "Failed password for "+testUserName)
		s.expectLog(t, logMark, "Accepted keyboard-interactive/pam for "+testUserName)
		first, second := s.connection(t, pw), s.connection(t, kbd)
		if first.Monitor.PID != second.Monitor.PID {
			t.Fatalf("the two methods were answered on different connections: monitors %d and %d", first.Monitor.PID, second.Monitor.PID)
		}
		child := s.pamChild(t, second)
		// The password attempt loaded the engine into the monitor; the
		// child forked from it carries the same, started runtime.
		for _, p := range []pamtest.Process{second.Monitor, child} {
			if !p.Maps("pam_vault_go.so") {
				t.Errorf("%d %q has no pam_vault_go.so mapped after the password attempt", p.PID, p.Title)
			}
		}
		lines := s.moduleLines(t, sysMark, 4)
		expectFrom(t, lines, "verifying in process", first.Monitor)
		expectFrom(t, lines, "authentication failure", first.Monitor)
		expectFrom(t, lines, fmt.Sprintf("engine was loaded by ancestor process %d; verifying in a helper process", first.Monitor.PID), child)
		expectFrom(t, lines, "accepted Vault OTP", child)
	})
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

// connection returns what w saw, checked (sshdtest.Connection.Check).
func (s *server) connection(t *testing.T, w *sshdtest.Watch) sshdtest.Connection {
	t.Helper()
	conn, err := w.Connection()
	if err == nil {
		err = conn.Check()
	}
	if err != nil {
		t.Fatalf("the connection's processes: %v", err)
	}
	t.Logf("monitor %d %q; unprivileged child %d %q (libpam mapped: %t, a PAM module: %t)",
		conn.Monitor.PID, conn.Monitor.Title, conn.Net.PID, conn.Net.Title, conn.Net.Maps("libpam.so"), conn.Net.Maps("pam_"))
	return conn
}

// pamChild returns conn's "[pam]" child, failing t if there was none.
func (s *server) pamChild(t *testing.T, conn sshdtest.Connection) pamtest.Process {
	t.Helper()
	if conn.PAM.PID == 0 {
		t.Fatalf("no %q child of the monitor %d while keyboard-interactive asked", s.version.SessionProgram()+": "+testUserName+" [pam]", conn.Monitor.PID)
	}
	return conn.PAM
}

// noEngine fails t if one of procs had the engine mapped when the client
// answered: it is loaded by pam_sm_authenticate alone, which the password
// method calls only once the answer is in.
func noEngine(t *testing.T, procs ...pamtest.Process) {
	t.Helper()
	for _, p := range procs {
		if p.Maps("pam_vault_go.so") {
			t.Errorf("%d %q had the engine mapped before the first answer", p.PID, p.Title)
		}
	}
}

// moduleLines waits for at least n pam_vault lines after mark and returns
// every pam_vault line since then.
func (s *server) moduleLines(t *testing.T, mark, n int) []pamtest.LogLine {
	t.Helper()
	if _, err := s.syslog.WaitUntil(mark, fmt.Sprintf("%d pam_vault lines", n), func(l []pamtest.LogLine) bool {
		return pamtest.CountLines(l, "pam_vault(sshd:auth): ") >= n
	}); err != nil {
		t.Fatal(err)
	}
	var lines []pamtest.LogLine
	for _, l := range s.syslog.Since(mark) {
		if strings.Contains(l.Text, "pam_vault(sshd:auth): ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// expectFrom fails t unless exactly one of lines holds part and it came
// from process p.
func expectFrom(t *testing.T, lines []pamtest.LogLine, part string, p pamtest.Process) {
	t.Helper()
	var found []pamtest.LogLine
	for _, l := range lines {
		if strings.Contains(l.Text, "pam_vault(sshd:auth): "+part) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one line %q, got %d among:\n%s", part, len(found), pamtest.FormatLines(lines))
	}
	if err := sshdtest.CheckSender(found[0], p); err != nil {
		t.Error(err)
		return
	}
	t.Logf("%q: from %d %q (parent %d)", part, p.PID, p.Title, p.PPID)
}
