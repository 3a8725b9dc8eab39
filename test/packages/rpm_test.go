package packages

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestRPMQuery reads the .rpm with Debian's rpm: name and version, the
// file list with modes and owners, no scriptlets, and what it requires.
func TestRPMQuery(t *testing.T) {
	b := packages(t)
	needTools(t, "rpm")
	nvra := strings.TrimSpace(run(t, "rpm", "-qp", "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}", b.rpm))
	if want := "pam-vault " + b.version + " 1 x86_64"; nvra != want {
		t.Errorf("name, version, release, arch: %q, want %q", nvra, want)
	}

	// --dump: path size mtime digest mode owner group isconfig isdoc
	// rdev symlink.
	want := map[string]string{}
	for _, e := range rpmFiles {
		want[e.path] = "0100" + strconv.FormatUint(uint64(e.mode.Perm()), 8)
	}
	for _, d := range rpmDirs {
		want[d] = "040755"
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--dump", b.rpm)), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			t.Fatalf("cannot read the line %q of rpm --dump", line)
		}
		path, mode, owner, group := f[0], f[4], f[5], f[6]
		if owner != "root" || group != "root" {
			t.Errorf("%s is owned by %s/%s, want root/root", path, owner, group)
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
			t.Errorf("unexpected entry %s", path)
		}
	}
	list := strings.Fields(run(t, "rpm", "-qp", "--list", b.rpm))
	if len(list) != len(want) {
		t.Errorf("rpm --list names %d entries, want %d: %q", len(list), len(want), list)
	}

	// An RPM install touches no PAM stack and no SELinux policy: that is
	// the administrator's step, so there is no scriptlet at all.
	if scripts := strings.TrimSpace(run(t, "rpm", "-qp", "--scripts", b.rpm)); scripts != "" {
		t.Errorf("the package has scriptlets:\n%s", scripts)
	}

	var requires []string
	for _, r := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--requires", b.rpm)), "\n") {
		if !strings.HasPrefix(r, "rpmlib(") {
			requires = append(requires, r)
		}
	}
	slices.Sort(requires)
	deb := relations(strings.TrimSpace(run(t, "dpkg-deb", "--field", b.deb, "Depends")))
	// The same minimum versions as the .deb: both come from the objects'
	// symbol versions.
	wantRequires := []string{"glibc >= " + deb["libc6"], "pam >= " + deb["libpam0g"]}
	if !slices.Equal(requires, wantRequires) {
		t.Errorf("requires %q, want %q", requires, wantRequires)
	}
}

// TestRPMInstallRoot installs the .rpm with rpm --root into a scratch
// directory (--nodeps: the scratch root has no glibc or pam package), finds
// each file at its path with its mode, and removes it again.
func TestRPMInstallRoot(t *testing.T) {
	b := packages(t)
	needTools(t, "rpm")
	root := t.TempDir()
	run(t, "rpm", "--root", root, "--initdb")
	run(t, "rpm", "--root", root, "-i", "--nodeps", b.rpm)
	if q := strings.TrimSpace(run(t, "rpm", "--root", root, "-q", "pam-vault")); q != "pam-vault-"+b.version+"-1.x86_64" {
		t.Errorf("rpm -q pam-vault: %q", q)
	}
	for _, e := range rpmFiles {
		info, err := os.Stat(filepath.Join(root, e.path))
		if err != nil {
			t.Errorf("not installed: %v", err)
			continue
		}
		if !info.Mode().IsRegular() || info.Mode().Perm() != e.mode {
			t.Errorf("%s has mode %v, want a regular file with mode %v", e.path, info.Mode(), e.mode)
		}
	}

	run(t, "rpm", "--root", root, "-e", "pam-vault")
	for _, e := range rpmFiles {
		if _, err := os.Lstat(filepath.Join(root, e.path)); err == nil {
			t.Errorf("%s is left after rpm -e", e.path)
		}
	}
	for _, d := range rpmDirs {
		if _, err := os.Lstat(filepath.Join(root, d)); err == nil {
			t.Errorf("directory %s is left after rpm -e", d)
		}
	}
	// The module directory belongs to the system (pam on RHEL), not to
	// the package: removing the package must not take it away.
	if _, err := os.Stat(filepath.Join(root, "/usr/lib64/security")); err != nil {
		t.Errorf("rpm -e removed the module directory: %v", err)
	}
}

// TestSELinuxModule compiles the SELinux policy module the .rpm installs,
// as its comment tells an administrator to, with Debian's checkpolicy
// (checkmodule -M -m) and semodule_package. No SELinux kernel runs here,
// so loading it is not tried.
func TestSELinuxModule(t *testing.T) {
	b := packages(t)
	needTools(t, "rpm", "checkmodule", "semodule_package")
	root := t.TempDir()
	run(t, "rpm", "--root", root, "--initdb")
	run(t, "rpm", "--root", root, "-i", "--nodeps", b.rpm)
	te := filepath.Join(root, "/usr/share/doc/pam-vault/selinux/pam_vault.te")
	text, err := os.ReadFile(te)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"allow sshd_t { trivnet1_port_t http_port_t }:tcp_socket name_connect;",
		"optional {",
		"allow sshd_session_t { trivnet1_port_t http_port_t }:tcp_socket name_connect;",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("pam_vault.te has no %q", want)
		}
	}

	dir := t.TempDir()
	mod, pp := filepath.Join(dir, "pam_vault.mod"), filepath.Join(dir, "pam_vault.pp")
	if out, err := exec.Command("checkmodule", "-M", "-m", "-o", mod, te).CombinedOutput(); err != nil {
		t.Fatalf("checkmodule: %v\n%s", err, out)
	}
	if out, err := exec.Command("semodule_package", "-o", pp, "-m", mod).CombinedOutput(); err != nil {
		t.Fatalf("semodule_package: %v\n%s", err, out)
	}
	info, err := os.Stat(pp)
	if err != nil || info.Size() == 0 {
		t.Fatalf("semodule_package wrote no policy package: %v", err)
	}
}
