// Package doctor reads a host's real sshd and PAM configuration and says,
// one finding a line, what will keep pam_vault from working there and how
// to fix it. It is the engine of `pam-vault-check doctor`.
//
// The work is split so that the judgement can be tested on its own: Gather
// runs `sshd -T`, reads the PAM service with its includes resolved
// (ReadStack), loads each pam_vault line's config file with the module's
// own loader and looks at the installed files; Check turns those facts into
// Findings and touches nothing. The PAM side follows Debian's libpam 1.5 to
// the letter: how it splits lines and resolves `include`, `substack` and
// `@include` (ReadStack), and how it runs a stack (Simulate), so that a
// question such as "can a TOTP code alone log in?" is answered by running
// the stack as libpam would, not by guessing from its text.
package doctor

import (
	"fmt"
	"strings"
)

// Level is how bad a finding is.
type Level int

// The levels, in increasing order of trouble.
const (
	// OK is a check that passed; its message says what was seen.
	OK Level = iota
	// Warn is something that works today but breaks logins in some
	// situations, or weakens what pam_vault is there for.
	Warn
	// Fail is something that keeps logins from working, or lets someone
	// in who should not be.
	Fail
)

func (l Level) String() string {
	switch l {
	case OK:
		return "OK"
	case Warn:
		return "WARN"
	default:
		return "FAIL"
	}
}

// MarshalText writes the level as OK, WARN or FAIL, for -json.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Finding is one line of the doctor's report.
type Finding struct {
	Level Level `json:"level"`
	// Check is a short name for the kind of finding, the same for every
	// finding of that kind ("usepam", "config"); pam-vault-check(8) lists
	// them.
	Check string `json:"check"`
	// Message says what was seen and, for WARN and FAIL, what goes wrong
	// because of it.
	Message string `json:"message"`
	// Fix is the exact change that resolves a WARN or FAIL; empty for OK.
	Fix string `json:"fix,omitempty"`
}

// String is the finding as one line of text: level, check, message and,
// after "fix:", the fix.
func (f Finding) String() string {
	line := fmt.Sprintf("%-5s %-12s %s", f.Level, f.Check, f.Message)
	if f.Fix != "" {
		line += "; fix: " + f.Fix
	}
	return strings.ReplaceAll(line, "\n", " ")
}

// Failed reports whether any finding is a FAIL.
func Failed(findings []Finding) bool {
	for _, f := range findings {
		if f.Level == Fail {
			return true
		}
	}
	return false
}

// report collects findings.
type report struct {
	findings []Finding
}

func (r *report) ok(check, format string, args ...any) {
	r.findings = append(r.findings, Finding{Level: OK, Check: check, Message: fmt.Sprintf(format, args...)})
}

func (r *report) warn(check, fix, format string, args ...any) {
	r.findings = append(r.findings, Finding{Level: Warn, Check: check, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (r *report) fail(check, fix, format string, args ...any) {
	r.findings = append(r.findings, Finding{Level: Fail, Check: check, Message: fmt.Sprintf(format, args...), Fix: fix})
}
