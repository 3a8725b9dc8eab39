package sshd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
		t.Logf("sshd log (%s):\n%s", s.dir, formatLines(s.log.since(0)))
		t.Logf("syslog of sshd's processes:\n%s", formatLines(s.syslog.since(0)))
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
			s.syslog.close()
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
	if err := s.killNamespace(); err != nil {
		return err
	}
	select {
	case <-s.logDone:
		return nil
	case <-time.After(stopWait):
		return fmt.Errorf("sshd's log stayed open %s after its processes were killed", stopWait)
	}
}

// killNamespace kills every process in sshd's mount namespace and waits,
// bounded, until none is left. The namespace is private to this sshd, so
// everything in it was started by this test.
func (s *server) killNamespace() error {
	if s.mntNS == "" {
		return nil
	}
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || own == s.mntNS {
		return fmt.Errorf("refusing to kill the processes of mount namespace %s (own %s, %v)", s.mntNS, own, err)
	}
	deadline := time.Now().Add(stopWait)
	for {
		pids := pidsInMountNS(s.mntNS)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of sshd's mount namespace outlived SIGKILL by %s", pids, stopWait)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pidsInMountNS lists the processes whose mount namespace is ns (as
// readlink /proc/PID/ns/mnt shows it). Zombies are left out: they hold no
// namespace any more and go once their parent reaps them.
func pidsInMountNS(ns string) []int {
	entries, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, dir := range entries {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if link, err := os.Readlink(dir + "/ns/mnt"); err == nil && link == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// checkNoTokenLogged fails t if a token a client typed appears in sshd's
// log or in any syslog line (DESIGN.md invariant 3).
func (s *server) checkNoTokenLogged(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	typed := append([]string(nil), s.typed...)
	s.mu.Unlock()
	var all strings.Builder
	all.WriteString(formatLines(s.log.since(0)))
	all.WriteString(formatLines(s.syslog.since(0)))
	for _, tok := range typed {
		if tok != "" && strings.Contains(all.String(), tok) {
			t.Errorf("the token %q a client typed appears in the logs", tok)
		}
	}
}
