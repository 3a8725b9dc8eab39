package sshd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/sshdtest"
	"pam_vault/internal/testvault"
)

// The shared test Vault: one OTP role that accepts loopback and the test
// networks of the host-address tests.
const (
	mount     = "ssh"
	role      = "otp_key_role"
	roleCIDRs = "127.0.0.0/8,::1/128,10.200.0.0/16,fd00:200::/64"
)

// tools are the programs the suite runs, besides the built ones.
var tools = []string{"/usr/sbin/sshd", "ssh", "sshpass", "unshare", "mount", "ip", "useradd", "userdel", "usermod", "getent"}

// env is what every test shares: the repository's build, the sshd
// release, one Vault and the test user.
type env struct {
	build   string // the repository's build directory
	version sshdtest.Version
	vault   *testvault.Server
	user    *pamtest.User
	lock    net.Listener // pamtest.LockMachine's lock; nil once released
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
	os.Exit(code)
}

// setup returns the shared environment, creating it on first use.
func setup(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		pamtest.Need(t, "the sshd tests need root: they create a user, mount and network namespaces, and run sshd")
	}
	sharedOnce.Do(func() { shared, sharedErr = newEnv() })
	if sharedErr != nil {
		pamtest.Need(t, "sshd test environment: %v", sharedErr)
	}
	return shared
}

// newEnv checks the prerequisites, then starts Vault and creates the user.
// Whatever it created is undone if a later step fails.
func newEnv() (_ *env, err error) {
	build, err := pamtest.Built(pamtest.Artifacts...)
	if err != nil {
		return nil, err
	}
	e := &env{build: build}
	if err := pamtest.Tools(tools...); err != nil {
		return nil, err
	}
	if e.version, err = sshdtest.InstalledVersion(); err != nil {
		return nil, err
	}
	if e.lock, err = pamtest.LockMachine("sshd"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if cerr := e.close(); cerr != nil {
				err = fmt.Errorf("%w; cleaning up: %v", err, cerr)
			}
		}
	}()
	if e.vault, err = testvault.Start(testvault.Options{}); err != nil {
		return nil, err
	}
	if err := e.vault.EnableSSH(mount); err != nil {
		return nil, err
	}
	if err := e.vault.WriteOTPRole(mount, role, testUserName, roleCIDRs); err != nil {
		return nil, err
	}
	if e.user, err = pamtest.CreateUser(testUserName, userComment); err != nil {
		return nil, err
	}
	return e, nil
}

// close removes the user, stops Vault and releases the run lock.
func (e *env) close() error {
	var errs []error
	if e.user != nil {
		errs = append(errs, e.user.Remove())
	}
	if e.vault != nil {
		e.vault.Close()
	}
	if e.lock != nil {
		e.lock.Close()
		e.lock = nil
	}
	return errors.Join(errs...)
}

// configText is a pam_vault config for the Vault at vaultAddr, allowing the
// test role; extra lines are appended.
func configText(vaultAddr string, extra ...string) string {
	return pamtest.ConfigText(vaultAddr, mount, role, "5s", extra...)
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
