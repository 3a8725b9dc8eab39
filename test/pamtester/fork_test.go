package pamtester

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// PAM's numeric codes, as the harness prints them.
const (
	codeSuccess     = "0"
	codeServiceErr  = "3"
	codePermDenied  = "6"
	codeAuthErr     = "7"
	codeUnavailable = "9"
)

// forkRun is one run of the harness: what the parent and the child got.
type forkRun struct {
	parent, child string
	syslog        []string
	output        string
}

// fork runs the harness: pam_start, optionally authenticate in the parent
// with parentToken, fork, authenticate in the child with childToken.
func (e *env) fork(t *testing.T, service, childToken, parentToken string) forkRun {
	t.Helper()
	// Level 3 adds the adapter's debug lines, which say which path it took.
	r := pamtest.Fork(t, 0, pamtest.WrapperEnv(e.serviceDir, 3), service, testUser, childToken, parentToken)
	attempts := 1
	if parentToken != "" {
		attempts = 2
	}
	journal.Record(t, attempts, []string{childToken, parentToken}, r.Syslog)
	return forkRun{parent: r.Parent, child: r.Child, syslog: r.SyslogTexts(), output: r.Output}
}

// TestForkedChildNeverHangs is how OpenSSH authenticates keyboard-interactive
// logins: pam_start in the parent, pam_authenticate in a forked child. The
// engine must load in the child, and every verdict must be right.
func TestForkedChildNeverHangs(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "fork", e.configText(), "debug")
	for i := 0; i < 20; i++ {
		var token, want string
		switch i % 3 {
		case 0:
			token, want = e.otp(t, role, testUser, "127.0.0.1"), codeSuccess
		case 1:
			token, want = e.otp(t, role, "bob", "127.0.0.1"), codeAuthErr
		default:
			token, want = "not-an-otp", codeAuthErr
		}
		r := e.fork(t, svc, token, "")
		if r.child != want {
			t.Fatalf("login %d: child got %q, want %q\n%s", i, r.child, want, r.output)
		}
		pamtest.Logged(t, r.syslog, "verifying in process")
	}
}

// TestHelperPathGivesTheSameVerdict authenticates once in the parent, which
// loads the engine there, then forks: the child must not call into the
// inherited Go runtime and must reach the same verdicts through the helper.
func TestHelperPathGivesTheSameVerdict(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "fork-helper", e.configText(), "debug")
	for _, tc := range []struct {
		name  string
		token func() string
		want  string
		log   string
	}{
		{"valid OTP", func() string { return e.otp(t, role, testUser, "127.0.0.1") }, codeSuccess, "accepted Vault OTP"},
		{"OTP of another user", func() string { return e.otp(t, role, "bob", "127.0.0.1") }, codeAuthErr, `issued for user \"bob\"`},
		{"OTP of another host", func() string { return e.otp(t, role, testUser, foreignIP) }, codeAuthErr, "another host"},
		{"role not allowed", func() string { return e.otp(t, otherRole, testUser, "127.0.0.1") }, codeAuthErr, "allowed_roles"},
		{"not an OTP", func() string { return "hunter2" }, codeAuthErr, "Vault was not asked"},
		{"unknown OTP", func() string { return "88b0fc03-44e3-718f-b712-50ee585f1a0e" }, codeAuthErr, "OTP not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parentOTP := e.otp(t, role, testUser, "127.0.0.1")
			r := e.fork(t, svc, tc.token(), parentOTP)
			if r.parent != codeSuccess {
				t.Fatalf("parent got %q, want success\n%s", r.parent, r.output)
			}
			if r.child != tc.want {
				t.Fatalf("child got %q, want %q\n%s", r.child, tc.want, r.output)
			}
			pamtest.Logged(t, r.syslog, "verifying in a helper process")
			pamtest.Logged(t, r.syslog, tc.log)
		})
	}
}

