package security

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pam_vault/internal/testvault"
)

// The shared test Vault's SSH engine: one allowed role, OTPs for loopback.
const (
	mount      = "ssh"
	role       = "otp_key_role"
	testUser   = "alice"
	loopback   = "127.0.0.1"
	roleCIDRs  = "127.0.0.0/8,::1/128"
	pamWrapper = "libpam_wrapper.so"
	// forgedOTP has the shape of an OTP, but the test Vault never issued it.
	forgedOTP = "5b1f1c55-6a3e-4c0e-9d7b-0e1f2a3b4c5d"
	// runLimit kills any one PAM run that has not ended: far beyond every
	// deadline the module has (35 s for the helper), so a hang shows as a
	// failure instead of stalling the suite.
	runLimit = 60 * time.Second
)

// env is what every test shares: one Vault and a directory of PAM services.
type env struct {
	build      string // the repository's build directory
	harnessSrc string // test/pamtester/testdata/forkharness.c
	vault      *testvault.Server
	dir        string
	serviceDir string
}

var (
	shared     *env
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	if os.Getenv(canaryVar) != "" {
		os.Exit(runCanary(os.Getenv(canaryVar)))
	}
	code := m.Run()
	if shared != nil {
		shared.vault.Close()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// need fails the test when CI is set and skips it otherwise: CI provides
// every tool, so a missing one there is a broken CI, not a reason to skip.
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// setup returns the shared environment, starting it on first use.
func setup(t *testing.T) *env {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = newEnv() })
	if sharedErr != nil {
		need(t, "%v", sharedErr)
	}
	return shared
}

func newEnv() (*env, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	e := &env{
		build:      filepath.Join(root, "build"),
		harnessSrc: filepath.Join(root, "test", "pamtester", "testdata", "forkharness.c"),
	}
	for _, f := range []string{"pam_vault.so", "pam_vault_go.so", "pam-vault-check"} {
		if _, err := os.Stat(filepath.Join(e.build, f)); err != nil {
			return nil, fmt.Errorf("build/%s is missing; run make first: %w", f, err)
		}
	}
	for _, tool := range []string{"pamtester", "cc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (make deps): %w", tool, err)
		}
	}
	if e.dir, err = os.MkdirTemp("", "pam_vault-security-"); err != nil {
		return nil, err
	}
	e.serviceDir = filepath.Join(e.dir, "pam.d")
	if err := os.Mkdir(e.serviceDir, 0o755); err != nil {
		return nil, err
	}
	// pam_wrapper warns on every pam_start without a fallback service.
	if err := os.WriteFile(filepath.Join(e.serviceDir, "other"), []byte("auth required pam_deny.so\n"), 0o644); err != nil {
		return nil, err
	}
	if e.vault, err = testvault.Start(testvault.Options{}); err != nil {
		os.RemoveAll(e.dir)
		return nil, err
	}
	for _, step := range []func() error{
		func() error { return e.vault.EnableSSH(mount) },
		func() error { return e.vault.WriteOTPRole(mount, role, testUser, roleCIDRs) },
	} {
		if err := step(); err != nil {
			e.vault.Close()
			os.RemoveAll(e.dir)
			return nil, err
		}
	}
	return e, nil
}

// otp asks the shared Vault for an OTP for alice at loopback.
func (e *env) otp(t *testing.T) string {
	t.Helper()
	otp, err := e.vault.IssueOTP(mount, role, testUser, loopback)
	if err != nil {
		t.Fatalf("issuing an OTP: %v", err)
	}
	return otp
}

// config is a config file's text for the given vault_addr and timeout.
func config(vaultAddr, timeout string, extra ...string) string {
	lines := append([]string{
		fmt.Sprintf("vault_addr = %q", vaultAddr),
		fmt.Sprintf("ssh_mount_point = %q", mount),
		fmt.Sprintf("allowed_roles = %q", role),
		fmt.Sprintf("timeout = %q", timeout),
	}, extra...)
	return strings.Join(lines, "\n") + "\n"
}

