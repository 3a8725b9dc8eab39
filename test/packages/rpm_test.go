package packages

import (
	"fmt"
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
// (checkmodule -M -m: MLS, as RHEL's targeted policy is) and
// semodule_package, and links it into stand-in base policies to show which
// rules it adds where. No SELinux kernel runs here, so loading it into one
// is not tried.
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

	// No RHEL policy is at hand, so the module is linked against small
	// stand-in base policies that declare, or lack, the types it names,
	// and the linked policy's rules are read back.
	needTools(t, "semodule_link", "semodule_expand", "checkpolicy")
	const sshd = "allow sshd_t http_port_t:tcp_socket { name_connect };\n" +
		"allow sshd_t trivnet1_port_t:tcp_socket { name_connect };"
	const session = "allow sshd_session_t http_port_t:tcp_socket { name_connect };\n" +
		"allow sshd_session_t trivnet1_port_t:tcp_socket { name_connect };"
	for _, tc := range []struct {
		name  string
		types []string
		rules []string // the rules the linked policy must hold
		none  []string // and must not
		err   string   // or the link error
	}{
		{"RHEL 10, with sshd_session_t", []string{"sshd_t", "sshd_session_t"}, []string{sshd, session}, nil, ""},
		{"RHEL 9, without sshd_session_t", []string{"sshd_t"}, []string{sshd}, []string{"sshd_session_t"}, ""},
		{"no sshd_t", []string{"sshd_session_t"}, nil, nil, "requirements were not met: type/attribute sshd_t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := linkWithBase(t, pp, tc.types)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("linking: %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.rules {
				if !strings.Contains(conf, r) {
					t.Errorf("the linked policy lacks\n%s\nit has:\n%s", r, conf)
				}
			}
			for _, n := range tc.none {
				if strings.Contains(conf, n) {
					t.Errorf("the linked policy names %s:\n%s", n, conf)
				}
			}
		})
	}
}

// linkWithBase compiles a minimal MLS base policy declaring the port types
// and types, links the module package pp into it, expands the result to a
// kernel policy and returns that policy as policy.conf text.
func linkWithBase(t *testing.T, pp string, types []string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	base := "class process\nclass tcp_socket\nsid kernel\n" +
		"class process { transition }\nclass tcp_socket { name_connect }\n" +
		"sensitivity s0;\ndominance { s0 }\ncategory c0;\nlevel s0:c0;\n" +
		"mlsconstrain process transition ( h1 eq h2 );\n" +
		"type kernel_t;\ntype trivnet1_port_t;\ntype http_port_t;\n"
	for _, typ := range types {
		base += "type " + typ + ";\n"
	}
	base += "role system_r;\nrole system_r types { kernel_t };\n" +
		"allow kernel_t self:process transition;\n" +
		"user system_u roles { system_r } level s0 range s0;\n" +
		"sid kernel system_u:system_r:kernel_t:s0\n"
	if err := os.WriteFile(filepath.Join(dir, "base.te"), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, step := range [][]string{
		{"checkmodule", "-M", "-o", "base.mod", "base.te"},
		{"semodule_package", "-o", "base.pp", "-m", "base.mod"},
	} {
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the stand-in base policy: %s: %v\n%s", step[0], err, out)
		}
	}
	for _, step := range [][]string{
		{"semodule_link", "-o", "linked.lnk", "base.pp", pp},
		{"semodule_expand", "linked.lnk", "policy.bin"},
		{"checkpolicy", "-M", "-b", "-F", "-o", "policy.conf", "policy.bin"},
	} {
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %w\n%s", step[0], err, out)
		}
	}
	conf, err := os.ReadFile(filepath.Join(dir, "policy.conf"))
	return string(conf), err
}
