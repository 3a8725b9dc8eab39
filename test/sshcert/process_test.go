package sshcert

import (
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/sshdtest"
)

// TestPAMProcess shows where the code is checked on the installed sshd
// release: after sshd accepted the certificate, keyboard-interactive runs
// PAM in the "[pam]" child of the connection's "[priv]" monitor, where
// pam_vault loads the engine and verifies in process (test/sshd's
// TestPAMProcess covers the other methods). The test lists the
// connection's processes while the client is asked for the code: the
// monitor must have no engine mapped and the child must have loaded it
// already, as in test/sshd's keyboard-interactive case, and both of the
// module's lines must carry that child's program and pid. From OpenSSH
// 10.0 the child that checked the certificate is sshd-auth, with no PAM
// module mapped.
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
	conn := sshdtest.CheckedConnection(t, w)
	child := sshdtest.PAMChild(t, conn)
	// As for a plain keyboard-interactive login (test/sshd): pam_start
	// mapped only pam_vault.so into the monitor; the child loaded the
	// engine before it asked for the code.
	sshdtest.NoEngine(t, conn.Monitor)
	sshdtest.HasEngine(t, "when the code was answered", child)
	lines := sshdtest.ModuleLines(t, s.syslog, sysMark, 2)
	if len(lines) != 2 {
		t.Errorf("want 2 pam_vault lines (verifying in process, accepted), got %d:\n%s", len(lines), pamtest.FormatLines(s.syslog.Since(sysMark)))
	}
	sshdtest.ExpectFrom(t, lines, "verifying in process", child)
	sshdtest.ExpectFrom(t, lines, "accepted Vault TOTP code", child)
}