// service writes a config file the module accepts (owned by this user, mode
// 0600) and a PAM service named name whose only auth line is pam_vault with
// that config, the dev and debug arguments, and args. It returns the
// service name and the config's path.
func (e *env) service(t *testing.T, name, configText string, args ...string) (string, string) {
	t.Helper()
	cfg := filepath.Join(e.dir, name+".hcl")
	if err := os.WriteFile(cfg, []byte(configText), 0o600); err != nil {
		t.Fatal(err)
	}
	line := strings.Join(append([]string{"auth requisite", filepath.Join(e.build, "pam_vault.so"),
		"config=" + cfg, "dev", "debug"}, args...), " ")
	if err := os.WriteFile(filepath.Join(e.serviceDir, name), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return name, cfg
}

// wrapperEnv is the environment under which libpam reads services from the
// test's directory and pam_wrapper prints pam_syslog lines, debug included,
// on stderr.
func (e *env) wrapperEnv() []string {
	return []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LD_PRELOAD=" + pamWrapper,
		"PAM_WRAPPER=1",
		"PAM_WRAPPER_SERVICE_DIR=" + e.serviceDir,
		"PAM_WRAPPER_DEBUGLEVEL=3",
	}
}

// run is one finished run of a program that called PAM.
type run struct {
	code    string        // the PAM result, as a name such as PAM_AUTH_ERR
	syslog  []string      // what the module sent to pam_syslog
	output  string        // everything, for failure messages
	elapsed time.Duration // wall time of the whole run
	maxRSS  int64         // the process's peak resident memory, in bytes
}

// pamResults maps pamtester's last words to PAM result names.
var pamResults = map[string]string{
	"Authentication failure":                                     "PAM_AUTH_ERR",
	"Authentication service cannot retrieve authentication info": "PAM_AUTHINFO_UNAVAIL",
	"Error in service module":                                    "PAM_SERVICE_ERR",
}

// pamtester runs `pamtester -v service alice authenticate` with token as
// the conversation's answer and extraEnv added to the environment.
func (e *env) pamtester(t *testing.T, service, token string, extraEnv []string) run {
	t.Helper()
	r := e.exec(t, append(e.wrapperEnv(), extraEnv...), token+"\n", "pamtester", "-v", service, testUser, "authenticate")
	r.code = "exit status without a verdict"
	if strings.Contains(r.output, "successfully authenticated") {
		r.code = "PAM_SUCCESS"
	}
	for _, line := range strings.Split(r.output, "\n") {
		if rest, ok := strings.CutPrefix(line, "pamtester: "); ok {
			if name, ok := pamResults[rest]; ok {
				r.code = name
			}
		}
	}
	return r
}

// exec runs name with args, environment envv and stdin under runLimit, and
// measures it.
func (e *env) exec(t *testing.T, envv []string, stdin string, name string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = envv
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := run{elapsed: time.Since(start), output: out.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s did not end within %s: %v\n%s", name, runLimit, err, r.output)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss * 1024 // Linux reports kilobytes
	}
	r.syslog = syslogLines(r.output)
	return r
}

// syslogLine matches how pam_wrapper prints a pam_syslog call on stderr.
var syslogLine = regexp.MustCompile(`SYSLOG\(\d+\): (.*)$`)

func syslogLines(output string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		if m := syslogLine.FindStringSubmatch(sc.Text()); m != nil {
			lines = append(lines, m[1])
		}
	}
	return lines
}

// logged fails t unless one of lines contains every part.
func logged(t *testing.T, lines []string, parts ...string) {
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

// expect fails t unless r ended in want.
func expect(t *testing.T, r run, want string) {
	t.Helper()
	if r.code != want {
		t.Fatalf("got %s, want %s\n%s", r.code, want, r.output)
	}
}
