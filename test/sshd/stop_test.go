package sshd

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// close stops sshd and everything it started, fails t if a typed token
// reached a log, shows the logs if t failed, and removes s.dir.
func (s *server) close(t *testing.T) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Errorf("stop sshd: %v", err)
	}
	s.checkNoTokenLogged(t)
	if t.Failed() || os.Getenv("SSHD_TEST_LOGS") != "" {
		t.Logf("sshd log (%s):\n%s", s.dir, pamtest.FormatLines(s.log.Since(0)))
		t.Logf("syslog of sshd's processes:\n%s", pamtest.FormatLines(s.syslog.Since(0)))
	}
	if err := os.RemoveAll(s.dir); err != nil {
		t.Errorf("remove sshd's directory: %v", err)
	}
}

// stop ends sshd (SIGTERM, then SIGKILL to its process group after
// stopWait), then every process left in its mount namespace: the
// per-connection sshd processes, which run in sessions of their own, and
// anything they started. Then it closes the syslog socket.
func (s *server) stop() error {
	defer func() {
		if s.syslog != nil {
			s.syslog.Close()
		}
	}()
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(stopWait):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	if err := pamtest.KillMountNS(s.mntNS, stopWait); err != nil {
		return err
	}
	select {
	case <-s.logDone:
		return nil
	case <-time.After(stopWait):
		return fmt.Errorf("sshd's log stayed open %s after its processes were killed", stopWait)
	}
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
