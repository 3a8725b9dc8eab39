package sshd

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
)

const (
	// maxFailures bounds the failed logins TestPerSourcePenalties makes
	// before sshd must have started dropping connections; OpenSSH's
	// defaults (authfail:5s, min:15s) get there at the fourth quick one.
	maxFailures = 10
	// penaltyDrop is how sshd's listener names the penalty when it drops
	// a connection for failed logins ("drop connection #0 from
	// [127.0.0.1]:40000 on [127.0.0.1]:2222 penalty: failed authentication").
	penaltyDrop = "penalty: failed authentication"
)

// TestPerSourcePenalties shows what OpenSSH's PerSourcePenalties (9.8 and
// later, on by default) do to pam_vault's users, and that the operator's
// fixes README gives undo it. With OpenSSH's defaults, a few failed logins
// from 127.0.0.1 (wrong OTPs) make sshd drop every new connection from that
// address before authentication: a valid OTP's too. pam_vault never sees
// it and Vault still holds it: the same OTP then logs in through an sshd
// with the address in PerSourcePenaltyExemptList, after as many failures.
// With PerSourcePenalties authfail:1s the failures are still counted but
// never reach the 15 s at which sshd starts dropping. The doctor warns
// about the defaults and not about either fix.
//
// sshd logs at DEBUG1 here to show each failure's penalty as the listener
// records it, so that the next connection is judged with it.
func TestPerSourcePenalties(t *testing.T) {
	e := setup(t)
	if !e.version.HasPenalties() {
		t.Skipf("%s has no PerSourcePenalties (OpenSSH 9.8 added them): this sshd drops no connection for failed logins", e.version)
	}
	var failures int
	otp := e.otp(t, testUserName, "127.0.0.1")

	t.Run("defaults drop a valid OTP", func(t *testing.T) {
		s := e.startServer(t, serverOptions{config: configText(e.vault.Addr), moduleArgs: []string{"debug"},
			penalties: opensshDefaults, logLevel: "DEBUG1"})
		if level, msg := s.doctorFinding(t, e, "penalties"); level != "WARN" {
			t.Errorf("doctor: penalties %s %q, want a warning", level, msg)
		}
		failures = s.failUntilDropped(t)
		t.Logf("sshd started dropping connections from 127.0.0.1 after %d failed logins", failures)

		// The failures' own lines are all in before the mark.
		if err := s.syslog.Sync(); err != nil {
			t.Fatal(err)
		}
		sysMark, logMark := s.syslog.Mark(), s.log.Mark()
		s.typedToken(otp)
		r := goLogin(context.Background(), s, "127.0.0.1", testUserName, ssh.KeyboardInteractive(answerWith(otp)))
		if r.err == nil || r.refused {
			t.Fatalf("want the connection dropped before authentication, got %v", r)
		}
		s.expectLog(t, logMark, "drop connection", "from [127.0.0.1]", penaltyDrop)
		// Every line the dropped login could have caused has arrived.
		if err := s.syslog.Sync(); err != nil {
			t.Fatal(err)
		}
		if lines := s.syslog.Since(sysMark); len(lines) != 0 {
			t.Errorf("the dropped connection reached PAM:\n%s", pamtest.FormatLines(lines))
		}
		if lines := s.log.Since(logMark); pamtest.CountLines(lines, "keyboard-interactive") != 0 {
			t.Errorf("the dropped connection reached authentication:\n%s", pamtest.FormatLines(lines))
		}
	})
	if failures == 0 {
		t.FailNow()
	}

	for _, fix := range []struct {
		name      string
		config    string
		token     string
		penalised bool // failures still count, without reaching the threshold
	}{
		// The OTP the defaults dropped: Vault must still hold it.
		{"exempt list", "PerSourcePenaltyExemptList 127.0.0.0/8", otp, false},
		{"smaller authfail penalty", "PerSourcePenalties authfail:1s", e.otp(t, testUserName, "127.0.0.1"), true},
	} {
		t.Run(fix.name, func(t *testing.T) {
			s := e.startServer(t, serverOptions{config: configText(e.vault.Addr), moduleArgs: []string{"debug"},
				penalties: []string{fix.config}})
			if level, msg := s.doctorFinding(t, e, "penalties"); level != "OK" {
				t.Errorf("doctor: penalties %s %q, want OK", level, msg)
			}
			for range failures + 1 {
				s.fail(t)
			}
			s.expectLogin(t, clients[0], "127.0.0.1", loginCase{"valid OTP after the failures", fix.token, true,
				[]string{"accepted Vault OTP", "user=" + testUserName}})
			lines := s.log.Since(0)
			if n := pamtest.CountLines(lines, "drop connection"); n != 0 {
				t.Errorf("sshd dropped %d connections:\n%s", n, pamtest.FormatLines(lines))
			}
			if got := pamtest.CountLines(lines, "127.0.0.1/32", "penalty of") > 0; got != fix.penalised {
				t.Errorf("sshd recorded a penalty for 127.0.0.1: %v, want %v:\n%s", got, fix.penalised, pamtest.FormatLines(lines))
			}
		})
	}
}

