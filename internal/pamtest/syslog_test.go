package pamtest

import "testing"

func TestLogLineSender(t *testing.T) {
	for _, tt := range []struct {
		text    string
		program string
		pid     int
		ok      bool
	}{
		{"sshd-session[4242]: pam_vault(sshd:auth): verifying in process", "sshd-session", 4242, true},
		{"sshd[7]: pam_unix(sshd:session): session opened for user alice", "sshd", 7, true},
		{"sudo: pam_vault(sudo:auth): accepted Vault OTP", "", 0, false},
		{"pam_vault(sshd:auth): no tag", "", 0, false},
		{"sshd[x]: not a pid", "", 0, false},
		{"", "", 0, false},
	} {
		program, pid, ok := LogLine{Text: tt.text}.Sender()
		if program != tt.program || pid != tt.pid || ok != tt.ok {
			t.Errorf("Sender of %q = %q, %d, %v; want %q, %d, %v", tt.text, program, pid, ok, tt.program, tt.pid, tt.ok)
		}
	}
}
