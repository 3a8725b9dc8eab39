package localsvc

import (
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// unavailableBound is how long a refusal may take when Vault is gone: the
// module's timeout (5 s) plus time to start the programs on a busy machine.
// Only a hang comes near it.
const unavailableBound = 15 * time.Second

// moduleLines returns the lines pam_vault logged for service, above
// LOG_DEBUG and at LOG_DEBUG: its verdicts and libpam's complaints on its
// behalf, and the lines that say where a verdict was made.
func moduleLines(lines []pamtest.LogLine, service string) (notices, debug []string) {
	prefix := "pam_vault(" + service + ":auth): "
	for _, l := range lines {
		// After the program's tag: "sudo: pam_vault(sudo:auth): ...".
		i := strings.Index(l.Text, prefix)
		if i < 0 {
			continue
		}
		rest := l.Text[i+len(prefix):]
		if l.Priority == pamtest.LogDebug {
			debug = append(debug, rest)
		} else {
			notices = append(notices, rest)
		}
	}
	return notices, debug
}

// expectModule fails t unless pam_vault logged, above LOG_DEBUG, exactly
// one line per element of want, in order, each holding every part of its
// element.
func expectModule(t *testing.T, o outcome, service string, want ...[]string) {
	t.Helper()
	notices, _ := moduleLines(o.syslog, service)
	ok := len(notices) == len(want)
	for i := 0; ok && i < len(want); i++ {
		for _, part := range want[i] {
			ok = ok && strings.Contains(notices[i], part)
		}
	}
	if !ok {
		t.Fatalf("pam_vault's lines for %s: want one line holding each of %q, in order, got:\n%s\nthe run: %s",
			service, want, strings.Join(notices, "\n"), o)
	}
}

// expectPath fails t unless pam_vault's debug lines for service are
// exactly one per element of want, each holding it: where each verdict
// was made.
func expectPath(t *testing.T, o outcome, service string, want ...string) {
	t.Helper()
	_, debug := moduleLines(o.syslog, service)
	ok := len(debug) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(debug[i], want[i])
	}
	if !ok {
		t.Fatalf("pam_vault's debug lines for %s: want %q, got %q", service, want, debug)
	}
}

// expectRan fails t unless the run exited 0 and its command printed
// output, on standard output or, on a terminal, after the last prompt.
func expectRan(t *testing.T, o outcome, output string) {
	t.Helper()
	if o.exitCode != 0 || !strings.Contains(o.stdout+o.transcript, output) {
		t.Fatalf("want the command to run and print %q: %s", output, o)
	}
	if o.transcript == "" && o.stdout != output {
		t.Fatalf("want standard output %q, got %q", output, o.stdout)
	}
}

// expectRefused fails t unless the run failed and its command printed
// nothing: output, what it would print, appears nowhere.
func expectRefused(t *testing.T, o outcome, output string) {
	t.Helper()
	if o.exitCode == 0 || o.stdout != "" || strings.Contains(o.transcript, output) {
		t.Fatalf("want a refusal, and the command not run (no %q): %s", output, o)
	}
}

// expectShown fails t unless the user saw every part (on the terminal or
// standard error).
func expectShown(t *testing.T, o outcome, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(o.stderr+o.transcript, p) {
			t.Fatalf("want the user to see %q: %s", p, o)
		}
	}
}

// expectNotShown fails t if the user saw any of parts.
func expectNotShown(t *testing.T, o outcome, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(o.stdout+o.stderr+o.transcript, p) {
			t.Fatalf("the user must not see %q: %s", p, o)
		}
	}
}
