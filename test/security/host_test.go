package security

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"pam_vault/internal/pamtest"
)

var hostDriver struct {
	once sync.Once
	path string
	err  error
}

// host runs testdata/host.c, a PAM application that changes its own
// process state before it authenticates, with args, under pam_wrapper with
// extraEnv added, and records its attempts in the journal.
func (e *env) host(t *testing.T, attempts int, tokens, extraEnv []string, args ...string) run {
	t.Helper()
	hostDriver.once.Do(func() {
		hostDriver.path = filepath.Join(e.dir, "host")
		hostDriver.err = pamtest.CompileC(hostDriver.path, "testdata/host.c")
	})
	if hostDriver.err != nil {
		t.Fatal(hostDriver.err)
	}
	r := e.exec(t, append(e.wrapperEnv(), extraEnv...), "", hostDriver.path, args...)
	if !r.OK {
		t.Fatalf("host %s: exit status %d\n%s", strings.Join(args, " "), r.ExitCode, r.Output)
	}
	journal.Record(t, attempts, tokens, r.Syslog)
	for _, line := range strings.Split(r.Output, "\n") {
		if code, ok := strings.CutPrefix(line, "code "); ok {
			r.code = pamCodes[code]
		}
	}
	return r
}

// TestEmptiedEnvironmentStillUsesTheHelper: a c-shared Go runtime reads
// the environment the process started with, not environ, so a host that
// empties its environment before authenticating (polkit's setuid helper
// calls clearenv) must not let GODEBUG and its kind through to an engine
// loaded in process. GODEBUG=inittrace=1 makes a runtime that read it say
// so on standard error.
func TestEmptiedEnvironmentStillUsesTheHelper(t *testing.T) {
	e := setup(t)
	svc, _ := e.service(t, "emptied-env", config(e.vault.Addr, "3s"))
	for _, how := range []string{"clearenv", "environ-null", "unsetenv"} {
		t.Run(how, func(t *testing.T) {
			for _, tc := range []struct{ token, want string }{
				{forgedOTP, "PAM_AUTH_ERR"},
				{e.otp(t), "PAM_SUCCESS"},
			} {
				r := e.host(t, 1, []string{tc.token}, []string{"GODEBUG=inittrace=1"},
					"env", how, svc, testUser, tc.token)
				expect(t, r, tc.want)
				logged(t, r.SyslogTexts(),
					"GODEBUG is set in the environment the process started with; verifying in a helper process")
				if strings.Contains(r.Output, "init runtime @") {
					t.Fatalf("a Go runtime in the host read GODEBUG:\n%s", r.Output)
				}
			}
		})
	}
}
