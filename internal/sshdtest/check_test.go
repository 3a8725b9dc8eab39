package sshdtest

import (
	"testing"

	"pam_vault/internal/pamtest"
)

// child is a "[pam]" child as Connection finds it on OpenSSH 9.8.
var child = pamtest.Process{PID: 4243, PPID: 4242, Title: "sshd-session: alice [pam]"}

func TestLineFrom(t *testing.T) {
	verifying := pamtest.LogLine{Text: "sshd-session[4243]: pam_vault(sshd:auth): verifying in process", PID: 4243}
	accepted := pamtest.LogLine{Text: "sshd-session[4243]: pam_vault(sshd:auth): accepted Vault OTP for alice", PID: 4243}
	for _, tt := range []struct {
		name    string
		lines   []pamtest.LogLine
		part    string
		wantErr bool
	}{
		{"one line from the child", []pamtest.LogLine{verifying, accepted}, "accepted Vault OTP", false},
		{"no such line", []pamtest.LogLine{verifying}, "accepted Vault OTP", true},
		{"the line twice", []pamtest.LogLine{accepted, accepted}, "accepted Vault OTP", true},
		{"the part without the module's tag", []pamtest.LogLine{{Text: "sshd-session[4243]: accepted Vault OTP", PID: 4243}}, "accepted Vault OTP", true},
		{"sent by another pid", []pamtest.LogLine{{Text: accepted.Text, PID: 4242}}, "accepted Vault OTP", true},
		{"tagged by another program", []pamtest.LogLine{{Text: "sshd-auth[4243]: pam_vault(sshd:auth): accepted Vault OTP", PID: 4243}}, "accepted Vault OTP", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := LineFrom(tt.lines, tt.part, child); (err != nil) != tt.wantErr {
				t.Errorf("LineFrom(%q) = %v, want an error: %t", tt.part, err, tt.wantErr)
			}
		})
	}
}

func TestFilterModuleLines(t *testing.T) {
	lines := []pamtest.LogLine{
		{Text: "sshd-session[1]: pam_vault(sshd:auth): verifying in process"},
		{Text: "unix_chkpwd[2]: password check failed for user (alice)"},
		{Text: "sshd-session[1]: pam_unix(sshd:session): session opened for user alice"},
		{Text: "sshd-session[1]: pam_vault(sshd:auth): accepted Vault OTP for alice"},
	}
	got := FilterModuleLines(lines)
	if len(got) != 2 || got[0] != lines[0] || got[1] != lines[3] {
		t.Errorf("FilterModuleLines = %v, want the two pam_vault(sshd:auth) lines", got)
	}
}

func TestCheckSenders(t *testing.T) {
	v98 := Version{9, 8}
	for _, tt := range []struct {
		name    string
		v       Version
		lines   []pamtest.LogLine
		wantErr bool
	}{
		{"from the session program", v98, []pamtest.LogLine{{Text: "sshd-session[1]: pam_vault(sshd:auth): accepted"}}, false},
		{"before 9.8 from sshd", Version{9, 2}, []pamtest.LogLine{{Text: "sshd[1]: pam_vault(sshd:auth): accepted"}}, false},
		{"from sshd-auth", Version{10, 0}, []pamtest.LogLine{{Text: "sshd-auth[1]: pam_vault(sshd:auth): accepted"}}, true},
		{"another module's helper", v98, []pamtest.LogLine{{Text: "unix_chkpwd[2]: password check failed"}}, false},
		{"a pam_vault line of another stack", v98, []pamtest.LogLine{{Text: "sshd[1]: pam_vault(sshd:account): x"}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckSenders(tt.lines, tt.v); (err != nil) != tt.wantErr {
				t.Errorf("CheckSenders on %s = %v, want an error: %t", tt.v, err, tt.wantErr)
			}
		})
	}
}
