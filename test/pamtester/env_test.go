package pamtester

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"pam_vault/internal/testvault"
)

// The roles of the shared test Vault. Both accept OTPs for loopback and for
// the documentation network 192.0.2.0/24. foreignIP is an address no
// interface holds; on some machines another address of that network does,
// which makes the host-rule cases the exact-match rule of CVE-2020-24359.
const (
	mount       = "ssh"
	role        = "otp_key_role"
	otherRole   = "other_role"
	testUser    = "alice"
	foreignIP   = "192.0.2.10"
	roleCIDRs   = "127.0.0.0/8,::1/128,192.0.2.0/24"
	pamWrapper  = "libpam_wrapper.so"
	pamtesterOK = "successfully authenticated"
)

// env is what every test shares: one Vault and a directory of PAM services.
type env struct {
	root       string // the repository
	build      string // its build directory
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
	code := m.Run()
	if code == 0 && shared != nil {
		if leaks := checkJournal(); leaks != "" {
			fmt.Fprintf(os.Stderr, "FAIL: the syslog journal shows a problem:\n%s\n", leaks)
			code = 1
		}
	}
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
	e := &env{root: root, build: filepath.Join(root, "build")}
	for _, f := range []string{"pam_vault.so", "pam_vault_go.so", "pam-vault-check"} {
		if _, err := os.Stat(filepath.Join(e.build, f)); err != nil {
			return nil, fmt.Errorf("build/%s is missing; run make first: %w", f, err)
		}
	}
	if _, err := exec.LookPath("pamtester"); err != nil {
		return nil, fmt.Errorf("pamtester is not installed (make deps): %w", err)
	}
	if e.dir, err = os.MkdirTemp("", "pam_vault-it-"); err != nil {
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
		return nil, err
	}
	for _, step := range []func() error{
		func() error { return e.vault.EnableFileAudit(filepath.Join(e.dir, "audit.log")) },
		func() error { return e.vault.EnableSSH(mount) },
		func() error { return e.vault.WriteOTPRole(mount, role, testUser, roleCIDRs) },
		func() error { return e.vault.WriteOTPRole(mount, otherRole, testUser, roleCIDRs) },
	} {
		if err := step(); err != nil {
			e.vault.Close()
			return nil, err
		}
	}
	return e, nil
}

// otp asks the shared Vault for an OTP.
func (e *env) otp(t *testing.T, role, user, ip string) string {
	t.Helper()
	otp, err := e.vault.IssueOTP(mount, role, user, ip)
	if err != nil {
		t.Fatalf("issuing an OTP for %s@%s under %s: %v", user, ip, role, err)
	}
	return otp
}

// configText is a config for the shared Vault; extra lines are appended.
func (e *env) configText(extra ...string) string {
	lines := append([]string{
		fmt.Sprintf("vault_addr = %q", e.vault.Addr),
		fmt.Sprintf("ssh_mount_point = %q", mount),
		fmt.Sprintf("allowed_roles = %q", role),
		`timeout = "3s"`,
	}, extra...)
	return strings.Join(lines, "\n") + "\n"
}

// writeConfig writes a config file the module accepts: owned by this
// process's user, not writable by group or others.
func (e *env) writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(e.dir, name+".hcl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// service writes a PAM service named name whose auth stack is lines, with
// "MODULE" in them replaced by the absolute path of build/pam_vault.so.
func (e *env) service(t *testing.T, name string, lines ...string) string {
	t.Helper()
	text := strings.ReplaceAll(strings.Join(lines, "\n")+"\n", "MODULE", filepath.Join(e.build, "pam_vault.so"))
	if err := os.WriteFile(filepath.Join(e.serviceDir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// vaultService writes a config and a service whose only auth line is
// pam_vault with that config and the dev argument.
func (e *env) vaultService(t *testing.T, name, configText string, args ...string) string {
	t.Helper()
	cfg := e.writeConfig(t, name, configText)
	line := strings.Join(append([]string{"auth requisite MODULE config=" + cfg, "dev"}, args...), " ")
	return e.service(t, name, line)
}

// wrapperEnv is the environment under which libpam reads services from the
// test's directory and sends pam_syslog lines to stderr.
func (e *env) wrapperEnv() []string {
	return []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LD_PRELOAD=" + pamWrapper,
		"PAM_WRAPPER=1",
		"PAM_WRAPPER_SERVICE_DIR=" + e.serviceDir,
		"PAM_WRAPPER_DEBUGLEVEL=2",
	}
}

// outcome is what one pamtester run showed.
type outcome struct {
	err    string   // pamtester's last line: PAM's message for the result
	syslog []string // the lines the module sent to pam_syslog
	output string   // everything, for failure messages
	ok     bool
}

// The messages pam_strerror gives for the codes the tests expect.
const (
	authErr     = "Authentication failure"
	unavailable = "Authentication service cannot retrieve authentication info"
	serviceErr  = "Error in service module"
)

// pamtester runs `pamtester -v service user authenticate ops...` with stdin
// as the conversation's input and extra variables added to the environment.
func (e *env) pamtester(t *testing.T, service, user, stdin string, extraEnv []string, ops ...string) outcome {
	t.Helper()
	args := append([]string{"-v", service, user, "authenticate"}, ops...)
	cmd := exec.Command("pamtester", args...)
	cmd.Env = append(e.wrapperEnv(), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	o := outcome{output: out.String(), ok: runErr == nil}
	lines := parseSyslog(o.output)
	for _, l := range lines {
		o.syslog = append(o.syslog, l.text)
	}
	tokens := []string{strings.TrimSpace(stdin)}
	for _, v := range extraEnv {
		if tok, ok := strings.CutPrefix(v, "PAM_AUTHTOK="); ok {
			tokens = append(tokens, tok)
		}
	}
	record(t, 1, tokens, lines)
	for _, line := range strings.Split(o.output, "\n") {
		if rest, ok := strings.CutPrefix(line, "pamtester: "); ok {
			o.err = rest
		}
	}
	if strings.Contains(o.output, "Password: ") {
		o.output = strings.ReplaceAll(o.output, "Password: ", "Password: \n")
	}
	return o
}

// expect fails t unless o ended in want: pamtesterOK, or one of PAM's error
// messages.
func expect(t *testing.T, o outcome, want string) {
	t.Helper()
	if want == pamtesterOK {
		if !o.ok {
			t.Fatalf("want success, got %q\n%s", o.err, o.output)
		}
		return
	}
	if o.ok || o.err != want {
		t.Fatalf("want %q, got %q (exit ok=%v)\n%s", want, o.err, o.ok, o.output)
	}
}

// logged fails t unless one pam_syslog line of o contains every part.
func logged(t *testing.T, o outcome, parts ...string) {
	t.Helper()
	for _, line := range o.syslog {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return
		}
	}
	t.Fatalf("no syslog line holds all of %q; lines:\n%s", parts, strings.Join(o.syslog, "\n"))
}
