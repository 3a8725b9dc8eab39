package packages

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
)

// entry is one regular file a package installs.
type entry struct {
	path string
	mode os.FileMode
}

// debFiles are the .deb's files, exactly: nothing under /etc, so installing
// it cannot change a PAM stack.
var debFiles = []entry{
	{"/usr/lib/x86_64-linux-gnu/security/pam_vault.so", 0o644},
	{"/usr/lib/x86_64-linux-gnu/security/pam_vault_go.so", 0o644},
	{"/usr/sbin/pam-vault-check", 0o755},
	{"/usr/share/man/man8/pam_vault.8.gz", 0o644},
	{"/usr/share/man/man8/pam-vault-check.8.gz", 0o644},
	{"/usr/share/doc/pam-vault/README.md.gz", 0o644},
	{"/usr/share/doc/pam-vault/changelog.gz", 0o644},
	{"/usr/share/doc/pam-vault/copyright", 0o644},
	{"/usr/share/doc/pam-vault/examples/config.hcl", 0o644},
	{"/usr/share/pam-configs/pam-vault", 0o644},
	{"/usr/share/lintian/overrides/pam-vault", 0o644},
}

// rpmFiles are the .rpm's files, exactly. RHEL's PAM modules are 0755.
var rpmFiles = []entry{
	{"/usr/lib64/security/pam_vault.so", 0o755},
	{"/usr/lib64/security/pam_vault_go.so", 0o755},
	{"/usr/sbin/pam-vault-check", 0o755},
	{"/usr/share/man/man8/pam_vault.8.gz", 0o644},
	{"/usr/share/man/man8/pam-vault-check.8.gz", 0o644},
	{"/usr/share/doc/pam-vault/README.md", 0o644},
	{"/usr/share/doc/pam-vault/examples/config.hcl", 0o644},
	{"/usr/share/doc/pam-vault/selinux/pam_vault.te", 0o644},
	{"/usr/share/licenses/pam-vault/copyright", 0o644},
}

// rpmDirs are the directories the .rpm owns: only its own, so that
// removing it leaves the system's (/usr/lib64/security) alone.
var rpmDirs = []string{
	"/usr/share/doc/pam-vault",
	"/usr/share/doc/pam-vault/examples",
	"/usr/share/doc/pam-vault/selinux",
	"/usr/share/licenses/pam-vault",
}

// profileLine is the auth line of the pam-auth-update profile: README's
// recommended line, with the control that keeps its meaning inside
// common-auth's generated block (pam-auth-update turns end into a jump).
const profileLine = "[success=end default=die]\tpam_vault.so config=/etc/vault-ssh-helper.d/config.hcl"

// built is what `make package` left in build/.
type built struct {
	version string // what scripts/version.sh said at build time
	deb     string
	rpm     string
}

// packages finds the packages of the version the last build stamped into
// build/version, or reports through Need that they are missing.
func packages(t *testing.T) built {
	t.Helper()
	build, err := pamtest.Built("version")
	if err != nil {
		pamtest.Need(t, "%v", err)
	}
	v, err := os.ReadFile(filepath.Join(build, "version"))
	if err != nil {
		t.Fatal(err)
	}
	b := built{version: strings.TrimSpace(string(v))}
	b.deb = filepath.Join(build, "pam-vault_"+b.version+"_amd64.deb")
	b.rpm = filepath.Join(build, "pam-vault-"+b.version+"-1.x86_64.rpm")
	for _, p := range []string{b.deb, b.rpm} {
		if _, err := os.Stat(p); err != nil {
			pamtest.Need(t, "%s is missing; run make package: %v", p, err)
		}
	}
	return b
}

// needTools reports through Need the first of tools that is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	if err := pamtest.Tools(tools...); err != nil {
		pamtest.Need(t, "%v", err)
	}
}

// run runs a command and returns its standard output; it fails t, with the
// command's error output, if the command fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
