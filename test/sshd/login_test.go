package sshd

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"pam_vault/internal/pamtest"
)

// otherUser is a user name Vault issues OTPs for that is not the one
// logging in; it need not exist on the machine.
const otherUser = "pvother"

// loginCase is one login attempt and what it must show.
type loginCase struct {
	name  string
	token string
	ok    bool     // the login succeeds and runs the command
	log   []string // parts of one pam_syslog line the attempt must write
}

// TestLogin follows Vault's SSH OTP guide through a real sshd, with both
// clients: a valid OTP logs in and runs a command (so sshd kept the session
// after pam_setcred); the same OTP again, an OTP of another user, an OTP
// Vault never issued and a non-OTP are each refused as an authentication
// failure, not a disconnect or a hang.
func TestLogin(t *testing.T) {
	e := setup(t)
	s := e.startServer(t, serverOptions{config: configText(e.vault.Addr), moduleArgs: []string{"debug"}})
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			otp := e.otp(t, testUserName, "127.0.0.1")
			for _, tc := range []loginCase{
				{"valid OTP", otp, true, []string{"accepted Vault OTP", "user=" + testUserName, "rhost=127.0.0.1", "role=" + role}},
				{"same OTP again", otp, false, []string{"authentication failure", "OTP not found"}},
				{"OTP of another user", e.otp(t, otherUser, "127.0.0.1"), false, []string{`OTP was issued for user \"` + otherUser + `\"`}},
				{"OTP Vault never issued", randomUUID(t), false, []string{"authentication failure", "OTP not found"}},
				{"not an OTP", "hunter2", false, []string{"not shaped like a Vault OTP"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					s.expectLogin(t, c, "127.0.0.1", tc)
				})
			}
		})
	}
	// The keyboard-interactive child sshd forks after pam_start loaded the
	// engine itself and decided in process: the path DESIGN.md is about,
	// taken by default because the process is sshd (or sshd-session).
	if n := pamtest.CountLines(s.syslog.Since(0), "pam_vault(sshd:auth): verifying in process (process sshd"); n == 0 {
		t.Errorf("no attempt was verified in process:\n%s", pamtest.FormatLines(s.syslog.Since(0)))
	}
	if n := pamtest.CountLines(s.syslog.Since(0), "verifying in a helper process"); n != 0 {
		t.Errorf("%d attempts went to the helper without a password attempt before them:\n%s", n, pamtest.FormatLines(s.syslog.Since(0)))
	}
}

// expectLogin makes one login with c and checks its outcome and logs.
func (s *server) expectLogin(t *testing.T, c client, host string, tc loginCase) {
	t.Helper()
	sysMark, logMark := s.syslog.Mark(), s.log.Mark()
	r := c.login(context.Background(), s, host, testUserName, tc.token)
	if tc.ok {
		if r.err != nil || r.output != testUserName+"\n" {
			t.Fatalf("%s: want a login that prints %q, got %v", c.name, testUserName+"\n", r)
		}
		s.expectLog(t, logMark, "Accepted keyboard-interactive/pam for "+testUserName)
		s.expectSyslog(t, sysMark, "pam_unix(sshd:session): session opened for user "+testUserName)
	} else {
		if !r.refused {
			t.Fatalf("%s: want an authentication failure, got %v", c.name, r)
		}
		s.expectLog(t, logMark, "Failed keyboard-interactive/pam for "+testUserName)
	}
	s.expectSyslog(t, sysMark, append([]string{"pam_vault(sshd:auth): "}, tc.log...)...)
}

// expectLog fails t unless sshd logs a line holding every part after mark.
func (s *server) expectLog(t *testing.T, mark int, parts ...string) {
	t.Helper()
	if _, err := s.log.WaitFor(mark, parts...); err != nil {
		t.Fatalf("sshd log: %v", err)
	}
}

// expectSyslog fails t unless a syslog line after mark holds every part.
func (s *server) expectSyslog(t *testing.T, mark int, parts ...string) {
	t.Helper()
	if _, err := s.syslog.WaitFor(mark, parts...); err != nil {
		t.Fatalf("syslog: %v", err)
	}
}

// randomUUID is a token shaped like an OTP that Vault never issued.
func randomUUID(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
