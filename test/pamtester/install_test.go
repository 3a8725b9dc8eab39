package pamtester

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestInstall installs into a staging directory, as a package build would,
// and logs in through the installed module: the engine is found beside it.
func TestInstall(t *testing.T) {
	e := setup(t)
	for _, tc := range []struct {
		name   string
		pamdir string // "" lets the Makefile find this system's directory
	}{
		{"this system's PAM directory", ""},
		{"RHEL layout", "/usr/lib64/security"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := t.TempDir()
			args := []string{"-C", e.root, "--no-print-directory", "install", "DESTDIR=" + dest, "PREFIX=/usr"}
			if tc.pamdir != "" {
				args = append(args, "PAMDIR="+tc.pamdir)
			}
			if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
				t.Fatalf("make install: %v\n%s", err, out)
			}
			pamdir := tc.pamdir
			if pamdir == "" {
				matches, _ := filepath.Glob(filepath.Join(dest, "lib", "*", "security", "pam_vault.so"))
				matches2, _ := filepath.Glob(filepath.Join(dest, "usr", "lib", "*", "security", "pam_vault.so"))
				matches = append(matches, matches2...)
				if len(matches) != 1 {
					t.Fatalf("want one installed pam_vault.so in a multiarch security directory, found %q", matches)
				}
				pamdir = filepath.Dir(matches[0])[len(dest):]
			}
			for file, mode := range map[string]os.FileMode{
				filepath.Join(pamdir, "pam_vault.so"):    0o644,
				filepath.Join(pamdir, "pam_vault_go.so"): 0o644,
				"/usr/sbin/pam-vault-check":              0o755,
				"/usr/share/man/man8/pam_vault.8":        0o644,
				"/usr/share/man/man8/pam-vault-check.8":  0o644,
			} {
				info, err := os.Stat(filepath.Join(dest, file))
				if err != nil {
					t.Fatalf("not installed: %v", err)
				}
				if info.Mode().Perm() != mode {
					t.Errorf("%s has mode %v, want %v", file, info.Mode().Perm(), mode)
				}
			}

			cfg := e.writeConfig(t, "installed", e.configText())
			module := filepath.Join(dest, pamdir, "pam_vault.so")
			// in_process: pamtester is not sshd, and the helper is in
			// DESTDIR, not in the /usr/sbin compiled into the module.
			svc := e.service(t, "installed", "auth requisite "+module+" config="+cfg+" dev in_process")
			otp := e.otp(t, role, testUser, "127.0.0.1")
			expect(t, e.pamtester(t, svc, testUser, otp+"\n", nil), pamtesterOK)

			args[3] = "uninstall"
			if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
				t.Fatalf("make uninstall: %v\n%s", err, out)
			}
			if _, err := os.Stat(module); !os.IsNotExist(err) {
				t.Fatalf("make uninstall left %s: %v", module, err)
			}
		})
	}
}
