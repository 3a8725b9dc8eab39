package security

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

// The shared test Vault's SSH engine: one allowed role, OTPs for loopback.
const (
	mount     = "ssh"
	role      = "otp_key_role"
	testUser  = "alice"
	loopback  = "127.0.0.1"
	roleCIDRs = "127.0.0.0/8,::1/128"
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
	vault      *testvault.Server
	dir        string
	serviceDir pamtest.ServiceDir
}

// journal holds every token the suite typed and every line the module
// logged, from every pamtester and fork harness run; TestMain checks it.
var journal pamtest.Journal

var (
	shared     *env
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	if os.Getenv(canaryVar) != "" {
		os.Exit(runCanary(os.Getenv(canaryVar)))
	}
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
	if err := pamtest.Tools("pamtester", "cc"); err != nil {
		return nil, err
	}
	e := &env{build: build}
	if e.dir, err = os.MkdirTemp("", "pam_vault-security-"); err != nil {
		return nil, err
	}
	if e.serviceDir, err = pamtest.NewServiceDir(filepath.Join(e.dir, "pam.d")); err != nil {
		os.RemoveAll(e.dir)
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
	return pamtest.ConfigText(vaultAddr, mount, role, timeout, extra...)
}

// service writes a config file the module accepts (owned by this user, mode
// 0600) and a PAM service named name whose only auth line is pam_vault with
// that config, the dev, debug and in_process arguments (the suite's
// programs are not sshd, and load the engine as sshd does), and args. It
// returns the service name and the config's path.
func (e *env) service(t *testing.T, name, configText string, args ...string) (string, string) {
	t.Helper()
	cfg, err := pamtest.WriteConfig(e.dir, name, configText)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(append([]string{"auth requisite", filepath.Join(e.build, "pam_vault.so"),
		"config=" + cfg, "dev", "debug", "in_process"}, args...), " ")
	if _, err := e.serviceDir.Write(name, line); err != nil {
		t.Fatal(err)
	}
	return name, cfg
}

// wrapperEnv is the environment under which libpam reads services from the
// test's directory and pam_wrapper prints pam_syslog lines, debug included,
// on stderr.
func (e *env) wrapperEnv() []string {
	return pamtest.WrapperEnv(e.serviceDir, 3)
}

// run is one finished run of a program that called PAM.
type run struct {
	pamtest.Outcome
	code string // the PAM result, as a name such as PAM_AUTH_ERR
}

// pamResults maps pamtester's last words to PAM result names.
var pamResults = map[string]string{
	pamtest.AuthErr:         "PAM_AUTH_ERR",
	pamtest.AuthInfoUnavail: "PAM_AUTHINFO_UNAVAIL",
	pamtest.ServiceErr:      "PAM_SERVICE_ERR",
}

// pamtester runs `pamtester -v service alice authenticate` with token as
// the conversation's answer and extraEnv added to the environment.
func (e *env) pamtester(t *testing.T, service, token string, extraEnv []string) run {
	t.Helper()
	r := run{Outcome: pamtest.Pamtester(t, runLimit, append(e.wrapperEnv(), extraEnv...), token+"\n",
		"-v", service, testUser, "authenticate")}
	journal.Record(t, 1, []string{token}, r.Syslog)
	r.code = "exit status without a verdict"
	if strings.Contains(r.Output, pamtest.Success) {
		r.code = "PAM_SUCCESS"
	}
	if name, ok := pamResults[r.Result]; ok {
		r.code = name
	}
	return r
}

// exec runs name with args, environment envv and stdin under runLimit, and
// measures it.
func (e *env) exec(t *testing.T, envv []string, stdin string, name string, args ...string) run {
	t.Helper()
	return run{Outcome: pamtest.Exec(t, runLimit, envv, stdin, name, args...)}
}

// logged fails t unless one of lines contains every part.
func logged(t *testing.T, lines []string, parts ...string) {
	t.Helper()
	pamtest.Logged(t, lines, parts...)
}

// expect fails t unless r ended in want.
func expect(t *testing.T, r run, want string) {
	t.Helper()
	if r.code != want {
		t.Fatalf("got %s, want %s\n%s", r.code, want, r.Output)
	}
}
