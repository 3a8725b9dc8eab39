package sshd

import (
	"context"
	"testing"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
)

// setcredDenied is how sshd's monitor reports that pam_setcred failed; it
// then ends the connection.
const setcredDenied = "PAM: pam_setcred(): Permission denied"

// TestPasswordThenKeyboardInteractive covers the helper path of DESIGN.md
// through sshd. With PasswordAuthentication on, sshd runs the password
// method's PAM conversation in its per-connection monitor, so a password
// attempt loads the engine there; keyboard-interactive then authenticates in
// a child forked from that monitor, which must not call into the inherited
// Go runtime and verifies in a helper process instead.
//
// After a FAILED password attempt, the login completes only if the auth
// line's control lets libpam's replay of the monitor's frozen, failed auth
// chain succeed at pam_setcred: [default=ok] does, requisite does not. The
// successful keyboard-interactive pam_authenticate ran in the child, so
// under requisite pam_setcred in the monitor returns PAM_PERM_DENIED. The
// test pins both, and shows with a pam_unix-only stack and a real password
// that the requisite case is sshd and libpam, not pam_vault. A login that
// needs both methods (AuthenticationMethods password,keyboard-interactive)
// shows the helper path completing a login under requisite.
func TestPasswordThenKeyboardInteractive(t *testing.T) {
	e := setup(t)
	s := e.startServer(t, serverOptions{
		config:     configText(e.vault.Addr),
		password:   true,
		moduleArgs: []string{"debug"},
	})

	for _, tc := range []struct {
		name, password string
	}{
		{"non-OTP password, then a valid OTP", "not-the-otp"},
		{"OTP-shaped password, then a valid OTP", randomUUID(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sysMark, logMark := s.syslog.Mark(), s.log.Mark()
			otp := e.otp(t, testUserName, "127.0.0.1")
			s.typedToken(tc.password)
			s.typedToken(otp)
			r := goLogin(context.Background(), s, "127.0.0.1", testUserName,
				ssh.Password(tc.password), ssh.KeyboardInteractive(answerWith(otp)))
			s.expectLog(t, logMark, "Failed password for "+testUserName)
			s.expectSyslog(t, sysMark, "pam_vault(sshd:auth): verifying in process")
			s.expectSyslog(t, sysMark, "pam_vault(sshd:auth): engine was loaded by ancestor process",
				"verifying in a helper process")
			s.expectSyslog(t, sysMark, "pam_vault(sshd:auth): accepted Vault OTP", "user="+testUserName)
			s.expectLog(t, logMark, "Accepted keyboard-interactive/pam for "+testUserName)
			// The known sshd/libpam limitation described above: not a hang,
			// not a refusal, but no session either.
			s.expectLog(t, logMark, setcredDenied)
			if r.err == nil || r.refused {
				t.Fatalf("sshd's pam_setcred failed, yet the client saw %v", r)
			}
		})
	}

	// The control [default=ok] fails pam_authenticate on every failure
	// code just as requisite does, but marks the frozen chain so that the
	// replay at pam_setcred succeeds: the line README's migration steps
	// recommend for hosts that offer both methods.
	okServer := e.startServer(t, serverOptions{
		config:     configText(e.vault.Addr),
		password:   true,
		control:    "[default=ok]",
		moduleArgs: []string{"debug"},
	})
	t.Run("wrong password, then a valid OTP, under [default=ok]", func(t *testing.T) {
		sysMark, logMark := okServer.syslog.Mark(), okServer.log.Mark()
		otp := e.otp(t, testUserName, "127.0.0.1")
		okServer.typedToken(otp)
		r := goLogin(context.Background(), okServer, "127.0.0.1", testUserName,
			ssh.Password("not-the-otp"), ssh.KeyboardInteractive(answerWith(otp)))
		if r.err != nil || r.output != testUserName+"\n" {
			t.Fatalf("want a login that prints %q, got %v", testUserName+"\n", r)
		}
		okServer.expectLog(t, logMark, "Failed password for "+testUserName)
		okServer.expectSyslog(t, sysMark, "pam_vault(sshd:auth): engine was loaded by ancestor process",
			"verifying in a helper process")
		okServer.expectLog(t, logMark, "Accepted keyboard-interactive/pam for "+testUserName)
		okServer.expectSyslog(t, sysMark, "pam_unix(sshd:session): session opened for user "+testUserName)
	})
	for _, srv := range []struct {
		control string
		server  *server
	}{{"requisite", s}, {"[default=ok]", okServer}} {
		t.Run("wrong password, then a wrong OTP, under "+srv.control, func(t *testing.T) {
			sysMark := srv.server.syslog.Mark()
			wrong := randomUUID(t)
			srv.server.typedToken(wrong)
			r := goLogin(context.Background(), srv.server, "127.0.0.1", testUserName,
				ssh.Password("not-the-otp"), ssh.KeyboardInteractive(answerWith(wrong)))
			if !r.refused {
				t.Fatalf("want an authentication failure, got %v", r)
			}
			srv.server.expectSyslog(t, sysMark, "verifying in a helper process")
			srv.server.expectSyslog(t, sysMark, "pam_vault(sshd:auth): authentication failure", "OTP not found")
		})
	}

	// An OTP typed at the password method is verified in the monitor itself.
	t.Run("OTP through the password method, OpenSSH client", func(t *testing.T) {
		sysMark, logMark := s.syslog.Mark(), s.log.Mark()
		otp := e.otp(t, testUserName, "127.0.0.1")
		s.typedToken(otp)
		r := opensshLogin(context.Background(), s, "127.0.0.1", testUserName, otp, "password")
		if r.err != nil || r.output != testUserName+"\n" {
			t.Fatalf("want a login that prints %q, got %v", testUserName+"\n", r)
		}
		s.expectLog(t, logMark, "Accepted password for "+testUserName)
		s.expectSyslog(t, sysMark, "pam_vault(sshd:auth): verifying in process")
		s.expectSyslog(t, sysMark, "pam_vault(sshd:auth): accepted Vault OTP", "user="+testUserName)
	})

	t.Run("password and keyboard-interactive both required", func(t *testing.T) {
		both := e.startServer(t, serverOptions{
			config:     configText(e.vault.Addr),
			password:   true,
			methods:    "password,keyboard-interactive",
			moduleArgs: []string{"debug"},
		})
		sysMark, logMark := both.syslog.Mark(), both.log.Mark()
		first, second := e.otp(t, testUserName, "127.0.0.1"), e.otp(t, testUserName, "127.0.0.1")
		both.typedToken(first)
		both.typedToken(second)
		r := goLogin(context.Background(), both, "127.0.0.1", testUserName,
			ssh.Password(first), ssh.KeyboardInteractive(answerWith(second)))
		if r.err != nil || r.output != testUserName+"\n" {
			t.Fatalf("want a login that prints %q, got %v", testUserName+"\n", r)
		}
		both.expectLog(t, logMark, "Partial password for "+testUserName)
		both.expectSyslog(t, sysMark, "pam_vault(sshd:auth): engine was loaded by ancestor process",
			"verifying in a helper process")
		lines := both.syslog.Since(sysMark)
		if n := pamtest.CountLines(lines, "pam_vault(sshd:auth): accepted Vault OTP"); n != 2 {
			t.Fatalf("want 2 accepted OTPs, got %d:\n%s", n, pamtest.FormatLines(lines))
		}
		both.expectSyslog(t, sysMark, "pam_unix(sshd:session): session opened for user "+testUserName)
	})

	t.Run("baseline: pam_unix alone behaves the same", func(t *testing.T) {
		password := e.user.SetPassword(t)
		unix := e.startServer(t, serverOptions{password: true, authLine: "auth required pam_unix.so"})
		unix.typedToken(password)
		r := goLogin(context.Background(), unix, "127.0.0.1", testUserName,
			ssh.KeyboardInteractive(answerWith(password)))
		if r.err != nil || r.output != testUserName+"\n" {
			t.Fatalf("the baseline stack does not log in by keyboard-interactive alone: %v", r)
		}
		logMark := unix.log.Mark()
		r = goLogin(context.Background(), unix, "127.0.0.1", testUserName,
			ssh.Password("not-the-password"), ssh.KeyboardInteractive(answerWith(password)))
		unix.expectLog(t, logMark, "Accepted keyboard-interactive/pam for "+testUserName)
		unix.expectLog(t, logMark, setcredDenied)
		if r.err == nil {
			t.Fatalf("pam_unix logged in after a failed password: the limitation is gone; " +
				"make pam_vault's cases above expect a login")
		}
	})
}
