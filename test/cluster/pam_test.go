package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// The PAM side of the tests: build/ objects driven by pamtester under
// pam_wrapper, and build/pam-vault-check.

// journal holds every token the tests typed and every line the module
// logged; TestMain checks it.
var journal pamtest.Journal

// TestMain fails the package if any typed token reached the module's log.
func TestMain(m *testing.M) {
	os.Exit(journal.Verdict(m.Run()))
}

// runBound bounds one pamtester or pam-vault-check run. It is far above any
// deadline a config here sets: only a hang reaches it.
const runBound = 90 * time.Second

// The messages pamtester prints for the results the tests expect.
const (
	authOK      = pamtest.Success
	authErr     = pamtest.AuthErr
	unavailable = pamtest.AuthInfoUnavail
)

// pam holds what one test needs to drive the module: the build directory
// and a directory of PAM services and config files.
type pam struct {
	build      string // a copy of the repository's build/
	dir        string
	serviceDir pamtest.ServiceDir
}

// newPAM checks that the module is built and pamtester is installed, and
// makes a service directory that is removed when t ends.
func newPAM(t *testing.T) *pam {
	t.Helper()
	p := &pam{dir: t.TempDir()}
	// A copy of build/: the adapter finds the engine and the helper beside
	// itself, and a rebuild of build/ during the test cannot pull a
	// half-written object from under it.
	p.build = pamtest.Stage(t, "", pamtest.Artifacts...)
	if err := pamtest.Tools("pamtester"); err != nil {
		pamtest.Need(t, "%v", err)
	}
	var err error
	if p.serviceDir, err = pamtest.NewServiceDir(filepath.Join(p.dir, "pam.d")); err != nil {
		t.Fatal(err)
	}
	return p
}

// config writes a config file the module accepts (mode 0600, owned by this
// process's user) listing addrs as vault_addr, and returns its path.
func (p *pam) config(t *testing.T, name string, timeout string, addrs ...string) string {
	t.Helper()
	path, err := pamtest.WriteConfig(p.dir, name, pamtest.ConfigText(strings.Join(addrs, ", "), mount, role, timeout))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// service writes a PAM service whose one auth line is pam_vault with cfg,
// the dev, debug and in_process arguments (pamtester is not sshd) and
// extra ones, and returns its name.
func (p *pam) service(t *testing.T, name, cfg string, extra ...string) string {
	t.Helper()
	line := strings.Join(append([]string{
		"auth requisite", filepath.Join(p.build, "pam_vault.so"), "config=" + cfg, "dev", "debug", "in_process",
	}, extra...), " ")
	if _, err := p.serviceDir.Write(name, line); err != nil {
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

// login runs `pamtester -v service user authenticate` with token as the
// conversation's answer, bounded by runBound.
func (p *pam) login(t *testing.T, service, user, token string) login {
	t.Helper()
	o := pamtest.Pamtester(t, runBound, pamtest.WrapperEnv(p.serviceDir, 2), token+"\n",
		"-v", service, user, "authenticate")
	journal.Record(t, 1, []string{token}, o.Syslog)
	l := login{result: o.Result, elapsed: o.Elapsed, output: o.Output}
	for _, line := range o.Syslog {
		if line.Priority != 7 {
			l.verdict = line.Text
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

// expectWithin is expect plus the deadline DESIGN.md promises: the one
// timeout of the config, whatever the nodes do, plus margin for starting
// the process.
func expectWithin(t *testing.T, l login, want string) {
	t.Helper()
	expect(t, l, want)
	if l.elapsed > timeout+margin {
		t.Fatalf("%s after %s, more than the timeout %s plus %s", want, l.elapsed, timeout, margin)
	}
}

// check runs build/pam-vault-check -config=cfg -dev, bounded by runBound,
// and returns its exit status and output.
func (p *pam) check(t *testing.T, cfg string) (int, string) {
	t.Helper()
	o := pamtest.Exec(t, runBound, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "",
		filepath.Join(p.build, "pam-vault-check"), "-config="+cfg, "-dev")
	return o.ExitCode, o.Output
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
