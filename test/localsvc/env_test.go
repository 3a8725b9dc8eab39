package localsvc

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

const (
	// caller runs sudo and su; target is whom su switches to and login
	// logs in.
	caller = "pvlocal1"
	target = "pvlocal2"
	// userComment marks the accounts as this suite's, so that ones left
	// behind by a killed run can be recognised and replaced.
	userComment = "pam_vault localsvc test user"

	mount = "ssh"
	role  = "otp_key_role"
	// notHeld is an address this host does not hold (TEST-NET-3) that the
	// role allows, so Vault issues OTPs for it; newEnv checks it is not
	// local.
	notHeld = "203.0.113.9"
	// outsideRole is an address the role's cidr_list does not allow.
	outsideRole = "198.51.100.7"
	// timeout is the module's timeout in every config of the suite.
	timeout = "5s"
)

// tools are the programs the suite runs.
var tools = []string{"sudo", "su", "login", "setpriv", "unshare", "mount", "useradd", "userdel", "usermod", "getent"}

// journal holds every token the suite typed and every line captured on
// every /dev/log; TestMain checks that no token reached a line.
var journal pamtest.Journal

// env is what every test shares: the build, one Vault, the two users.
type env struct {
	build    string // the repository's build directory
	vault    *testvault.Server
	hostAddr string // an address of this host besides loopback; "" if none
	users    []*pamtest.User
	machine  map[string]string // the machine's files the suite shadows, and their digests
	lock     net.Listener      // pamtest.LockMachine's lock; nil once released

	stoppedOnce sync.Once
	stopped     *stoppedVault
	stoppedErr  error
}

var (
	shared     *env
	sharedErr  error
	sharedOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.close(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: cleaning up: %v\n", err)
			code = 1
		}
	}
	os.Exit(journal.Verdict(code))
}

// setup returns the shared environment, creating it on first use.
func setup(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		pamtest.Need(t, "the sudo, su and login tests need root: they create users and mount namespaces")
	}
	sharedOnce.Do(func() { shared, sharedErr = newEnv() })
	if sharedErr != nil {
		pamtest.Need(t, "sudo, su and login test environment: %v", sharedErr)
	}
	return shared
}

// newEnv checks the prerequisites, takes the machine lock, records the
// machine's files, starts Vault and creates the users. Whatever it created
// is undone if a later step fails.
func newEnv() (_ *env, err error) {
	build, err := pamtest.Built(pamtest.Artifacts...)
	if err != nil {
		return nil, err
	}
	e := &env{build: build}
	if err := pamtest.Tools(tools...); err != nil {
		return nil, err
	}
	if e.lock, err = pamtest.LockMachine("localsvc"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if cerr := e.close(); cerr != nil {
				err = fmt.Errorf("%w; cleaning up: %v", err, cerr)
			}
		}
	}()
	if e.machine, err = machineFiles(); err != nil {
		return nil, err
	}
	local, err := localAddrs()
	if err != nil {
		return nil, err
	}
	if slices.Contains(local, notHeld) || slices.Contains(local, outsideRole) {
		return nil, fmt.Errorf("this host holds %s or %s, which the tests need to be foreign: %v", notHeld, outsideRole, local)
	}
	cidrs := []string{"127.0.0.0/8", "::1/128", notHeld + "/32"}
	for _, a := range local {
		if ip := net.ParseIP(a); ip.To4() != nil && !ip.IsLoopback() {
			e.hostAddr = a
			cidrs = append(cidrs, a+"/32")
			break
		}
	}
	if e.vault, err = testvault.Start(testvault.Options{}); err != nil {
		return nil, err
	}
	if err := e.vault.EnableSSH(mount); err != nil {
		return nil, err
	}
	if err := e.vault.WriteOTPRole(mount, role, caller, strings.Join(cidrs, ",")); err != nil {
		return nil, err
	}
	for _, name := range []string{caller, target} {
		u, err := pamtest.CreateUser(name, userComment)
		if err != nil {
			return nil, err
		}
		e.users = append(e.users, u)
	}
	return e, nil
}

