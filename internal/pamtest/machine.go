package pamtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	// toolTimeout bounds every account and network command RunTool runs.
	toolTimeout = 30 * time.Second
	// machineLockName is the abstract unix socket LockMachine holds.
	machineLockName = "@pam_vault-test-machine"
	// machineLockWait bounds the wait for another suite to finish.
	machineLockWait = 15 * time.Minute
)

// RunTool runs a system command (useradd, ip, ...) with at most 30 s to
// finish, and returns its output; the error names the command and includes
// what it printed.
func RunTool(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// LockMachine waits, at most 15 minutes, until no other test binary holds
// the machine lock, and takes it; suite names the caller in the message
// printed while it waits. Suites that change machine-wide state (users,
// network namespaces) hold it for their whole run, so that they take turns
// when `go test ./test/...` runs packages in parallel: useradd in one
// fails while another holds /etc/passwd's lock. The lock is an abstract
// unix socket, which the kernel releases when the process exits, however
// it exits; Close releases it sooner.
func LockMachine(suite string) (net.Listener, error) {
	deadline := time.Now().Add(machineLockWait)
	for waited := false; ; waited = true {
		l, err := net.Listen("unix", machineLockName)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("the machine lock %s: %w", machineLockName, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another test suite held %s for %s: %w", machineLockName, machineLockWait, err)
		}
		if !waited {
			fmt.Fprintf(os.Stderr, "%s tests: waiting for another suite to release %s\n", suite, machineLockName)
		}
		time.Sleep(time.Second)
	}
}
