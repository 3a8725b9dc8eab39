package sshd

import (
	"os"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/sshdtest"
)

// close stops sshd and everything it started, fails t if a typed token
// reached a log, shows the logs if t failed, and removes s.dir.
func (s *server) close(t *testing.T) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Errorf("stop sshd: %v", err)
	}
	s.checkNoTokenLogged(t)
	if err := sshdtest.CheckSenders(s.syslog.Since(0), s.version); err != nil {
		t.Error(err)
	}
	if t.Failed() || os.Getenv("SSHD_TEST_LOGS") != "" {
		t.Logf("sshd log (%s):\n%s", s.dir, pamtest.FormatLines(s.log.Since(0)))
		t.Logf("syslog of sshd's processes:\n%s", pamtest.FormatLines(s.syslog.Since(0)))
	}
	if err := os.RemoveAll(s.dir); err != nil {
		t.Errorf("remove sshd's directory: %v", err)
	}
}

// stop ends sshd and everything it started (sshdtest.Server.Stop), then
// closes the syslog socket.
func (s *server) stop() error {
	defer s.syslog.Close()
	return s.sshd.Stop()
}

// checkNoTokenLogged fails t if a token a client typed appears in sshd's
// log or in any syslog line (DESIGN.md invariant 3).
func (s *server) checkNoTokenLogged(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	typed := append([]string(nil), s.typed...)
	s.mu.Unlock()
	var all strings.Builder
	all.WriteString(pamtest.FormatLines(s.log.Since(0)))
	all.WriteString(pamtest.FormatLines(s.syslog.Since(0)))
	for _, tok := range typed {
		if tok != "" && strings.Contains(all.String(), tok) {
			t.Errorf("the token %q a client typed appears in the logs", tok)
		}
	}
}