// localAddrs lists the addresses of this host's interfaces.
func localAddrs() ([]string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list this host's addresses: %w", err)
	}
	var out []string
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok {
			out = append(out, ipnet.IP.String())
		}
	}
	return out, nil
}

// shadowed are the machine's files and directories the suite's mount
// namespaces hide behind the test's own.
var shadowed = []string{"/etc/pam.d", "/etc/sudoers"}

// machineFiles returns a digest of every file in shadowed, by path.
func machineFiles() (map[string]string, error) {
	files := map[string]string{}
	for _, root := range shadowed {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files[path] = fmt.Sprintf("%v %x", info.Mode(), sha256.Sum256(b))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("record the machine's %s: %w", root, err)
		}
	}
	return files, nil
}

// checkMachine returns an error naming every shadowed file that changed,
// appeared or went away since newEnv recorded them.
func (e *env) checkMachine() error {
	now, err := machineFiles()
	if err != nil {
		return err
	}
	var changed []string
	for path, digest := range e.machine {
		if now[path] != digest {
			changed = append(changed, path)
		}
	}
	for path := range now {
		if _, ok := e.machine[path]; !ok {
			changed = append(changed, path)
		}
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		return fmt.Errorf("the machine's files changed during the run: %s", strings.Join(changed, ", "))
	}
	return nil
}

// close removes the users, stops the Vaults, checks that the machine's
// files are as they were and that the users are gone, and releases the
// lock.
func (e *env) close() error {
	var errs []error
	for _, u := range e.users {
		errs = append(errs, u.Remove())
	}
	if e.vault != nil {
		e.vault.Close()
	}
	if e.stopped != nil {
		e.stopped.server.Close()
	}
	if e.machine != nil {
		errs = append(errs, e.checkMachine())
	}
	for _, name := range []string{caller, target} {
		if _, err := pamtest.RunTool("getent", "passwd", name); err == nil {
			errs = append(errs, fmt.Errorf("user %s still exists", name))
		}
	}
	if e.lock != nil {
		e.lock.Close()
		e.lock = nil
	}
	return errors.Join(errs...)
}

// otp asks the shared Vault for an OTP for user at ip.
func (e *env) otp(t *testing.T, user, ip string) string {
	t.Helper()
	otp, err := e.vault.IssueOTP(mount, role, user, ip)
	if err != nil {
		t.Fatalf("issuing an OTP for %s@%s: %v", user, ip, err)
	}
	return otp
}

// stoppedVault is a Vault that issued OTPs and was then stopped: a user
// holds a valid OTP and Vault went away.
type stoppedVault struct {
	server *testvault.Server
	otps   map[string]string // by user, issued for 127.0.0.1
}

// stoppedVault starts, on first use, a second Vault with the same role,
// takes an OTP for each user from it and stops it.
func (e *env) stoppedVault(t *testing.T) *stoppedVault {
	t.Helper()
	e.stoppedOnce.Do(func() {
		s, err := testvault.Start(testvault.Options{})
		if err != nil {
			e.stoppedErr = err
			return
		}
		e.stopped = &stoppedVault{server: s, otps: map[string]string{}}
		if err := s.EnableSSH(mount); err != nil {
			e.stoppedErr = err
			return
		}
		if err := s.WriteOTPRole(mount, role, caller, "127.0.0.0/8"); err != nil {
			e.stoppedErr = err
			return
		}
		for _, u := range []string{caller, target} {
			if e.stopped.otps[u], err = s.IssueOTP(mount, role, u, "127.0.0.1"); err != nil {
				e.stoppedErr = err
				return
			}
		}
		s.Stop()
	})
	if e.stoppedErr != nil {
		pamtest.Need(t, "a second Vault: %v", e.stoppedErr)
	}
	return e.stopped
}
