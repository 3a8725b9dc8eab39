package pamtester

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// TestTOTPForkAndHelperAgree runs each TOTP verdict twice through the fork
// harness: in a child that loads the engine itself (sshd's
// keyboard-interactive path), and in a child of a parent that loaded it,
// which must verify in the helper. Both must give the same PAM code.
func TestTOTPForkAndHelperAgree(t *testing.T) {
	e := setup(t)
	te := e.totpSetup(t)
	k := e.totpKey(t, "totp-fork", 6)
	svc := e.totpService(t, "totp-fork", "debug")
	nullok := e.totpService(t, "totp-fork-nullok", "debug", "nullok")
	broken := e.service(t, "totp-fork-broken", "auth requisite MODULE totp dev debug config="+
		e.writeConfig(t, "totp-fork-broken", e.totpConfigText(te.tokenFile+".absent")))
	down := e.service(t, "totp-fork-down", "auth requisite MODULE totp dev debug config="+
		e.writeConfig(t, "totp-fork-down", strings.Replace(e.totpConfigText(te.tokenFile), e.vault.Addr, "http://127.0.0.1:1", 1)))
	var last string // the code the previous run sent, for the reuse case
	for _, tc := range []struct {
		name, service, user string
		token               func() string // nil: the last code again
		want, log           string
	}{
		{"valid code", svc, k.Name, func() string { return code(t, k) }, codeSuccess, "accepted Vault TOTP code"},
		{"the same code again", svc, k.Name, nil, codeAuthErr, "code rejected: already used"},
		{"wrong code", svc, k.Name, func() string { return wrongCode(t, k) }, codeAuthErr, "code rejected: not this user's current code"},
		{"not a code", svc, k.Name, func() string { return "hunter2" }, codeAuthErr, "Vault was not asked"},
		{"no key", svc, "totp-fork-nobody", func() string { return "123456" }, codeAuthErr, "code rejected: no TOTP key for this user in Vault"},
		// PAM_IGNORE from the only module of a stack: libpam answers
		// the application with PAM_PERM_DENIED.
		{"no key, nullok", nullok, "totp-fork-nobody", func() string { return "123456" }, codePermDenied, "ignored (nullok)"},
		{"token file missing", broken, k.Name, func() string { return "123456" }, codeServiceErr, "no such file"},
		{"Vault down", down, k.Name, func() string { return "123456" }, codeUnavailable, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"in process", "helper"} {
				token := last
				if tc.token != nil {
					token = tc.token()
				}
				last = token
				parent := ""
				if path == "helper" {
					parent = "not-a-code" // loads the engine in the parent
				}
				r := pamtest.Fork(t, 0, pamtest.WrapperEnv(e.serviceDir, 3), tc.service, tc.user, token, parent)
				attempts := 1
				if parent != "" {
					attempts = 2
				}
				journal.Record(t, attempts, []string{token, parent}, r.Syslog)
				if r.Child != tc.want {
					t.Fatalf("%s: the child got %q, want %q:\n%s", path, r.Child, tc.want, r.Output)
				}
				pamtest.Logged(t, r.SyslogTexts(), tc.log)
				if path == "helper" {
					pamtest.Logged(t, r.SyslogTexts(), "verifying in a helper process")
				} else {
					pamtest.Logged(t, r.SyslogTexts(), "verifying in process")
				}
			}
		})
	}
}

// TestTOTPForkDuringConversation forks the host from inside its
// conversation, as TestForkDuringConversation does for OTPs, in TOTP mode
// on each path: the parent answers with a wrong code, the child with the
// valid one, and each gets its own verdict.
func TestTOTPForkDuringConversation(t *testing.T) {
	e := setup(t)
	e.totpSetup(t)
	env := pamtest.WrapperEnv(e.serviceDir, 3)
	for _, tc := range []struct {
		path     string
		args     []string
		ancestor bool
		lines    []string // the path lines the parent and the child log
	}{
		{"in process", []string{"debug"}, false, convForkInProcess},
		{"helper argument", []string{"debug", "helper"}, false, convForkHelper},
		{"engine loaded by an ancestor", []string{"debug"}, true, convForkInProcess},
	} {
		t.Run(tc.path, func(t *testing.T) {
			svc := e.totpService(t, "totp-convfork-"+strings.ReplaceAll(tc.path, " ", "-"), tc.args...)
			for _, delay := range []time.Duration{0, 300 * time.Millisecond} {
				// A key of its own per run: each valid code is taken once.
				k := e.totpKey(t, fmt.Sprintf("convfork%d%d", len(tc.path), delay/time.Millisecond), 6)
				first, attempts := "", 2
				if tc.ancestor {
					first, attempts = "not-a-code", 3
				}
				good, bad := code(t, k), wrongCode(t, k)
				r := pamtest.ForkInConversation(t, 0, env, delay, first, svc, k.Name, good, bad)
				journal.Record(t, attempts, []string{good, bad}, r.Syslog)
				if r.Parent != codeAuthErr || r.Child != codeSuccess || (tc.ancestor && r.First != codeAuthErr) {
					t.Fatalf("fork %s into the conversation: first %q, parent %q, child %q; want %q, %q\n%s",
						delay, r.First, r.Parent, r.Child, codeAuthErr, codeSuccess, r.Output)
				}
				for _, line := range tc.lines {
					logged(t, r.Outcome, line)
				}
			}
		})
	}
}
