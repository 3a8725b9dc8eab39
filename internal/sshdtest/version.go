package sshdtest

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
)

// Version is an OpenSSH release, as `sshd -V` names it ("OpenSSH_9.2").
// Which processes a login passes through, and what sshd_config accepts,
// depend on it:
//
//   - up to 9.7, each connection is served by a re-executed sshd: its
//     "[priv]" monitor runs PAM for the password method, a "[pam]" child it
//     forks runs PAM for keyboard-interactive, and the unprivileged "[net]"
//     child is a fork of the monitor;
//   - 9.8 moved the per-connection work into sshd-session (the same
//     processes, under that program name) and added PerSourcePenalties,
//     on by default;
//   - 10.0 moved the unprivileged child into a program of its own,
//     sshd-auth, which never calls pam_start (Debian links it with libpam
//     all the same).
type Version struct {
	Major, Minor int
}

func (v Version) String() string { return fmt.Sprintf("OpenSSH_%d.%d", v.Major, v.Minor) }

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// HasPenalties reports whether sshd has PerSourcePenalties (9.8 and
// later): after a few failed logins from one address it drops every new
// connection from that address for a while.
func (v Version) HasPenalties() bool { return v.AtLeast(9, 8) }

// SessionProgram is the program that serves a connection and runs PAM in
// its monitor and the monitor's "[pam]" child: the name glibc's syslog()
// puts before their lines (pam_syslog included).
func (v Version) SessionProgram() string {
	if v.AtLeast(9, 8) {
		return "sshd-session"
	}
	return "sshd"
}

// AuthProgram is the program of a connection's unprivileged "[net]" child,
// which parses the client's requests: sshd-auth from 10.0 on, which never
// calls pam_start; before, a fork of the monitor.
func (v Version) AuthProgram() string {
	if v.AtLeast(10, 0) {
		return "sshd-auth"
	}
	return v.SessionProgram()
}

// TestConfig are the sshd_config lines every test sshd needs on v besides
// its own: "PerSourcePenalties no" where sshd has it, so that the failures
// one test makes on purpose from 127.0.0.1 do not drop the next test's
// connections. A test of the penalties themselves leaves them out.
func (v Version) TestConfig() []string {
	if v.HasPenalties() {
		return []string{"PerSourcePenalties no"}
	}
	return nil
}

// versionPattern finds the release in `sshd -V`'s output, such as
// "OpenSSH_10.0p2 Debian-7, OpenSSL 3.5.1 1 Jul 2025".
var versionPattern = regexp.MustCompile(`\bOpenSSH_(\d+)\.(\d+)`)

// ParseVersion reads the OpenSSH release from `sshd -V`'s output.
func ParseVersion(out string) (Version, error) {
	m := versionPattern.FindStringSubmatch(out)
	if m == nil {
		return Version{}, fmt.Errorf("no OpenSSH_<major>.<minor> in %q", out)
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		return Version{}, fmt.Errorf("OpenSSH version %q: out of range", m[0])
	}
	return Version{Major: major, Minor: minor}, nil
}

// installed caches InstalledVersion's answer: the binary does not change
// while the tests run.
var installed = sync.OnceValues(func() (Version, error) {
	// sshd -V prints the version on stderr and exits 0.
	out, err := exec.Command(Path, "-V").CombinedOutput()
	if err != nil {
		return Version{}, fmt.Errorf("%s -V: %w: %s", Path, err, out)
	}
	v, err := ParseVersion(string(out))
	if err != nil {
		return Version{}, fmt.Errorf("%s -V: %w", Path, err)
	}
	return v, nil
})

// InstalledVersion is the release of the sshd the suites run (Path), from
// its own `sshd -V`.
func InstalledVersion() (Version, error) { return installed() }
