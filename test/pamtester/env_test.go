package pamtester

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

// The roles of the shared test Vault. Both accept OTPs for loopback and for
// the documentation network 192.0.2.0/24. foreignIP is an address no
// interface holds; on some machines another address of that network does,
// which makes the host-rule cases the exact-match rule of CVE-2020-24359.
const (
	mount     = "ssh"
	role      = "otp_key_role"
	otherRole = "other_role"
	testUser  = "alice"
	foreignIP = "192.0.2.10"
	roleCIDRs = "127.0.0.0/8,::1/128,192.0.2.0/24"
)

// env is what every test shares: one Vault and a directory of PAM services.
type env struct {
	root       string // the repository
	build      string // its build directory
	vault      *testvault.Server
	dir        string
	serviceDir pamtest.ServiceDir
}

var (
	shared     *env
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	code := journal.Verdict(m.Run())
	if shared != nil {
		shared.vault.Close()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup returns the shared environment, starting it on first use.
func setup(t *testing.T) *env {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = newEnv() })
	if sharedErr != nil {
		pamtest.Need(t, "%v", sharedErr)
	}
	return shared
}

func newEnv() (*env, error) {
	build, err := pamtest.Built(pamtest.Artifacts...)
	if err != nil {
		return nil, err
	}
	if err := pamtest.Tools("pamtester"); err != nil {
		return nil, err
	}
	e := &env{root: filepath.Dir(build), build: build}
	if e.dir, err = os.MkdirTemp("", "pam_vault-it-"); err != nil {
		return nil, err
	}
	if e.serviceDir, err = pamtest.NewServiceDir(filepath.Join(e.dir, "pam.d")); err != nil {
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
	return pamtest.ConfigText(e.vault.Addr, mount, role, "3s", extra...)
}

// writeConfig writes a config file the module accepts: owned by this
// process's user, not writable by group or others.
func (e *env) writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	path, err := pamtest.WriteConfig(e.dir, name, text)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// service writes a PAM service named name whose auth stack is lines, with
// "MODULE" in them replaced by the absolute path of build/pam_vault.so and
// the in_process argument: pamtester and the fork harness are not sshd, and
// the suite's verdicts are made in process as sshd makes them. The default
// path outside sshd, the helper, has tests of its own (fork_test.go).
func (e *env) service(t *testing.T, name string, lines ...string) string {
	t.Helper()
	module := filepath.Join(e.build, "pam_vault.so") + " in_process"
	stack := make([]string, len(lines))
	for i, line := range lines {
		stack[i] = strings.ReplaceAll(line, "MODULE", module)
	}
	if _, err := e.serviceDir.Write(name, stack...); err != nil {
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
	return pamtest.WrapperEnv(e.serviceDir, 2)
}

// The messages pamtester ends with for the results the tests expect.
const (
	pamtesterOK = pamtest.Success
	authErr     = pamtest.AuthErr
	unavailable = pamtest.AuthInfoUnavail
	serviceErr  = pamtest.ServiceErr
)

// pamtester runs `pamtester -v service user authenticate ops...` with stdin
// as the conversation's input and extra variables added to the environment.
func (e *env) pamtester(t *testing.T, service, user, stdin string, extraEnv []string, ops ...string) pamtest.Outcome {
	t.Helper()
	args := append([]string{"-v", service, user, "authenticate"}, ops...)
	o := pamtest.Pamtester(t, 0, append(e.wrapperEnv(), extraEnv...), stdin, args...)
	tokens := []string{strings.TrimSpace(stdin)}
	for _, v := range extraEnv {
		if tok, ok := strings.CutPrefix(v, "PAM_AUTHTOK="); ok {
			tokens = append(tokens, tok)
		}
	}
	journal.Record(t, 1, tokens, o.Syslog)
	return o
}

// expect fails t unless o ended in want: pamtesterOK, or one of PAM's error
// messages.
func expect(t *testing.T, o pamtest.Outcome, want string) {
	t.Helper()
	if want == pamtesterOK {
		if !o.OK {
			t.Fatalf("want success, got %q\n%s", o.Result, o.Output)
		}
		return
	}
	if o.OK || o.Result != want {
		t.Fatalf("want %q, got %q (exit ok=%v)\n%s", want, o.Result, o.OK, o.Output)
	}
}

// withoutLines returns lines without those that start with one of
// prefixes: the lines of the other modules of a stack, which name no
// token, so that the journal counts pam_vault's alone.
func withoutLines(lines []pamtest.LogLine, prefixes ...string) []pamtest.LogLine {
	var out []pamtest.LogLine
	for _, l := range lines {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(l.Text, p) }) {
			out = append(out, l)
		}
	}
	return out
}

// logged fails t unless one pam_syslog line of o contains every part.
func logged(t *testing.T, o pamtest.Outcome, parts ...string) {
	t.Helper()
	pamtest.Logged(t, o.SyslogTexts(), parts...)
}
