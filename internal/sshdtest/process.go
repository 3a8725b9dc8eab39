package sshdtest

import (
	"fmt"

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
