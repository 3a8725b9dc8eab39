package security

import (
	"fmt"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
)

// TestTightLimitsUseTheHelper runs real logins under the resource limits
// with which the engine's Go runtime, loaded in process, killed the host
// ("failed to reserve page summary memory", "out of memory allocating heap
// arena map", "pthread_create failed", "netpollinit failed"): the caller of
// a setuid program such as su sets them. The host must live and end with a
// PAM code; the adapter verifies in the helper, which either decides or,
// killed by the same limit, fails closed.
func TestTightLimitsUseTheHelper(t *testing.T) {
	e := setup(t)
	if err := pamtest.Tools("prlimit"); err != nil {
		pamtest.Need(t, "%v", err)
	}
	svc, _ := e.service(t, "limits", config(e.vault.Addr, "3s"))
	const mb = 1 << 20
	for _, tc := range []struct {
		limit, name string
	}{
		{fmt.Sprintf("--as=%d", 60*mb), "RLIMIT_AS"},
		{fmt.Sprintf("--as=%d", 400*mb), "RLIMIT_AS"},
		{fmt.Sprintf("--as=%d", 800*mb), "RLIMIT_AS"},
		{fmt.Sprintf("--as=%d", 1300*mb), "RLIMIT_AS"},
		{fmt.Sprintf("--as=%d", 1500*mb), "RLIMIT_AS"},
		{fmt.Sprintf("--data=%d", 100*mb), "RLIMIT_DATA"},
		{"--nofile=6", "RLIMIT_NOFILE"},
		{"--nofile=7", "RLIMIT_NOFILE"},
		{"--nproc=100", "RLIMIT_NPROC"},
	} {
		t.Run(tc.limit, func(t *testing.T) {
			otp := e.otp(t)
			o := pamtest.Exec(t, runLimit, e.wrapperEnv(), otp+"\n",
				"prlimit", tc.limit, "pamtester", "-v", svc, testUser, "authenticate")
			journal.Record(t, 1, []string{otp}, o.Syslog)
			if o.ExitCode != 0 && o.ExitCode != 1 {
				t.Fatalf("the host died (exit status %d):\n%s", o.ExitCode, o.Output)
			}
			if r := pamtest.Result(o.Output); r != pamtest.ServiceErr && !strings.Contains(o.Output, pamtest.Success) {
				t.Fatalf("want success or, from a helper the limit killed, %q; got %q\n%s", pamtest.ServiceErr, r, o.Output)
			}
			logged(t, o.SyslogTexts(), tc.name+" is ", "the engine needs; verifying in a helper process")
		})
	}
}
