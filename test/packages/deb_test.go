package packages

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDebFields checks the control fields dpkg and apt act on.
func TestDebFields(t *testing.T) {
	b := packages(t)
	needTools(t, "dpkg-deb")
	for field, want := range map[string]string{
		"Package":      "pam-vault",
		"Version":      b.version,
		"Architecture": "amd64",
		"Section":      "admin",
		"Priority":     "optional",
	} {
		if got := strings.TrimSpace(run(t, "dpkg-deb", "--field", b.deb, field)); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	// What the maintainer scripts need, and the libraries the objects
	// link against; TestDebDependsMatchShlibdeps checks the versions.
	depends := strings.TrimSpace(run(t, "dpkg-deb", "--field", b.deb, "Depends"))
	for _, pkg := range []string{"libc6", "libpam0g", "libpam-runtime"} {
		if !regexp.MustCompile(`(^|, )` + regexp.QuoteMeta(pkg) + ` \(>= [^)]+\)`).MatchString(depends) {
			t.Errorf("Depends %q has no versioned dependency on %s", depends, pkg)
		}
	}
	// No conffiles: the package owns nothing under /etc.
	if out := run(t, "dpkg-deb", "--info", b.deb); strings.Contains(out, "conffiles") {
		t.Errorf("the package has conffiles:\n%s", out)
	}
}

// lsLine matches a regular file in `dpkg-deb --contents`: mode, owner,
// size, date, time, path.
var lsLine = regexp.MustCompile(`^([-dlrwxsStT]{10}) (\S+)/(\S+) +\d+ \S+ \S+ \./(\S*)$`)

// TestDebContents checks every file of the .deb: path, mode and owner, and
// that every directory is root's and 0755.
func TestDebContents(t *testing.T) {
	b := packages(t)
	needTools(t, "dpkg-deb")
	want := map[string]string{}
	for _, e := range debFiles {
		want[e.path] = "-" + permString(e.mode)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "--contents", b.deb)), "\n") {
		m := lsLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("cannot read the line %q of dpkg-deb --contents", line)
		}
		mode, owner, group, path := m[1], m[2], m[3], "/"+strings.TrimSuffix(m[4], "/")
		if owner != "root" || group != "root" {
			t.Errorf("%s is owned by %s/%s, want root/root", path, owner, group)
		}
		if mode[0] == 'd' {
			if mode != "drwxr-xr-x" {
				t.Errorf("directory %s has mode %s, want drwxr-xr-x", path, mode)
			}
			continue
		}
		got[path] = mode
	}
	for path, mode := range want {
		if got[path] == "" {
			t.Errorf("%s is missing", path)
		} else if got[path] != mode {
			t.Errorf("%s has mode %s, want %s", path, got[path], mode)
		}
	}
	for path := range got {
		if want[path] == "" {
			t.Errorf("unexpected file %s", path)
		}
	}
}

// permString writes mode as ls does, without the type letter.
func permString(mode os.FileMode) string {
	return os.FileMode(mode.Perm()).String()[1:]
}

// TestDebDependsMatchShlibdeps compares the library dependencies the
// packaging program reads from the objects' symbol versions with those
// Debian's own tool derives from its symbols files.
func TestDebDependsMatchShlibdeps(t *testing.T) {
	b := packages(t)
	needTools(t, "dpkg-deb", "dpkg-shlibdeps")
	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", b.deb, root)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	control := "Source: pam-vault\n\nPackage: pam-vault\nArchitecture: any\n"
	if err := os.WriteFile(filepath.Join(dir, "debian", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dpkg-shlibdeps", "-O",
		filepath.Join(root, "usr/lib/x86_64-linux-gnu/security/pam_vault.so"),
		filepath.Join(root, "usr/lib/x86_64-linux-gnu/security/pam_vault_go.so"))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-shlibdeps: %v\n%s", err, out)
	}
	theirs := relations(strings.TrimPrefix(strings.TrimSpace(string(out)), "shlibs:Depends="))
	ours := relations(strings.TrimSpace(run(t, "dpkg-deb", "--field", b.deb, "Depends")))
	if len(theirs) == 0 {
		t.Fatalf("dpkg-shlibdeps found no dependency in %q", out)
	}
	for pkg, version := range theirs {
		// dpkg-shlibdeps writes Linux-PAM 1.1 as 1.1.0.
		if trimZeros(ours[pkg]) != trimZeros(version) {
			t.Errorf("Depends has %s (>= %s), dpkg-shlibdeps says (>= %s)", pkg, ours[pkg], version)
		}
	}
}

// relations reads "a (>= 1), b (>= 2)" into {a: 1, b: 2}.
func relations(field string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`([a-z0-9.+-]+) \(>= ([^)]+)\)`).FindAllStringSubmatch(field, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// trimZeros drops trailing ".0" components: 1.1.0 and 1.1 are one version.
func trimZeros(v string) string {
	parts := strings.Split(v, ".")
	for len(parts) > 1 && parts[len(parts)-1] == "0" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, ".")
}

// TestLintian runs Debian's lintian on the .deb: no error and no warning.
// The one override the package ships is explained in it.
func TestLintian(t *testing.T) {
	b := packages(t)
	needTools(t, "lintian")
	out, err := exec.Command("lintian", "--fail-on", "error,warning", b.deb).CombinedOutput()
	var tags []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			tags = append(tags, line)
		}
	}
	if err != nil || len(tags) > 0 {
		t.Fatalf("lintian: %v\n%s", err, out)
	}
	t.Logf("lintian: no error, no warning")
}

// TestDebProfile checks the pam-auth-update profile the .deb ships: off
// by default, README's module line, ahead of pam_unix.
func TestDebProfile(t *testing.T) {
	b := packages(t)
	needTools(t, "dpkg-deb")
	root := t.TempDir()
	run(t, "dpkg-deb", "--extract", b.deb, root)
	text, err := os.ReadFile(filepath.Join(root, "usr/share/pam-configs/pam-vault"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	for _, want := range []string{"Default: no", "Auth-Type: Primary", "Priority: 900", "\t" + profileLine} {
		if !slices.Contains(lines, want) {
			t.Errorf("the profile has no line %q:\n%s", want, text)
		}
	}
}
