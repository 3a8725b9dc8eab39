package pamtest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// A Journal keeps, over a whole test binary, every token its tests typed
// and every line the module sent to pam_syslog, so that Check can show that
// no token ever reached the log (DESIGN.md invariant 3). Its zero value is
// ready to use; it is safe for concurrent use.
type Journal struct {
	mu       sync.Mutex
	tokens   map[string]bool
	lines    []string
	attempts int
}

// Record adds to j what one run typed and logged, and fails t unless the
// run logged exactly one line above LOG_DEBUG per authentication attempt.
func (j *Journal) Record(t testing.TB, attempts int, tokens []string, lines []LogLine) {
	t.Helper()
	j.Keep(attempts, tokens, lines)
	notices := 0
	for _, l := range lines {
		// libpam's own complaints while it reads the service files
		// (such as a missing /etc/pam.conf) are not the module's lines.
		if l.Priority < LogDebug && !strings.Contains(l.Text, "_pam_init_handlers") {
			notices++
		}
	}
	if notices != attempts {
		t.Errorf("%d attempts logged %d lines above LOG_DEBUG, want exactly one each:\n%s",
			attempts, notices, FormatLines(lines))
	}
}

// Keep adds to j what one run typed and logged, for Check, without
// Record's count of lines per attempt: for applications such as sudo that
// log lines of their own, and prompt again after a failure, the suite
// checks the module's lines itself.
func (j *Journal) Keep(attempts int, tokens []string, lines []LogLine) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.tokens == nil {
		j.tokens = map[string]bool{}
	}
	for _, tok := range tokens {
		if tok != "" {
			j.tokens[tok] = true
		}
	}
	for _, l := range lines {
		j.lines = append(j.lines, l.Text)
	}
	j.attempts += attempts
}

// Verdict is for TestMain: given the exit code of m.Run, it checks j when
// the tests passed and returns the code the test binary should exit with.
func (j *Journal) Verdict(code int) int {
	if code != 0 {
		return code
	}
	if err := j.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the syslog journal: %v\n", err)
		return 1
	}
	return 0
}

// Check prints a summary of j on standard output and returns an error
// naming every typed token found in a logged line (ContainsToken). A journal of attempts
// without a single captured line is an error too: it would prove nothing.
func (j *Journal) Check() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var leaks []string
	for tok := range j.tokens {
		for _, line := range j.lines {
			if ContainsToken(line, tok) {
				leaks = append(leaks, fmt.Sprintf("token %q in %q", tok, line))
			}
		}
	}
	fmt.Printf("syslog journal: %d attempts, %d lines, %d distinct tokens typed, %d found in the log\n",
		j.attempts, len(j.lines), len(j.tokens), len(leaks))
	if j.attempts > 0 && len(j.lines) == 0 {
		return errors.New("attempts were made but no log line was captured: the journal proves nothing")
	}
	if len(leaks) > 0 {
		return fmt.Errorf("typed tokens reached the log:\n%s", strings.Join(leaks, "\n"))
	}
	return nil
}

// ContainsToken reports whether tok appears in line. A token of digits
// only, such as a TOTP code, counts only where no digit stands beside it:
// a six-digit code would otherwise be found by chance in the long numbers
// of temporary paths, process ids and durations, while a logged code
// would stand on its own.
func ContainsToken(line, tok string) bool {
	if strings.Trim(tok, "0123456789") != "" {
		return strings.Contains(line, tok)
	}
	isDigit := func(s string, i int) bool { return i >= 0 && i < len(s) && s[i] >= '0' && s[i] <= '9' }
	for off := 0; ; {
		i := strings.Index(line[off:], tok)
		if i < 0 {
			return false
		}
		i += off
		if !isDigit(line, i-1) && !isDigit(line, i+len(tok)) {
			return true
		}
		off = i + 1
	}
}
