package sshd

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctor runs the built `pam-vault-check doctor` against this suite's
// own live sshd set-ups (their generated sshd_config, through the real
// sshd -T, and their PAM directory): the one every login test uses gets no
// FAIL, and its only warning is the plain-http Vault of the tests; a valid
// OTP then logs in through it. With PasswordAuthentication yes and the
// control requisite, the set-up TestPasswordThenKeyboardInteractive shows
// dropping logins, the doctor warns about the control.
func TestDoctor(t *testing.T) {
	e := setup(t)
	tests := []struct {
		name  string
		opts  serverOptions
		warns []string // the checks of every WARN, in order
	}{
		{"keyboard-interactive", serverOptions{config: configText(e.vault.Addr)}, []string{"config"}},
		{"password and keyboard-interactive, requisite", serverOptions{config: configText(e.vault.Addr), password: true},
			[]string{"config", "control"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := e.startServer(t, tt.opts)
			report, out := e.doctor(t, s)
			var warns, oks []string
			for _, f := range report.Findings {
				switch f.Level {
				case "WARN":
					warns = append(warns, f.Check)
				case "OK":
					oks = append(oks, f.Check)
				default:
					t.Errorf("%s %s: %s; fix: %s", f.Level, f.Check, f.Message, f.Fix)
				}
			}
			if strings.Join(warns, " ") != strings.Join(tt.warns, " ") {
				t.Errorf("warnings %q, want %q:\n%s", warns, tt.warns, out)
			}
			// It saw sshd, the PAM service and the module as installed.
			for _, want := range []string{"sshd", "usepam", "methods", "service", "install", "config", "stack"} {
				if !strings.Contains(" "+strings.Join(oks, " ")+" ", " "+want+" ") {
					t.Errorf("no OK finding %q:\n%s", want, out)
				}
			}
			if report.Failed {
				t.Errorf("report says failed:\n%s", out)
			}
			s.expectLogin(t, clients[0], "127.0.0.1", loginCase{"valid OTP", e.otp(t, testUserName, "127.0.0.1"), true,
				[]string{"accepted Vault OTP"}})
		})
	}
}

// doctorReport is what `pam-vault-check doctor -json` prints.
type doctorReport struct {
	Failed   bool
	Findings []struct{ Level, Check, Message, Fix string }
}

// finding returns the level and message of the first finding of check,
// or "" if there is none.
func (r doctorReport) finding(check string) (level, message string) {
	for _, f := range r.Findings {
		if f.Check == check {
			return f.Level, f.Message
		}
	}
	return "", ""
}

// doctor runs the built `pam-vault-check doctor -json` on s's generated
// sshd_config (through the real sshd -T) and PAM directory, and returns
// its report and its output, for messages.
func (e *env) doctor(t *testing.T, s *server) (doctorReport, []byte) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.build, "pam-vault-check"), "doctor", "-json",
		"-sshd-config", filepath.Join(s.dir, "sshd_config"), "-pam-dir", filepath.Join(s.dir, "pam.d"))
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	var report doctorReport
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("doctor -json: %v\n%s", err, out)
	}
	return report, out
}
