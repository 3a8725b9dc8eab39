package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
)

// doctorHost writes a PAM directory whose sudo service loads module with
// a valid config file, and returns the directory.
func doctorHost(t *testing.T, module string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(cfg, []byte("vault_addr = \"https://vault.example.com\"\nallowed_roles = \"*\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pam := filepath.Join(dir, "pam.d")
	if err := os.Mkdir(pam, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"sudo":  "auth requisite " + module + " config=" + cfg + "\naccount required pam_permit.so\n",
		"other": "auth required pam_deny.so\n",
	} {
		if err := os.WriteFile(filepath.Join(pam, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pam
}

// TestDoctorOutputs runs the doctor subcommand in process: one line per
// finding, the same findings as JSON, and the exit status.
func TestDoctorOutputs(t *testing.T) {
	build, err := pamtest.Built(pamtest.Artifacts...)
	if err != nil {
		pamtest.Need(t, "%v", err)
	}
	tests := []struct {
		name   string
		module string
		status int
		lines  []string // a prefix of some line each
	}{
		{"installed", filepath.Join(build, "pam_vault.so"), 0, []string{"OK    service", "OK    install", "OK    config", "OK    host-address"}},
		{"not installed", "/nonexistent/pam_vault.so", 1, []string{"FAIL  install", "FAIL  stack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pam := doctorHost(t, tt.module)
			var text, js, stderr bytes.Buffer
			status := run([]string{"doctor", "-service", "sudo", "-pam-dir", pam}, nil, &text, &stderr)
			if status != tt.status {
				t.Fatalf("exit status %d, want %d\n%s%s", status, tt.status, text.String(), stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(text.String()), "\n")
			for _, prefix := range tt.lines {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, prefix)
				}
				if !found {
					t.Errorf("no line starting %q:\n%s", prefix, text.String())
				}
			}
			if jsStatus := run([]string{"doctor", "-json", "-service", "sudo", "-pam-dir", pam}, nil, &js, &stderr); jsStatus != status {
				t.Errorf("-json: exit status %d, text %d", jsStatus, status)
			}
			var report struct {
				Service  string
				Failed   bool
				Findings []struct{ Level, Check, Message, Fix string }
			}
			if err := json.Unmarshal(js.Bytes(), &report); err != nil {
				t.Fatalf("-json output does not parse: %v\n%s", err, js.String())
			}
			if report.Service != "sudo" || report.Failed != (status != 0) || len(report.Findings) != len(lines) {
				t.Fatalf("-json: service %q, failed %v, %d findings; text had %d lines, status %d", report.Service, report.Failed, len(report.Findings), len(lines), status)
			}
			for i, f := range report.Findings {
				if !strings.HasPrefix(lines[i], f.Level) || !strings.Contains(lines[i], f.Message) || !strings.Contains(lines[i], f.Fix) {
					t.Errorf("finding %d: JSON %+v, text %q", i, f, lines[i])
				}
			}
		})
	}
	var out, stderr bytes.Buffer
	if status := run([]string{"doctor", "extra"}, nil, &out, &stderr); status != 64 {
		t.Errorf("doctor with an extra argument: exit status %d, want 64", status)
	}
}

// TestDoctorNotRoot runs the built pam-vault-check doctor as nobody, who
// can read neither sshd's host key nor the config file: it says that it
// needs root for those and checks the rest of the PAM service all the same.
func TestDoctorNotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		pamtest.Need(t, "switching to nobody needs root")
	}
	if err := pamtest.Tools("setpriv", "/usr/sbin/sshd"); err != nil {
		pamtest.Need(t, "%v", err)
	}
	build, err := pamtest.Built(pamtest.Artifacts...)
	if err != nil {
		pamtest.Need(t, "%v", err)
	}
	// nobody must reach the PAM directory; the config file stays root's.
	pam := doctorHost(t, filepath.Join(build, "pam_vault.so"))
	for d := pam; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key := filepath.Join(t.TempDir(), "hostkey")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		pamtest.Need(t, "ssh-keygen: %v: %s", err, out)
	}
	sshdConfig := filepath.Join(filepath.Dir(pam), "sshd_config")
	if err := os.WriteFile(sshdConfig, []byte("HostKey "+key+"\nUsePAM yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		filepath.Join(build, "pam-vault-check"), "doctor", "-service", "sudo", "-sshd-config", sshdConfig, "-pam-dir", pam)
	// Nothing it could see fails, so the exit status is 0.
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("doctor as nobody: %v\n%s", err, out)
	}
	for _, want := range []string{"WARN  sshd         sshd not checked", "sshd -T needs root", "OK    service", "OK    install",
		"WARN  config       " + pam + "/sudo:1: config not checked", "this runs as uid", "fix: run pam-vault-check doctor as root"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
