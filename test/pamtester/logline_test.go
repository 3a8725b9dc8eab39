package pamtester

import (
	"strconv"
	"strings"
	"testing"
)

// TestLongUserNameKeepsTheReason logs in under user names a caller can
// choose through real libpam: one of 1010 bytes, which used to push
// reason= off the end of the 1023-byte log line, and one that also holds a
// line break and a forged sshd line. The one log line must say why the
// login failed, hold the user name escaped and visibly cut, and forge no
// second line.
func TestLongUserNameKeepsTheReason(t *testing.T) {
	e := setup(t)
	long := strings.Repeat("a", 1010)
	for _, tc := range []struct{ name, user string }{
		{"1010 bytes", long},
		{"1010 bytes and a forged line", long + "\nsshd[1]: Accepted password for root from 10.0.0.1"},
		{"a forged line", "alice\nsshd[1]: Accepted password for root from 10.0.0.1"},
	} {
		for _, args := range [][]string{nil, {"helper"}} {
			t.Run(tc.name+strings.Join(append([]string{""}, args...), "/"), func(t *testing.T) {
				svc := e.vaultService(t, "long-user", e.configText(), args...)
				o := e.pamtester(t, svc, tc.user, "hunter2\n", nil)
				expect(t, o, authErr)
				logged(t, o, "authentication failure", ` reason="token is not shaped like a Vault OTP; Vault was not asked"`)
				for _, line := range o.SyslogTexts() {
					if strings.HasPrefix(line, "sshd[1]") || strings.Contains(line, "\n") {
						t.Fatalf("a log line was forged: %q", line)
					}
				}
				if len(tc.user) > 128 {
					logged(t, o, `user="aaaa`, "…("+strconv.Itoa(len(tc.user))+` bytes)"`)
				} else {
					logged(t, o, "user="+strconv.Quote(tc.user))
				}
			})
		}
	}
}
