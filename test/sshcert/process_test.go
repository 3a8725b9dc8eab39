package sshcert

import (
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/sshdtest"
)

// TestPAMProcess shows where the code is checked on the installed sshd
// release: after sshd accepted the certificate, keyboard-interactive runs
// PAM in the "[pam]" child of the connection's "[priv]" monitor, where
// pam_vault loads the engine and verifies in process (test/sshd's
// TestPAMProcess covers the other methods). The test lists the
// connection's processes while the client is asked for the code, and both
// of the module's lines must carry that child's program and pid. From
// OpenSSH 10.0 the child that checked the certificate is sshd-auth, with
// no PAM module mapped.
func TestPAMProcess(t *testing.T) {
	e := setup(t)
	t.Logf("sshd is %s: PAM runs in %s, the unprivileged child is %s", e.version, e.version.SessionProgram(), e.version.AuthProgram())
	s := e.startServer(t, serverOptions{})
	id := e.vaultIdentity(t, "", userName)
	w := s.sshd.Watch(e.version, userName)
	sysMark, logMark := s.syslog.Mark(), s.log.Mark()
	a := attempt{userName, id, e.code(t)}
	e.typedCode(a.code)
	r := goLoginWatched(s, e.ca, a, w)
	if r.err != nil || r.output != userName+"\n" {
		t.Fatalf("want a login that prints %q, got %v", userName+"\n", r)
	}
	s.expectLog(t, logMark, "Partial publickey for "+userName)
	s.expectLog(t, logMark, "Accepted keyboard-interactive/pam for "+userName)
	s.expectSyslog(t, sysMark, "pam_vault(sshd:auth): accepted Vault TOTP code")
	conn, err := w.Connection()
	if err == nil {
		err = conn.Check()
	}
	if err != nil {
		t.Fatalf("the connection's processes: %v", err)
	}
	if conn.PAM.PID == 0 {
		t.Fatalf("no [pam] child of the monitor %d %q while the code was asked for", conn.Monitor.PID, conn.Monitor.Title)
	}
	var found int
	for _, l := range s.syslog.Since(sysMark) {
		if !strings.Contains(l.Text, "pam_vault(sshd:auth): ") {
			continue
		}
		found++
		if err := sshdtest.CheckSender(l, conn.PAM); err != nil {
			t.Error(err)
		}
		t.Logf("%s: from %d %q, parent %d %q", l.Text, conn.PAM.PID, conn.PAM.Title, conn.Monitor.PID, conn.Monitor.Title)
	}
	if found != 2 {
		t.Errorf("want 2 pam_vault lines (verifying in process, accepted), got %d:\n%s", found, pamtest.FormatLines(s.syslog.Since(sysMark)))
	}
	if n := pamtest.CountLines(s.syslog.Since(sysMark), "pam_vault(sshd:auth): verifying in process"); n != 1 {
		t.Errorf("want the code verified in process once, got %d:\n%s", n, pamtest.FormatLines(s.syslog.Since(sysMark)))
	}
}
