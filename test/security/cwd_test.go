package security

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
	"pam_vault/test/security/faultproxy"
)

// TestHelperStartsInRoot authenticates from a working directory of the
// test's own, with the verdict made in the helper while Vault hangs, and
// reads the helper's working directory from /proc as it waits: it must be
// "/", so that no file the helper opens depends on where the authenticating
// process stands (in su and sudo, the user's directory).
func TestHelperStartsInRoot(t *testing.T) {
	e := setup(t)
	proxy, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.SetFault(faultproxy.Blackhole())
	svc, _ := e.service(t, "cwd", config(proxy.URL, faultTimeout.String()), "helper")
	dir := t.TempDir()
	helper := filepath.Join(e.build, "pam-vault-check")

	stop := make(chan struct{})
	seen := make(chan string, 1)
	go func() {
		for {
			select {
			case <-stop:
				close(seen)
				return
			default:
			}
			if cwd, ok := helperCwd(helper); ok {
				seen <- cwd
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	otp := e.otp(t)
	r := e.exec(t, e.wrapperEnv(), otp+"\n", "env", "-C", dir, "pamtester", "-v", svc, testUser, "authenticate")
	journal.Record(t, 1, []string{otp}, r.Syslog)
	close(stop)
	cwd, ok := <-seen
	if !ok {
		t.Fatalf("no helper process was seen while Vault hung:\n%s", r.Output)
	}
	if pamtest.Result(r.Output) != pamtest.AuthInfoUnavail {
		t.Errorf("got %q, want %q:\n%s", pamtest.Result(r.Output), pamtest.AuthInfoUnavail, r.Output)
	}
	if cwd != "/" {
		t.Fatalf("the helper ran in %s, the authenticating process's directory %s, not in /", cwd, dir)
	}
}

// helperCwd returns the working directory of a running process whose
// executable is exe.
func helperCwd(exe string) (string, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return "", false
	}
	for _, ent := range entries {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		if path, err := os.Readlink(filepath.Join("/proc", ent.Name(), "exe")); err != nil || path != exe {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", ent.Name(), "cwd")); err == nil {
			return cwd, true
		}
	}
	return "", false
}
