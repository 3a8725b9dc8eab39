package pamtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ForkRun is one run of the fork harness, test/pamtester/testdata/
// forkharness.c: the PAM codes the first login, the parent, its second
// thread and the child printed, as decimal numbers ("" for one that did not
// authenticate, "hang" for a parent or child without a verdict in time),
// and the whole Outcome.
type ForkRun struct {
	Outcome
	First, Parent, Thread, Child string
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
	args := []string{service, user, childToken}
	if parentToken != "" {
		args = append(args, parentToken)
	}
	return runForkHarness(t, limit, env, args...)
}

// ForkDuringLoad runs the fork harness so that the child may be forked
// while the parent loads the engine: another thread of the parent starts
// authenticating with threadToken, which loads the engine, and the main
// thread forks delay later; the child authenticates with childToken.
func ForkDuringLoad(t testing.TB, limit time.Duration, env []string, delay time.Duration, service, user, childToken, threadToken string) ForkRun {
	t.Helper()
	us := strconv.FormatInt(delay.Microseconds(), 10)
	return runForkHarness(t, limit, env, "-thread", us, threadToken, service, user, childToken)
}

// ForkInConversation runs the fork harness so that the host forks during
// the conversation, from inside its conversation function, delay after the
// module asked for the token: the parent answers parentToken and the child
// childToken, and each goes on to its verdict. With a firstToken other than
// "", a process authenticates with it first (which loads the engine) and
// forks the process that does all that.
func ForkInConversation(t testing.TB, limit time.Duration, env []string, delay time.Duration, firstToken, service, user, childToken, parentToken string) ForkRun {
	t.Helper()
	if firstToken == "" {
		firstToken = "-"
	}
	us := strconv.FormatInt(delay.Microseconds(), 10)
	return runForkHarness(t, limit, env, "-conv", us, firstToken, service, user, childToken, parentToken)
}

func runForkHarness(t testing.TB, limit time.Duration, env []string, args ...string) ForkRun {
	t.Helper()
	forkHarness.once.Do(func() { forkHarness.path, forkHarness.err = compileForkHarness() })
	if forkHarness.err != nil {
		t.Fatalf("compiling the fork harness: %v", forkHarness.err)
	}
	r := ForkRun{Outcome: Exec(t, limit, env, "", forkHarness.path, args...)}
	if !r.OK {
		t.Fatalf("fork harness: exit status %d\n%s", r.ExitCode, r.Output)
	}
	for _, line := range strings.Split(r.Output, "\n") {
		if v, ok := strings.CutPrefix(line, "first "); ok {
			r.First = v
		}
		if v, ok := strings.CutPrefix(line, "parent "); ok {
			r.Parent = v
		}
		if v, ok := strings.CutPrefix(line, "thread "); ok {
			r.Thread = v
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
