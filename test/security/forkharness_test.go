package security

import (
	"testing"

	"pam_vault/internal/pamtest"
)

// pamCodes names the numeric PAM codes the fork harness prints.
var pamCodes = map[string]string{
	"0":    "PAM_SUCCESS",
	"3":    "PAM_SERVICE_ERR",
	"7":    "PAM_AUTH_ERR",
	"9":    "PAM_AUTHINFO_UNAVAIL",
	"hang": "hang",
}

// forkRun is one run of the harness: the verdicts of parent and child.
type forkRun struct {
	run
	parent, child string
}

// fork runs the harness with extraEnv: pam_start, authenticate in the parent
// with parentToken (which loads the engine there), fork, authenticate in the
// child with childToken (which must then use the helper).
func (e *env) fork(t *testing.T, service, childToken, parentToken string, extraEnv []string) forkRun {
	t.Helper()
	r := pamtest.Fork(t, runLimit, append(e.wrapperEnv(), extraEnv...), service, testUser, childToken, parentToken)
	journal.Record(t, 2, []string{childToken, parentToken}, r.Syslog)
	return forkRun{run: run{Outcome: r.Outcome}, parent: pamCodes[r.Parent], child: pamCodes[r.Child]}
}
