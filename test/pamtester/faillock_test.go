package pamtester

import (
	"os/exec"
	"os/user"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
)

// TestFaillockBoundsGuessing is README's guessing stack with the real
// pam_faillock around pam_vault's TOTP mode: after deny wrong codes the
// user is locked, and even the right code is then refused without being
// asked for or sent to Vault; `faillock --reset` unlocks the user.
// pam_faillock keeps its tally for real accounts only, so the test logs
// in as the system account daemon, whose Vault key it creates.
func TestFaillockBoundsGuessing(t *testing.T) {
	e := setup(t)
	te := e.totpSetup(t)
	if err := pamtest.Tools("faillock"); err != nil {
		pamtest.Need(t, "%v", err)
	}
	const name = "daemon"
	if _, err := user.Lookup(name); err != nil {
		pamtest.Need(t, "pam_faillock needs a real account; %s: %v", name, err)
	}
	const deny = 3
	tally := t.TempDir()
	opts := " dir=" + tally + " deny=3"
	svc := e.service(t, "totp-faillock",
		"auth requisite pam_faillock.so preauth"+opts,
		"auth [success=1 default=bad] MODULE totp dev config="+te.config,
		"auth [default=die] pam_faillock.so authfail"+opts,
		"auth sufficient pam_faillock.so authsucc"+opts)
	k := e.totpKey(t, name, 6)

	// login runs one attempt; vaultLines is how many lines pam_vault
	// should log for it (pam_faillock logs its own, without user input:
	// its lockout notice, and on libpam 1.7 "Error sending audit message"
	// twice an attempt, since audit_open fails under pam_wrapper).
	login := func(t *testing.T, stdin string, vaultLines int) pamtest.Outcome {
		t.Helper()
		o := pamtest.Pamtester(t, 0, e.wrapperEnv(), stdin, "-v", svc, name, "authenticate")
		mine := withoutLines(o.Syslog, "Consecutive login failures", "Error sending audit message")
		journal.Record(t, vaultLines, []string{strings.TrimSpace(stdin)}, mine)
		return o
	}

	for i := 1; i <= deny; i++ {
		o := login(t, wrongCode(t, k)+"\n", 1)
		expect(t, o, authErr)
		logged(t, o, "authentication failure", "code rejected: not this user's current code")
	}
	right := code(t, k)
	o := login(t, right+"\n", 0)
	expect(t, o, authErr)
	if !strings.Contains(o.Output, "The account is locked") || strings.Contains(o.Output, "Verification code") {
		t.Fatalf("want the lock message and no prompt:\n%s", o.Output)
	}
	if strings.Contains(e.audit(t), `"`+right+`"`) {
		t.Fatalf("the right code reached Vault while the user was locked")
	}

	out, err := exec.Command("faillock", "--dir", tally, "--user", name, "--reset").CombinedOutput()
	if err != nil {
		t.Fatalf("faillock --reset: %v\n%s", err, out)
	}
	o = login(t, right+"\n", 1)
	expect(t, o, pamtesterOK)
	logged(t, o, "accepted Vault TOTP code", "user="+name)
}
