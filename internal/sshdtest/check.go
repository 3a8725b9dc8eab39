package sshdtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
)

// The checks below are what test/sshd and test/sshcert both assert about
// where pam_vault ran: the connection's processes while the client was
// asked, and the syslog lines the module sent from them.

const (
	// ModuleTag opens every line pam_vault sends from sshd's auth stack
	// (pam_syslog's "MODULE(SERVICE:TYPE): " prefix).
	ModuleTag = "pam_vault(sshd:auth): "
	// EngineFile is the engine pam_vault.so loads in pam_sm_authenticate;
	// a process that has it mapped has loaded (or inherited) the engine.
	EngineFile = "pam_vault_go.so"
)

// CheckedConnection returns what w saw (Watch.Connection), failing t
// unless its processes pass Connection.Check, and logs which processes
// they were.
func CheckedConnection(t testing.TB, w *Watch) Connection {
	t.Helper()
	conn, err := w.Connection()
	if err == nil {
		err = conn.Check()
	}
	if err != nil {
		t.Fatalf("the connection's processes: %v", err)
	}
	t.Logf("monitor %d %q; unprivileged child %d %q (libpam mapped: %t, a PAM module: %t)",
		conn.Monitor.PID, conn.Monitor.Title, conn.Net.PID, conn.Net.Title, conn.Net.Maps("libpam.so"), conn.Net.Maps("pam_"))
	return conn
}

// PAMChild returns conn's "[pam]" child, failing t if the monitor had
// none while keyboard-interactive asked its question.
func PAMChild(t testing.TB, conn Connection) pamtest.Process {
	t.Helper()
	if conn.PAM.PID == 0 {
		t.Fatalf("no [pam] child of the monitor %d %q while keyboard-interactive asked", conn.Monitor.PID, conn.Monitor.Title)
	}
	return conn.PAM
}

// NoEngine fails t if one of procs had the engine mapped when it was
// listed: before the first answer only pam_start has run, which maps
// pam_vault.so alone.
func NoEngine(t testing.TB, procs ...pamtest.Process) {
	t.Helper()
	for _, p := range procs {
		if p.Maps(EngineFile) {
			t.Errorf("%d %q had the engine mapped before the first answer", p.PID, p.Title)
		}
	}
}

// HasEngine fails t unless each of procs had the engine mapped when it
// was listed; why shows in the message.
func HasEngine(t testing.TB, why string, procs ...pamtest.Process) {
	t.Helper()
	for _, p := range procs {
		if !p.Maps(EngineFile) {
			t.Errorf("%d %q had no %s mapped %s", p.PID, p.Title, EngineFile, why)
		}
	}
}

// ModuleLines waits until sink holds at least n of pam_vault's lines
// (ModuleTag) after mark, failing t if they do not come, and returns every
// such line since mark.
func ModuleLines(t testing.TB, sink *pamtest.SyslogSink, mark, n int) []pamtest.LogLine {
	t.Helper()
	if _, err := sink.WaitUntil(mark, fmt.Sprintf("%d pam_vault lines", n), func(l []pamtest.LogLine) bool {
		return pamtest.CountLines(l, ModuleTag) >= n
	}); err != nil {
		t.Fatal(err)
	}
	return FilterModuleLines(sink.Since(mark))
}

// FilterModuleLines returns those of lines that pam_vault sent (ModuleTag).
func FilterModuleLines(lines []pamtest.LogLine) []pamtest.LogLine {
	var out []pamtest.LogLine
	for _, l := range lines {
		if strings.Contains(l.Text, ModuleTag) {
			out = append(out, l)
		}
	}
	return out
}

// LineFrom returns an error unless exactly one of lines holds ModuleTag
// followed by part, and that one came from process p (CheckSender).
func LineFrom(lines []pamtest.LogLine, part string, p pamtest.Process) error {
	var found []pamtest.LogLine
	for _, l := range lines {
		if strings.Contains(l.Text, ModuleTag+part) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("want one line %q, got %d among:\n%s", part, len(found), pamtest.FormatLines(lines))
	}
	return CheckSender(found[0], p)
}

// ExpectFrom fails t unless exactly one of lines holds ModuleTag followed
// by part and it came from process p (LineFrom), and logs which process
// that was.
func ExpectFrom(t testing.TB, lines []pamtest.LogLine, part string, p pamtest.Process) {
	t.Helper()
	if err := LineFrom(lines, part, p); err != nil {
		t.Error(err)
		return
	}
	t.Logf("%q: from %d %q (parent %d)", part, p.PID, p.Title, p.PPID)
}

// CheckSenders returns an error naming every pam_vault line of lines that
// did not come from the program that runs PAM on release v
// (Version.SessionProgram): on OpenSSH 10.0 none may come from sshd-auth,
// which has no PAM. Other lines may come from helpers PAM modules run,
// such as pam_unix's unix_chkpwd.
func CheckSenders(lines []pamtest.LogLine, v Version) error {
	want := v.SessionProgram()
	var errs []error
	for _, l := range lines {
		if strings.Contains(l.Text, "pam_vault(") && l.Program() != want {
			errs = append(errs, fmt.Errorf("a pam_vault line not from %s: %s", want, l))
		}
	}
	return errors.Join(errs...)
}