// TestHelperPathUnavailableAndBrokenConfig covers the other two results
// through the helper: the verdict crosses the wire intact.
func TestHelperPathUnavailableAndBrokenConfig(t *testing.T) {
	e := setup(t)
	// The parent fails too, but it has loaded the engine, which is all
	// that sends the child to the helper.
	broken := e.vaultService(t, "fork-broken", e.configText(`bogus_key = 1`))
	r := e.fork(t, broken, "88b0fc03-44e3-718f-b712-50ee585f1a0e", "88b0fc03-44e3-718f-b712-50ee585f1a0e")
	if r.parent != codeServiceErr || r.child != codeServiceErr {
		t.Fatalf("broken config: parent %q child %q, want %s both\n%s", r.parent, r.child, codeServiceErr, r.output)
	}
	pamtest.Logged(t, r.syslog, "fork-broken.hcl:5")

	down := strings.Replace(e.configText(), e.vault.Addr, "http://127.0.0.1:1", 1)
	svc := e.vaultService(t, "fork-down", down)
	r = e.fork(t, svc, "88b0fc03-44e3-718f-b712-50ee585f1a0e", "88b0fc03-44e3-718f-b712-50ee585f1a0e")
	if r.parent != codeUnavailable || r.child != codeUnavailable {
		t.Fatalf("Vault down: parent %q child %q, want %s both\n%s", r.parent, r.child, codeUnavailable, r.output)
	}
}

// TestHelperArgument forces the helper path without any fork: the verdicts
// match the in-process ones.
func TestHelperArgument(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "helper-arg", e.configText(), "helper", "debug")
	wrapperDebug := []string{"PAM_WRAPPER_DEBUGLEVEL=3"}
	otp := e.otp(t, role, testUser, "127.0.0.1")
	o := e.pamtester(t, svc, testUser, otp+"\n", wrapperDebug)
	expect(t, o, pamtesterOK)
	logged(t, o, "helper argument given; verifying in a helper process")
	logged(t, o, "accepted Vault OTP", "user=alice")
	o = e.pamtester(t, svc, testUser, otp+"\n", wrapperDebug)
	expect(t, o, authErr)
	logged(t, o, "OTP not found")
}

// TestPathOutsideSSHD writes pam_vault's line without the suite's
// in_process: pamtester is not sshd, so the adapter verifies in the helper
// process by default, and says why in its debug line; in_process opts in,
// and helper wins over it. Each path reaches the same verdicts.
func TestPathOutsideSSHD(t *testing.T) {
	e := setup(t)
	cfg := e.writeConfig(t, "path", e.configText())
	module := filepath.Join(e.build, "pam_vault.so")
	wrapperDebug := []string{"PAM_WRAPPER_DEBUGLEVEL=3"}
	for i, tc := range []struct {
		name string
		args string // after config=, dev and debug
		path string // the adapter's debug line
	}{
		{"default", "", "process pamtester is not sshd and in_process is not given; verifying in a helper process"},
		{"in_process", " in_process", "verifying in process (in_process argument given)"},
		{"helper wins over in_process", " in_process helper", "helper argument given; verifying in a helper process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := fmt.Sprintf("path-%d", i)
			if _, err := e.serviceDir.Write(svc, "auth requisite "+module+" config="+cfg+" dev debug"+tc.args); err != nil {
				t.Fatal(err)
			}
			otp := e.otp(t, role, testUser, "127.0.0.1")
			o := e.pamtester(t, svc, testUser, otp+"\n", wrapperDebug)
			expect(t, o, pamtesterOK)
			logged(t, o, tc.path)
			logged(t, o, "accepted Vault OTP", "user=alice")
			o = e.pamtester(t, svc, testUser, otp+"\n", wrapperDebug)
			expect(t, o, authErr)
			logged(t, o, "OTP not found")
		})
	}
}

