// Package pamtest is the plumbing pam_vault's integration tests share:
// skipping or failing on a missing tool (Need), finding the repository and
// its build (Root, Built, Stage), writing PAM service directories and config
// files (ServiceDir, WriteConfig, ConfigText), running programs under
// pam_wrapper (WrapperEnv, Exec, Pamtester) and reading what they logged
// (ParseSyslog, Logged), and compiling the small C programs the tests drive
// libpam with (CompileC). For the suites that run real PAM applications as
// root (sshd, su, sudo): a private mount namespace with the test's own
// /etc/pam.d and /dev/log (Mounts), a socket that captures syslog
// (SyslogSink, LogBook), the processes such an application runs
// (MountNSProcesses), test users (CreateUser), system commands
// (RunTool), and a lock that makes such suites take turns (LockMachine).
// A Journal checks that no token a suite typed reached a captured line.
//
// It imports only the standard library, so that any test support package,
// internal/testvault included, may use it.
package pamtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Need fails t when the CI environment variable is set and skips it
// otherwise: CI provides every tool, so a missing one there is a broken CI,
// not a reason to skip.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// Root returns the repository's root: the nearest directory holding go.mod,
// from the working directory up.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

// Artifacts are what `make` builds into build/.
var Artifacts = []string{"pam_vault.so", "pam_vault_go.so", "pam-vault-check"}

// Built returns the repository's build directory after checking that each
// of files, named relative to it, exists.
func Built(files ...string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	build := filepath.Join(root, "build")
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(build, f)); err != nil {
			return "", fmt.Errorf("%s is missing; run make first: %w", filepath.Join("build", f), err)
		}
	}
	return build, nil
}

// Stage copies files of the repository's build/<sub> ("" for build/ itself)
// into a new temporary directory of t and returns it; a missing file is
// reported through Need. The adapter finds the engine and the helper beside
// itself, so the copies work as a unit, and a rebuild of build/ while a test
// runs cannot pull a half-written object from under it.
func Stage(t testing.TB, sub string, files ...string) string {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	staged := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, "build", sub, f))
		if err != nil {
			Need(t, "%s is missing; run make first: %v", filepath.Join("build", sub, f), err)
		}
		if err := os.WriteFile(filepath.Join(staged, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return staged
}

// Tools returns an error naming the first of tools not on PATH.
func Tools(tools ...string) error {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (make deps): %w", tool, err)
		}
	}
	return nil
}

// ServiceDir is a directory of PAM services, for PAM_WRAPPER_SERVICE_DIR or
// pam_start_confdir.
type ServiceDir string

// NewServiceDir makes the service directory dir, if it is missing, and
// writes in it an "other" service that denies: without a fallback service
// libpam and pam_wrapper complain on every pam_start.
func NewServiceDir(dir string) (ServiceDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	d := ServiceDir(dir)
	if _, err := d.Write("other", "auth required pam_deny.so"); err != nil {
		return "", err
	}
	return d, nil
}

// Write writes the service name, one line per element of lines, and
// returns name.
func (d ServiceDir) Write(name string, lines ...string) (string, error) {
	text := strings.Join(lines, "\n") + "\n"
	return name, os.WriteFile(filepath.Join(string(d), name), []byte(text), 0o644)
}

// ConfigText is the text of a pam_vault config for the Vault at addr (one
// or more addresses, comma separated), the SSH engine at mount, the one
// allowed role and the timeout; extra lines are appended.
func ConfigText(addr, mount, role, timeout string, extra ...string) string {
	lines := append([]string{
		fmt.Sprintf("vault_addr = %q", addr),
		fmt.Sprintf("ssh_mount_point = %q", mount),
		fmt.Sprintf("allowed_roles = %q", role),
		fmt.Sprintf("timeout = %q", timeout),
	}, extra...)
	return strings.Join(lines, "\n") + "\n"
}

// WriteConfig writes text to dir/name.hcl as a config file the module
// accepts: owned by this process's user, mode 0600. It returns the path.
func WriteConfig(dir, name, text string) (string, error) {
	path := filepath.Join(dir, name+".hcl")
	return path, os.WriteFile(path, []byte(text), 0o600)
}

// WrapperEnv is the environment under which libpam, through pam_wrapper,
// reads services from serviceDir and prints pam_syslog lines up to
// debugLevel (2 for notices, 3 with debug lines) on stderr. Libraries in
// preload are preloaded before pam_wrapper.
func WrapperEnv(serviceDir ServiceDir, debugLevel int, preload ...string) []string {
	return []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LD_PRELOAD=" + strings.Join(append(append([]string{}, preload...), "libpam_wrapper.so"), ":"),
		"PAM_WRAPPER=1",
		"PAM_WRAPPER_SERVICE_DIR=" + string(serviceDir),
		"PAM_WRAPPER_DEBUGLEVEL=" + strconv.Itoa(debugLevel),
	}
}

// Syslog severities (RFC 5424) the tests look at.
const (
	LogErr   = 3
	LogDebug = 7
)

// LogLine is one pam_syslog call, as pam_wrapper printed it or a
// SyslogSink received it.
type LogLine struct {
	Priority int    // the syslog severity, 0 to 7 (LogDebug); -1 if unknown
	Text     string // the message
	// PID is the process that sent the line to a SyslogSink, as the
	// kernel told the socket; 0 for lines pam_wrapper printed.
	PID int
}

func (l LogLine) String() string { return fmt.Sprintf("<%d> %s", l.Priority, l.Text) }