// fail makes one login with an OTP Vault never issued and checks that it
// was refused.
func (s *server) fail(t *testing.T) {
	t.Helper()
	s.expectLogin(t, clients[0], "127.0.0.1", loginCase{"OTP Vault never issued", randomUUID(t), false,
		[]string{"authentication failure", "OTP not found"}})
}

// failUntilDropped fails logins until sshd drops a connection from
// 127.0.0.1 for them, and returns how many were refused. After each
// refusal it waits until sshd's listener has recorded the penalty (a line
// at DEBUG1 or VERBOSE), so that the next connection is judged with it.
// It stops when the listener says it activated the penalty, or when a
// connection is dropped anyway: the activation line may be on its way.
func (s *server) failUntilDropped(t *testing.T) int {
	t.Helper()
	mark := s.log.Mark()
	for n := 1; n <= maxFailures; n++ {
		logMark := s.log.Mark()
		tok := randomUUID(t)
		s.typedToken(tok)
		r := goLogin(context.Background(), s, "127.0.0.1", testUserName, ssh.KeyboardInteractive(answerWith(tok)))
		if !r.refused {
			s.expectLog(t, logMark, "drop connection", "from [127.0.0.1]", penaltyDrop)
			return n - 1
		}
		lines, err := s.log.WaitUntil(mark, fmt.Sprintf("%d penalties for 127.0.0.1", n), func(l []logText) bool {
			return penaltiesRecorded(l) >= n
		})
		if err != nil {
			t.Fatal(err)
		}
		if pamtest.CountLines(lines, "127.0.0.1/32", "activating") > 0 {
			return n
		}
	}
	t.Fatalf("sshd still accepted connections from 127.0.0.1 after %d failed logins:\n%s",
		maxFailures, pamtest.FormatLines(s.log.Since(mark)))
	return 0
}

// penaltiesRecorded counts the failed logins sshd's listener has added to
// 127.0.0.1's penalty: the first makes a new one, each later one finds it.
func penaltiesRecorded(lines []logText) int {
	n := 0
	for _, l := range lines {
		text := string(l)
		if strings.Contains(text, "127.0.0.1/32") &&
			(strings.Contains(text, " new ") || strings.Contains(text, "already exists")) {
			n++
		}
	}
	return n
}

// doctorFinding returns the level and message of the doctor's finding
// check on s.
func (s *server) doctorFinding(t *testing.T, e *env, check string) (level, message string) {
	t.Helper()
	report, out := e.doctor(t, s)
	level, message = report.finding(check)
	if level == "" {
		t.Fatalf("doctor: no finding %q:\n%s", check, out)
	}
	return level, message
}