// TestForkDuringFirstLoadNeverHangs forks while another thread of the
// parent is loading the engine for the first time, at several delays so
// that the fork lands before, during and after the load. The child must
// never hang on a lock that thread held, and must reach the verdict its
// token deserves on whichever path it takes.
func TestForkDuringFirstLoadNeverHangs(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "fork-load", e.configText(), "debug")
	env := pamtest.WrapperEnv(e.serviceDir, 3)
	paths := map[string]int{}
	for i := 0; i < 60; i++ {
		delay := time.Duration(i%6) * time.Millisecond
		var token, want string
		switch i % 3 {
		case 0:
			token, want = e.otp(t, role, testUser, "127.0.0.1"), codeSuccess
		case 1:
			token, want = e.otp(t, role, "bob", "127.0.0.1"), codeAuthErr
		default:
			token, want = "not-an-otp", codeAuthErr
		}
		r := pamtest.ForkDuringLoad(t, 0, env, delay, svc, testUser, token, "not-an-otp")
		journal.Record(t, 2, []string{token}, r.Syslog)
		if r.Child != want || r.Thread != codeAuthErr {
			t.Fatalf("run %d, fork after %s: child %q, thread %q; want %q, %q\n%s",
				i, delay, r.Child, r.Thread, want, codeAuthErr, r.Output)
		}
		for _, line := range r.SyslogTexts() {
			if strings.Contains(line, "verifying in") {
				paths[line]++
			}
		}
	}
	t.Logf("paths taken by the thread and the child: %v", paths)
}

// TestForkDuringConversation forks the host from inside its conversation
// function, while what the module started before the prompt (the
// connection to Vault in the engine's threads, or the helper reading its
// config and connecting) may still be under way, and after it has ended: a
// delay of 0 forks at once, the longest delay after all of it is done.
// The parent and the child each answer with a token of their own and must
// each reach the verdict it deserves, and log the path it took, on the
// in-process path, the helper path (the helper argument), and the path of
// a process whose engine an ancestor loaded. The child never calls into
// its parent's engine or uses its helper: it does the work again itself.
func TestForkDuringConversation(t *testing.T) {
	e := setup(t)
	inProcess := e.vaultService(t, "convfork", e.configText(), "debug")
	helper := e.vaultService(t, "convfork-helper", e.configText(), "helper", "debug")
	valid := func() string { return e.otp(t, role, testUser, "127.0.0.1") }
	delays := []time.Duration{0, time.Millisecond, 4 * time.Millisecond, 300 * time.Millisecond}
	env := pamtest.WrapperEnv(e.serviceDir, 3)
	for _, tc := range []struct {
		path, service string
		ancestor      bool     // a first login loads the engine in an ancestor
		lines         []string // the path lines the parent and the child log
	}{
		{"in process", inProcess, false, convForkInProcess},
		{"helper argument", helper, false, convForkHelper},
		{"engine loaded by an ancestor", inProcess, true, convForkInProcess},
	} {
		t.Run(tc.path, func(t *testing.T) {
			for i, delay := range delays {
				// Alternate which side gets the token Vault refuses.
				parentToken, parentWant := valid(), codeSuccess
				childToken, childWant := valid(), codeSuccess
				switch i % 3 {
				case 1:
					childToken, childWant = e.otp(t, role, "bob", "127.0.0.1"), codeAuthErr
				case 2:
					parentToken, parentWant = "hunter2", codeAuthErr
				}
				first, attempts := "", 2
				if tc.ancestor {
					first, attempts = "not-an-otp", 3
				}
				r := pamtest.ForkInConversation(t, 0, env, delay, first, tc.service, testUser, childToken, parentToken)
				journal.Record(t, attempts, []string{parentToken, childToken}, r.Syslog)
				if r.Parent != parentWant || r.Child != childWant || (tc.ancestor && r.First != codeAuthErr) {
					t.Fatalf("fork %s into the conversation: first %q, parent %q, child %q; want %q, %q\n%s",
						delay, r.First, r.Parent, r.Child, parentWant, childWant, r.Output)
				}
				for _, line := range tc.lines {
					logged(t, r.Outcome, line)
				}
			}
		})
	}
}

// The path lines of a fork in the conversation. The parent loaded the
// engine before it asked, so its child, which does the work again, finds
// the engine its ancestor's; with the helper argument both use a helper.
var (
	convForkInProcess = []string{"verifying in process (in_process argument given)", "engine was loaded by ancestor process"}
	convForkHelper    = []string{"helper argument given; verifying in a helper process"}
)
