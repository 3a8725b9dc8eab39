package pamtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestLogLineProgram(t *testing.T) {
	for _, tt := range []struct {
		text    string
		program string
	}{
		{"sshd-session[4242]: pam_vault(sshd:auth): verifying in process", "sshd-session"},
		{"sshd-session: pam_vault(sshd:auth): verifying in process", "sshd-session"},
		{"sudo: pam_vault(sudo:auth): accepted Vault OTP", "sudo"},
		{"pam_vault(sshd:auth): no tag", ""},
		{"sshd[x]: not a pid", ""},
		{"", ""},
	} {
		if got := (LogLine{Text: tt.text}).Program(); got != tt.program {
			t.Errorf("Program of %q = %q, want %q", tt.text, got, tt.program)
		}
	}
}

// TestSyslogSinkPID: a line logger(1) sends carries logger's own pid.
func TestSyslogSinkPID(t *testing.T) {
	if err := Tools("logger"); err != nil {
		Need(t, "%v", err)
	}
	sink, err := NewSyslogSink(filepath.Join(t.TempDir(), "log.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	cmd := exec.Command("logger", "--socket-errors=on", "-u", sink.Path, "-t", "pvtest", "hello from logger")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("logger: %v", err)
	}
	lines, err := sink.WaitFor(0, "hello from logger")
	if err != nil {
		t.Fatal(err)
	}
	if lines[0].PID != cmd.Process.Pid {
		t.Errorf("line %q has pid %d, want logger's %d", lines[0], lines[0].PID, cmd.Process.Pid)
	}
}
