package pamtest

import (
	"crypto/rand"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// A User is a local account a test created, with a home directory, /bin/sh
// and the password field "*" (no password, and not locked as "!" would
// lock it, which pam_unix's account check refuses).
type User struct {
	Name string
}

// CreateUser creates the account name with comment as its GECOS field. An
// account of that name and comment left behind by an earlier, killed run
// is removed first; any other account of that name is an error, never
// touched. Remove deletes it again.
func CreateUser(name, comment string) (*User, error) {
	if entry, err := RunTool("getent", "passwd", name); err == nil {
		if !strings.Contains(entry, comment) {
			return nil, fmt.Errorf("a user %q exists that this suite did not create: %s", name, strings.TrimSpace(entry))
		}
		if err := (&User{name}).Remove(); err != nil {
			return nil, fmt.Errorf("remove user %s left by an earlier run: %w", name, err)
		}
	}
	if _, err := RunTool("useradd", "--create-home", "--shell", "/bin/sh", "--comment", comment, name); err != nil {
		return nil, err
	}
	u := &User{name}
	if _, err := RunTool("usermod", "--password", "*", name); err != nil {
		return nil, withCleanup(err, u.Remove())
	}
	entry, err := RunTool("getent", "shadow", name)
	if err != nil {
		return nil, withCleanup(err, u.Remove())
	}
	if fields := strings.Split(strings.TrimSpace(entry), ":"); len(fields) < 2 || fields[1] != "*" {
		return nil, withCleanup(fmt.Errorf("user %s: password field is not \"*\": %q", name, entry), u.Remove())
	}
	return u, nil
}

// Remove deletes the account and its home directory. userdel's complaint
// about a missing mail spool is not an error.
func (u *User) Remove() error {
	out, err := RunTool("userdel", "--remove", u.Name)
	if err != nil && !(strings.Contains(out, "mail spool") && !strings.Contains(out, "currently used")) {
		return fmt.Errorf("remove test user %s: %w", u.Name, err)
	}
	if _, err := RunTool("getent", "passwd", u.Name); err == nil {
		return fmt.Errorf("remove test user: %s still exists", u.Name)
	}
	return nil
}

// SetPassword gives the account a random password until t ends, then sets
// its password field back to "*", and returns the password: for tests in
// which pam_unix checks a real local password.
func (u *User) SetPassword(t testing.TB) string {
	t.Helper()
	password := rand.Text()
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(u.Name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if _, err := RunTool("usermod", "--password", "*", u.Name); err != nil {
			t.Errorf("reset the password of %s: %v", u.Name, err)
		}
	})
	return password
}

// withCleanup wraps err with a failed clean-up, if there was one.
func withCleanup(err, cleanup error) error {
	if cleanup == nil {
		return err
	}
	return fmt.Errorf("%w (and cleaning up: %v)", err, cleanup)
}
