package sshdtest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"pam_vault/internal/pamtest"
)

// Processes lists sshd's processes as they are now: the listener and
// every connection's.
func (s *Server) Processes() []pamtest.Process {
	return pamtest.MountNSProcesses(s.mntNS)
}

// Connection is the processes serving one connection while it
// authenticates (see Version):
type Connection struct {
	// Monitor is the privileged monitor, "<SessionProgram>: USER [priv]";
	// it runs PAM for the password method.
	Monitor pamtest.Process
	// Net is the unprivileged child that talks to the client,
	// "<AuthProgram>: USER [net]".
	Net pamtest.Process
	// PAM is the monitor's child "<SessionProgram>: USER [pam]" that runs
	// PAM for keyboard-interactive while it asks its questions; PID 0 when
	// there is none.
	PAM pamtest.Process
}

// Connection finds the processes of the one connection that is
// authenticating user now: call it while the client answers a question of
// sshd's, as in a keyboard-interactive or password callback. The "[net]"
// child exists only until authentication ends, which tells this
// connection's monitor from those of earlier ones still closing.
func (s *Server) Connection(v Version, user string) (Connection, error) {
	procs := s.Processes()
	var c Connection
	var nets []pamtest.Process
	for _, p := range procs {
		if p.Title == v.AuthProgram()+": "+user+" [net]" {
			nets = append(nets, p)
		}
	}
	if len(nets) != 1 {
		return c, fmt.Errorf("want one %q process, found %d among:\n%s", v.AuthProgram()+": "+user+" [net]", len(nets), formatProcesses(procs))
	}
	c.Net = nets[0]
	for _, p := range procs {
		switch {
		case p.PID == c.Net.PPID:
			c.Monitor = p
		case p.Title == v.SessionProgram()+": "+user+" [pam]" && p.PPID == c.Net.PPID:
			c.PAM = p
		}
	}
	if want := v.SessionProgram() + ": " + user + " [priv]"; c.Monitor.Title != want {
		return c, fmt.Errorf("the parent of %q is %d %q, want %q; processes:\n%s", c.Net.Title, c.Net.PPID, c.Monitor.Title, want, formatProcesses(procs))
	}
	return c, nil
}

// formatProcesses shows procs one a line, for error messages.
func formatProcesses(procs []pamtest.Process) string {
	var out string
	for _, p := range procs {
		out += fmt.Sprintf("  %d (parent %d) %q\n", p.PID, p.PPID, p.Title)
	}
	return out
}

// Check returns an error unless conn's processes are what a login needs
// on every release: the unprivileged child has no PAM module mapped (from
// 10.0 it is sshd-auth, which never calls pam_start, though Debian links
// it with libpam; before, a fork of the monitor made before pam_start);
// and when there is a "[pam]" child, the monitor ran pam_start before it
// forked the child, so both have pam_vault.so mapped.
func (c Connection) Check() error {
	if c.Net.Maps("pam_") {
		return fmt.Errorf("%d %q has a PAM module mapped: %v", c.Net.PID, c.Net.Title, c.Net.Mapped)
	}
	if c.PAM.PID == 0 {
		return nil
	}
	for _, p := range []pamtest.Process{c.Monitor, c.PAM} {
		if !p.Maps("pam_vault.so") {
			return fmt.Errorf("%d %q has no pam_vault.so mapped: %v", p.PID, p.Title, p.Mapped)
		}
	}
	return nil
}

// CheckSender returns an error unless l came from process p: the program
// named in l's syslog tag is that of p's title, and the kernel gave p's pid
// as the sender's (pamtest.LogLine.PID).
func CheckSender(l pamtest.LogLine, p pamtest.Process) error {
	want, _, _ := strings.Cut(p.Title, ":")
	if l.Program() != want || l.PID != p.PID {
		return fmt.Errorf("%q came from %q pid %d, want %q pid %d (%q)", l.Text, l.Program(), l.PID, want, p.PID, p.Title)
	}
	return nil
}

// A Watch notes, once, the processes of the connection that is
// authenticating a user: a client calls Note from the callback that
// answers sshd's question, while PAM waits for the answer.
type Watch struct {
	s    *Server
	v    Version
	user string

	once sync.Once
	conn Connection
	err  error
	seen atomic.Bool
}

// Watch returns a new Watch for user's connections to s, which runs
// release v.
func (s *Server) Watch(v Version, user string) *Watch {
	return &Watch{s: s, v: v, user: user}
}

// Note lists the connection's processes the first time it is called.
func (w *Watch) Note() {
	w.once.Do(func() {
		w.conn, w.err = w.s.Connection(w.v, w.user)
		w.seen.Store(true)
	})
}

// Connection returns what Note saw, and an error if it was never called
// or the processes did not add up.
func (w *Watch) Connection() (Connection, error) {
	if !w.seen.Load() {
		return Connection{}, fmt.Errorf("the client was never asked a question that would note %s's processes", w.user)
	}
	return w.conn, w.err
}
