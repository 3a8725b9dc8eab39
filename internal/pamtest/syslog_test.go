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

// TestParseSyslogInterleaved: a call cut in two by another process's call
// on the shared stderr still gives one line per call, the cut one whole.
func TestParseSyslogInterleaved(t *testing.T) {
	for _, tt := range []struct {
		name   string
		stderr string
		want   []LogLine
	}{
		{
			"one call per line",
			"PAMTEST: x\nPWRAP_DEBUG[pamtester (1)] - SYSLOG(7): verifying in process\n" +
				"PWRAP_DEBUG[pamtester (1)] - SYSLOG(5): authentication failure; user=alice\n",
			[]LogLine{{Priority: 7, Text: "verifying in process"}, {Priority: 5, Text: "authentication failure; user=alice"}},
		},
		{
			"a call cut by the child's",
			"PWRAP_DEBUG[<unknown> (4701)] - SYSLOG(5): authentication failure; reason=\"not shaped like a Vault OT" +
				"PWRAP_DEBUG[<unknown> (4700)] - SYSLOG(5): authentication failure; reason=\"bad\" elapsed=3ms\n" +
				"P; Vault was not asked\" elapsed=4ms\n" +
				"PWRAP_DEBUG[<unknown> (4700)] - SYSLOG(7): done\n",
			[]LogLine{
				{Priority: 5, Text: "authentication failure; reason=\"not shaped like a Vault OTP; Vault was not asked\" elapsed=4ms"},
				{Priority: 5, Text: "authentication failure; reason=\"bad\" elapsed=3ms"},
				{Priority: 7, Text: "done"},
			},
		},
		{
			"a call cut by a trace line of the other process",
			"PWRAP_DEBUG[<unknown> (6071)] - SYSLOG(5): authentication failure; reason=\"token is not shaped like a Vault OT" +
				"PWRAP_TRACE[<unknown> (6070)] - pwrap_pam_set_item: pwrap_set_item PAM_AUTHTOK=e786859d-6896-2368-150e-8b01bb2e6a59\n" +
				"P; Vault was not asked\"\n",
			[]LogLine{{Priority: 5, Text: "authentication failure; reason=\"token is not shaped like a Vault OTP; Vault was not asked\""}},
		},
		{"no calls", "PAMTEST: nothing\n", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseSyslog(tt.stderr)
			if len(got) != len(tt.want) {
				t.Fatalf("ParseSyslog gave %d lines, want %d: %q", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}
