package security

import (
	"bufio"
	"path/filepath"
	"strings"
	"sync"
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

var (
	harnessOnce sync.Once
	harnessPath string
	harnessErr  error
)

// forkHarness compiles test/pamtester/testdata/forkharness.c, read in place,
// once.
func (e *env) forkHarness(t *testing.T) string {
	t.Helper()
	harnessOnce.Do(func() {
		harnessPath = filepath.Join(e.dir, "forkharness")
		harnessErr = pamtest.CompileC(harnessPath, e.harnessSrc)
	})
	if harnessErr != nil {
		t.Fatalf("compiling the fork harness: %v", harnessErr)
	}
	return harnessPath
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
	r := forkRun{run: e.exec(t, append(e.wrapperEnv(), extraEnv...), "",
		e.forkHarness(t), service, testUser, childToken, parentToken)}
	sc := bufio.NewScanner(strings.NewReader(r.Output))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "parent "); ok {
			r.parent = pamCodes[v]
		}
		if v, ok := strings.CutPrefix(sc.Text(), "child "); ok {
			r.child = pamCodes[v]
		}
	}
	journal.Record(t, 2, []string{childToken, parentToken}, r.Syslog)
	return r
}
