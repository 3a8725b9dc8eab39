package pamtest

import (
	"os"
	"strconv"
	"syscall"
)

// The programs the tests start (pamtester, sshd, the harnesses) must see
// only the descriptors each test gives them: a test that runs one under a
// tight RLIMIT_NOFILE counts on it. os/exec closes what Go opened, but not
// what the test binary inherited open without FD_CLOEXEC, such as the lock
// that `flock FILE make test` holds for the whole run; each such one would
// take a slot from the child.
func init() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