// wrapperPrefix is what pam_wrapper prints before each of its lines on
// stderr ("PWRAP_DEBUG[prog (pid)] - "); syslogCall follows it for a
// pam_syslog call, with the call's priority.
var (
	wrapperPrefix = regexp.MustCompile(`PWRAP_[A-Z]+\[[^\]]*\] - `)
	syslogCall    = regexp.MustCompile(`^SYSLOG\((\d+)\): `)
)

// ParseSyslog extracts the pam_syslog lines from pam_wrapper's stderr.
//
// A parent and the child it forked share that stderr, and pam_wrapper may
// write one line in more than one piece, so a call can be cut in two by a
// line of the other process: "…APWRAP_TRACE[…] - …\n" and later the rest
// of A on a line of its own. ParseSyslog splits every line at each of
// pam_wrapper's prefixes and gives a cut call the next text that carries
// no prefix, so that every call is counted once, whole, and nothing of
// another line (pam_wrapper's own traces print the token) is taken for
// part of a call.
func ParseSyslog(stderr string) []LogLine {
	var out []LogLine
	cut := -1 // the index in out of a call whose rest is still to come
	for _, line := range strings.Split(stderr, "\n") {
		prefixes := wrapperPrefix.FindAllStringIndex(line, -1)
		lead := line
		if len(prefixes) > 0 {
			lead = line[:prefixes[0][0]]
		}
		if lead != "" && cut >= 0 {
			out[cut].Text += lead
			cut = -1
		}
		for k, at := range prefixes {
			end := len(line)
			if k+1 < len(prefixes) {
				end = prefixes[k+1][0]
			}
			m := syslogCall.FindStringSubmatch(line[at[1]:end])
			if m == nil {
				continue
			}
			p, _ := strconv.Atoi(m[1])
			out = append(out, LogLine{Priority: p, Text: line[at[1]+len(m[0]) : end]})
			if end < len(line) {
				cut = len(out) - 1
			}
		}
	}
	return out
}

// Texts returns the messages of lines.
func Texts(lines []LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}

// Logged fails t unless one of lines contains every part.
func Logged(t testing.TB, lines []string, parts ...string) {
	t.Helper()
	for _, line := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return
		}
	}
	t.Fatalf("no syslog line holds all of %q; lines:\n%s", parts, strings.Join(lines, "\n"))
}

// The messages pam_strerror gives, which pamtester prints last, for the
// results the tests expect; Success is pamtester's own word for
// PAM_SUCCESS.
const (
	Success         = "successfully authenticated"
	AuthErr         = "Authentication failure"
	AuthInfoUnavail = "Authentication service cannot retrieve authentication info"
	ServiceErr      = "Error in service module"
)

// Outcome is what one run of a program showed.
type Outcome struct {
	OK       bool          // it exited with status 0
	ExitCode int           // its exit status; -1 if a signal ended it
	Result   string        // pamtester's last "pamtester: " line, for Pamtester
	Syslog   []LogLine     // the pam_syslog lines pam_wrapper printed
	Output   string        // stdout and stderr, for failure messages
	Elapsed  time.Duration // wall time of the whole run
	MaxRSS   int64         // the process's peak resident memory, in bytes
}

// SyslogTexts returns the messages of o's pam_syslog lines.
func (o Outcome) SyslogTexts() []string { return Texts(o.Syslog) }

// Exec runs name with args, environment env and stdin, and measures it. A
// run still going after limit (0 for no limit) is killed and fails t, as
// does a program that cannot be started.
func Exec(t testing.TB, limit time.Duration, env []string, stdin, name string, args ...string) Outcome {
	t.Helper()
	ctx := context.Background()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	o := Outcome{OK: err == nil, Elapsed: time.Since(start), Output: out.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s: %v\n%s", name, limit, err, o.Output)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", name, err)
	}
	o.ExitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		o.MaxRSS = ru.Maxrss * 1024 // Linux reports kilobytes
	}
	o.Syslog = ParseSyslog(o.Output)
	return o
}

// Pamtester runs `pamtester args...` through Exec (so typically
// WrapperEnv's environment) with stdin as the conversation's input, and
// sets the Outcome's Result.
func Pamtester(t testing.TB, limit time.Duration, env []string, stdin string, args ...string) Outcome {
	t.Helper()
	o := Exec(t, limit, env, stdin, "pamtester", args...)
	o.Result = Result(o.Output)
	// The prompt has no newline: keep what follows it readable.
	o.Output = strings.ReplaceAll(o.Output, "Password: ", "Password: \n")
	return o
}

// Result is pamtester's last "pamtester: " line in output: pamtester's
// verdict, "" if there is none.
func Result(output string) string {
	var last string
	for _, line := range strings.Split(output, "\n") {
		if rest, ok := strings.CutPrefix(line, "pamtester: "); ok {
			last = rest
		}
	}
	return last
}

// CompileC compiles the C source src into the program out with
// cc -Wall -Wextra -Werror, the drivers' shared header directory
// test/include, flags, and libpam. The error holds cc's output.
func CompileC(out, src string, flags ...string) error {
	root, err := Root()
	if err != nil {
		return err
	}
	args := append([]string{"-Wall", "-Wextra", "-Werror", "-I", filepath.Join(root, "test", "include")}, flags...)
	args = append(args, "-o", out, src, "-lpam")
	if b, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("compiling %s: %w\n%s", src, err, b)
	}
	return nil
}
