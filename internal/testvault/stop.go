package testvault

import (
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// maxLogTail bounds how much of the server log LogTail returns.
const maxLogTail = 4 << 10

// Stop ends the server: SIGTERM to its process group, then SIGKILL if it has
// not exited within 10 seconds. It keeps Dir, so the log and audit log stay
// readable until Close. Stop may be called more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() { stopGroup(s.cmd, s.done) })
}

// stopGroup ends the process group of cmd, started by spawn, whose done
// channel is done: SIGTERM, then SIGKILL after stopTimeout.
func stopGroup(cmd *exec.Cmd, done chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return // already exited and reaped: its pid may belong to someone else now
	default:
	}
	pgid := cmd.Process.Pid // Setpgid made the process its group's leader
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// Close stops the server and removes Dir. Close may be called more than once.
func (s *Server) Close() {
	s.Stop()
	s.closeOnce.Do(func() {
		if s.Dir != "" {
			_ = os.RemoveAll(s.Dir)
		}
	})
}

// LogPath returns the file that receives the server's stdout and stderr.
func (s *Server) LogPath() string { return s.logPath }

// LogTail returns up to the last 4 KiB of the server's log, or a note saying
// why it could not be read.
func (s *Server) LogTail() string { return tail(s.logPath) }

// tail returns up to the last 4 KiB of the log at path, or a note saying
// why it could not be read.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxLogTail {
		if _, err := f.Seek(-maxLogTail, io.SeekEnd); err != nil {
			return "(log unreadable: " + err.Error() + ")"
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxLogTail))
	if err != nil {
		return "(log unreadable: " + err.Error() + ")"
	}
	return string(b)
}
