package pamtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ForkRun is one run of the fork harness, test/pamtester/testdata/
// forkharness.c: the PAM codes the parent and the child printed, as
// decimal numbers ("" for a parent that did not authenticate, "hang" for a
// child without a verdict in time), and the whole Outcome.
type ForkRun struct {
	Outcome
	Parent, Child string
}

var forkHarness struct {
	once sync.Once
	path string
	err  error
}

// Fork runs the fork harness, compiled on first use into build/test/, under
// env: pam_start for user on service, pam_authenticate in the parent with
// parentToken unless it is "", fork, pam_authenticate in the child with
// childToken. A run longer than limit fails t.
func Fork(t testing.TB, limit time.Duration, env []string, service, user, childToken, parentToken string) ForkRun {
	t.Helper()
	forkHarness.once.Do(func() { forkHarness.path, forkHarness.err = compileForkHarness() })
	if forkHarness.err != nil {
		t.Fatalf("compiling the fork harness: %v", forkHarness.err)
	}
	args := []string{service, user, childToken}
	if parentToken != "" {
		args = append(args, parentToken)
	}
	r := ForkRun{Outcome: Exec(t, limit, env, "", forkHarness.path, args...)}
	if !r.OK {
		t.Fatalf("fork harness: exit status %d\n%s", r.ExitCode, r.Output)
	}
	for _, line := range strings.Split(r.Output, "\n") {
		if v, ok := strings.CutPrefix(line, "parent "); ok {
			r.Parent = v
		}
		if v, ok := strings.CutPrefix(line, "child "); ok {
			r.Child = v
		}
	}
	return r
}

// compileForkHarness compiles the harness under a name of this process's
// own and renames it into place, so that test binaries compiling it at the
// same time never run a half-written file.
func compileForkHarness() (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "build", "test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "forkharness")
	tmp := fmt.Sprintf("%s.%d", out, os.Getpid())
	if err := CompileC(tmp, filepath.Join(root, "test", "pamtester", "testdata", "forkharness.c")); err != nil {
		return "", err
	}
	return out, os.Rename(tmp, out)
}
