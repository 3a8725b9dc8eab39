package sshd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
)

const (
	sequentialLogins = 100
	concurrentLogins = 20
	// loadTimeout bounds the whole load test; only hangs come near it.
	loadTimeout = 10 * time.Minute
)

// TestLoad: 100 sequential and then 20 concurrent logins, each with a fresh
// OTP, all succeed, none hangs, and neither sshd nor the module logs an
// error. Each login's sshd process loads the engine after its fork.
func TestLoad(t *testing.T) {
	e := setup(t)
	s := e.startServer(t, serverOptions{config: configText(e.vault.Addr), moduleArgs: []string{"debug"}})
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	sysMark, logMark := s.syslog.Mark(), s.log.Mark()

	login := func(otp string) error {
		s.typedToken(otp)
		r := goLogin(ctx, s, "127.0.0.1", testUserName, ssh.KeyboardInteractive(answerWith(otp)))
		if r.err != nil || r.output != testUserName+"\n" {
			return fmt.Errorf("want a login that prints %q, got %v", testUserName+"\n", r)
		}
		return nil
	}
	for i := range sequentialLogins {
		if err := login(e.otp(t, testUserName, "127.0.0.1")); err != nil {
			t.Fatalf("sequential login %d of %d: %v", i+1, sequentialLogins, err)
		}
	}

	otps := make([]string, concurrentLogins)
	for i := range otps {
		otps[i] = e.otp(t, testUserName, "127.0.0.1")
	}
	errs := make([]error, concurrentLogins)
	var wg sync.WaitGroup
	for i, otp := range otps {
		wg.Go(func() { errs[i] = login(otp) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent login %d of %d: %v", i+1, concurrentLogins, err)
		}
	}
	if t.Failed() {
		return
	}

	const total = sequentialLogins + concurrentLogins
	lines, err := s.syslog.WaitUntil(sysMark, fmt.Sprintf("%d accepted OTPs", total), func(l []pamtest.LogLine) bool {
		return pamtest.CountLines(l, "pam_vault(sshd:auth): accepted Vault OTP") >= total
	})
	if err != nil {
		t.Fatal(err)
	}
	checkModuleLines(t, lines, total)
	if _, err := s.log.WaitUntil(logMark, fmt.Sprintf("%d accepted logins", total), func(l []logText) bool {
		return pamtest.CountLines(l, "Accepted keyboard-interactive/pam for "+testUserName) >= total
	}); err != nil {
		t.Fatal(err)
	}
	for _, l := range s.log.Since(logMark) {
		if text := strings.ToLower(string(l)); strings.Contains(text, "error") || strings.Contains(text, "fatal") ||
			strings.Contains(text, "pam:") {
			t.Errorf("sshd logged a problem: %s", l)
		}
	}
}

// checkModuleLines fails t unless pam_vault logged exactly want accepted
// OTPs, each verified in process, and nothing else; and nothing at all was
// logged at LOG_ERR or above.
func checkModuleLines(t *testing.T, lines []pamtest.LogLine, want int) {
	t.Helper()
	var accepted, inProcess int
	for _, l := range lines {
		if l.Priority >= 0 && l.Priority <= pamtest.LogErr {
			t.Errorf("an error was logged: %s", l)
		}
		if !strings.Contains(l.Text, "pam_vault(") {
			continue
		}
		switch {
		case strings.Contains(l.Text, "accepted Vault OTP"):
			accepted++
		case l.Priority == pamtest.LogDebug && strings.Contains(l.Text, "verifying in process"):
			inProcess++
		default:
			t.Errorf("pam_vault logged an unexpected line: %s", l)
		}
	}
	if accepted != want || inProcess != want {
		t.Errorf("pam_vault logged %d accepted OTPs and %d in-process verdicts, want %d of each", accepted, inProcess, want)
	}
}
