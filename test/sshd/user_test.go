package sshd

import (
	"fmt"
	"strings"
)

const (
	// testUserName is the account the tests log in as.
	testUserName = "pvtest1"
	// userComment marks an account as this suite's, so that one left behind
	// by a killed run can be recognised and replaced.
	userComment = "pam_vault sshd test user"
)

// testUser is a local account created for the suite.
type testUser struct {
	name string
}

// createTestUser creates name with a home directory and /bin/sh, and sets its
// password field to "*" (no password, not locked with "!"). An account of
// that name left behind by an earlier run is removed first; any other
// account of that name is an error.
func createTestUser(name string) (*testUser, error) {
	if entry, err := run("getent", "passwd", name); err == nil {
		if !strings.Contains(entry, userComment) {
			return nil, fmt.Errorf("a user %q exists that this suite did not create: %s", name, strings.TrimSpace(entry))
		}
		if err := (&testUser{name}).remove(); err != nil {
			return nil, fmt.Errorf("remove user %s left by an earlier run: %w", name, err)
		}
	}
	if _, err := run("useradd", "--create-home", "--shell", "/bin/sh", "--comment", userComment, name); err != nil {
		return nil, err
	}
	u := &testUser{name}
	if _, err := run("usermod", "--password", "*", name); err != nil {
		return nil, errorsJoin(err, u.remove())
	}
	entry, err := run("getent", "shadow", name)
	if err != nil {
		return nil, errorsJoin(err, u.remove())
	}
	if fields := strings.Split(strings.TrimSpace(entry), ":"); len(fields) < 2 || fields[1] != "*" {
		return nil, errorsJoin(fmt.Errorf("user %s: password field is not \"*\": %q", name, entry), u.remove())
	}
	return u, nil
}

// remove deletes the account and its home directory. userdel's complaint
// about a missing mail spool is not an error.
func (u *testUser) remove() error {
	out, err := run("userdel", "--remove", u.name)
	if err != nil && !(strings.Contains(out, "mail spool") && !strings.Contains(out, "currently used")) {
		return fmt.Errorf("remove test user: %w", err)
	}
	if _, err := run("getent", "passwd", u.name); err == nil {
		return fmt.Errorf("remove test user: %s still exists", u.name)
	}
	return nil
}

// errorsJoin wraps err with a failed clean-up, if there was one.
func errorsJoin(err, cleanup error) error {
	if cleanup == nil {
		return err
	}
	return fmt.Errorf("%w (and cleaning up: %v)", err, cleanup)
}
