package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The PAM side of the tests: build/ objects driven by pamtester under
// pam_wrapper, and build/pam-vault-check.

const (
	pamWrapper = "libpam_wrapper.so"
	// runBound bounds one pamtester or pam-vault-check run. It is far above
	// any deadline a config here sets: only a hang reaches it.
	runBound = 90 * time.Second
)

// The messages pamtester prints for the results the tests expect.
const (
	authOK      = "successfully authenticated"
	authErr     = "Authentication failure"
	unavailable = "Authentication service cannot retrieve authentication info"
)

// need fails t when the CI environment variable is set and skips it
// otherwise: CI provides every tool, so a missing one there is a broken CI.
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// pam holds what one test needs to drive the module: the build directory
// and a directory of PAM services and config files.
type pam struct {
	build      string // a copy of the repository's build/
	dir        string
	serviceDir string
}

// newPAM checks that the module is built and pamtester is installed, and
// makes a service directory that is removed when t ends.
func newPAM(t *testing.T) *pam {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p := &pam{dir: t.TempDir()}
	// A copy of build/: the adapter finds the engine and the helper beside
	// itself, and a rebuild of build/ during the test cannot pull a
	// half-written object from under it.
	p.build = filepath.Join(p.dir, "build")
	if err := os.Mkdir(p.build, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"pam_vault.so", "pam_vault_go.so", "pam-vault-check"} {
		b, err := os.ReadFile(filepath.Join(root, "build", f))
		if err != nil {
			need(t, "build/%s is missing; run make first: %v", f, err)
		}
		if err := os.WriteFile(filepath.Join(p.build, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := exec.LookPath("pamtester"); err != nil {
		need(t, "pamtester is not installed (make deps): %v", err)
	}
	p.serviceDir = filepath.Join(p.dir, "pam.d")
	if err := os.Mkdir(p.serviceDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// pam_wrapper warns on every pam_start without a fallback service.
	if err := os.WriteFile(filepath.Join(p.serviceDir, "other"), []byte("auth required pam_deny.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// config writes a config file the module accepts (mode 0600, owned by this
// process's user) listing addrs as vault_addr, and returns its path.
func (p *pam) config(t *testing.T, name string, timeout string, addrs ...string) string {
	t.Helper()
	text := fmt.Sprintf("vault_addr = %q\nssh_mount_point = %q\nallowed_roles = %q\ntimeout = %q\n",
		strings.Join(addrs, ", "), mount, role, timeout)
	path := filepath.Join(p.dir, name+".hcl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// service writes a PAM service whose one auth line is pam_vault with cfg,
// the dev and debug arguments and extra ones, and returns its name.
func (p *pam) service(t *testing.T, name, cfg string, extra ...string) string {
	t.Helper()
	line := strings.Join(append([]string{
		"auth requisite", filepath.Join(p.build, "pam_vault.so"), "config=" + cfg, "dev", "debug",
	}, extra...), " ")
	if err := os.WriteFile(filepath.Join(p.serviceDir, name), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// login is what one pamtester run showed.
type login struct {
	result  string        // pamtester's last "pamtester: " line
	verdict string        // the module's one log line above LOG_DEBUG
	elapsed time.Duration // wall time of the whole pamtester run
	output  string
}

// syslogLine matches how pam_wrapper prints a pam_syslog call on stderr.
var syslogLine = regexp.MustCompile(`SYSLOG\((\d+)\): (.*)$`)

// login runs `pamtester -v service user authenticate` with token as the
// conversation's answer, bounded by runBound.
func (p *pam) login(t *testing.T, service, user, token string) login {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pamtester", "-v", service, user, "authenticate")
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LD_PRELOAD=" + pamWrapper,
		"PAM_WRAPPER=1",
		"PAM_WRAPPER_SERVICE_DIR=" + p.serviceDir,
		"PAM_WRAPPER_DEBUGLEVEL=2",
	}
	cmd.Stdin = strings.NewReader(token + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	l := login{elapsed: time.Since(start), output: out.String()}
	if ctx.Err() != nil {
		t.Fatalf("pamtester did not finish within %s: %v\n%s", runBound, err, l.output)
	}
	for _, line := range strings.Split(l.output, "\n") {
		if rest, ok := strings.CutPrefix(line, "pamtester: "); ok {
			l.result = rest
		}
		if m := syslogLine.FindStringSubmatch(line); m != nil && m[1] != "7" {
			l.verdict = m[2]
		}
	}
	return l
}

// expect fails t unless l ended with want, and logs the module's verdict
// line and the time taken.
func expect(t *testing.T, l login, want string) {
	t.Helper()
	t.Logf("%s in %s: %s", l.result, l.elapsed.Round(time.Millisecond), l.verdict)
	if l.result != want {
		t.Fatalf("want %q, got %q\n%s", want, l.result, l.output)
	}
}

// check runs build/pam-vault-check -config=cfg -dev, bounded by runBound,
// and returns its exit status and output.
func (p *pam) check(t *testing.T, cfg string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(p.build, "pam-vault-check"), "-config="+cfg, "-dev")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pam-vault-check did not finish within %s\n%s", runBound, out.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("pam-vault-check: %v", err)
	return -1, ""
}

// reportLines returns the lines of a pam-vault-check report whose status is
// status ("ok", "FAIL", "warn") and check is check ("" for any).
func reportLines(out, status, check string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == status && (check == "" || f[1] == check) {
			lines = append(lines, l)
		}
	}
	return lines
}
