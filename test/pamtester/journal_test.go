package pamtester

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The suite keeps a journal of every token a test typed and every line the
// module sent to pam_syslog, so that it can show, over the whole suite, that
// no token ever reached the log (DESIGN.md invariant 3).
var journal struct {
	mu       sync.Mutex
	tokens   map[string]bool
	lines    []string
	attempts int
}

// syslogLine matches how pam_wrapper prints a pam_syslog call on stderr,
// with its priority.
var syslogLine = regexp.MustCompile(`SYSLOG\((\d+)\): (.*)$`)

// logLine is one pam_syslog call.
type logLine struct {
	priority int
	text     string
}

// parseSyslog extracts the pam_syslog lines from pam_wrapper's stderr.
func parseSyslog(stderr string) []logLine {
	var out []logLine
	for _, line := range strings.Split(stderr, "\n") {
		if m := syslogLine.FindStringSubmatch(line); m != nil {
			p, _ := strconv.Atoi(m[1])
			out = append(out, logLine{priority: p, text: m[2]})
		}
	}
	return out
}

// record adds to the journal what one run typed and logged, and fails t
// unless the run logged exactly one line above LOG_DEBUG per attempt.
func record(t *testing.T, attempts int, tokens []string, lines []logLine) {
	t.Helper()
	const logDebug = 7
	notices := 0
	journal.mu.Lock()
	defer journal.mu.Unlock()
	if journal.tokens == nil {
		journal.tokens = map[string]bool{}
	}
	for _, tok := range tokens {
		if tok != "" {
			journal.tokens[tok] = true
		}
	}
	for _, l := range lines {
		journal.lines = append(journal.lines, l.text)
		if l.priority < logDebug && !strings.Contains(l.text, "_pam_init_handlers") {
			notices++
		}
	}
	journal.attempts += attempts
	if notices != attempts {
		t.Errorf("%d attempts logged %d lines above LOG_DEBUG, want exactly one each:\n%s",
			attempts, notices, formatLines(lines))
	}
}

func formatLines(lines []logLine) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "  <%d> %s\n", l.priority, l.text)
	}
	return b.String()
}

// checkJournal reports any token found in any logged line, over the whole
// suite. It returns an error message, or "" when the journal is clean.
func checkJournal() string {
	journal.mu.Lock()
	defer journal.mu.Unlock()
	var leaks []string
	for tok := range journal.tokens {
		for _, line := range journal.lines {
			if strings.Contains(line, tok) {
				leaks = append(leaks, fmt.Sprintf("token %q in %q", tok, line))
			}
		}
	}
	fmt.Printf("syslog journal: %d attempts, %d lines, %d distinct tokens typed, %d found in the log\n",
		journal.attempts, len(journal.lines), len(journal.tokens), len(leaks))
	if journal.attempts > 0 && len(journal.lines) == 0 {
		return "attempts were made but no log line was captured: the journal proves nothing"
	}
	return strings.Join(leaks, "\n")
}
