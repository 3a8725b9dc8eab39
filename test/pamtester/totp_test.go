package pamtester

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

// otpWord matches the word OTP, which no line of TOTP mode holds.
var otpWord = regexp.MustCompile(`\bOTP\b`)

// TestTOTPVerdicts logs in through real libpam with codes computed from the
// secret of keys Vault generated, as an authenticator app computes them.
func TestTOTPVerdicts(t *testing.T) {
	e := setup(t)
	svc := e.totpService(t, "totp")
	alice := e.totpKey(t, "totp-alice", 6)
	bob := e.totpKey(t, "totp-bob", 6)
	carol := e.totpKey(t, "totp-carol.smith@example.com", 8)

	valid := code(t, alice)
	o := e.pamtester(t, svc, alice.Name, valid+"\n", nil, "setcred")
	expect(t, o, pamtesterOK)
	logged(t, o, "accepted Vault TOTP code", "user="+alice.Name)
	if !strings.Contains(o.Output, "Verification code: ") {
		t.Fatalf("the module did not prompt with its own prompt:\n%s", o.Output)
	}

	for _, tc := range []struct {
		name, user, code, want, log string
	}{
		{"the same code again", alice.Name, valid, authErr, "code rejected: already used"},
		{"a wrong code", alice.Name, wrongCode(t, alice), authErr, "code rejected: not this user's current code"},
		{"another user's code", alice.Name, code(t, bob), authErr, "code rejected: not this user's current code"},
		{"an 8-digit code", carol.Name, code(t, carol), pamtesterOK, "accepted Vault TOTP code"},
		{"a 6-digit code for an 8-digit key", carol.Name, wrongCode(t, alice), authErr, "code rejected: not this user's current code"},
		{"a user without a key", "totp-nobody", "123456", authErr, "code rejected: no TOTP key for this user in Vault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := e.pamtester(t, svc, tc.user, tc.code+"\n", nil)
			expect(t, o, tc.want)
			logged(t, o, "user="+tc.user, tc.log)
			// TOTP mode has no OTP to speak of; "TOTP" is its name.
			for _, line := range o.SyslogTexts() {
				if otpWord.MatchString(line) {
					t.Errorf("a line of TOTP mode speaks of an OTP: %s", line)
				}
			}
		})
	}
	// bob's code, tried for alice, is still bob's to use: Vault remembers
	// a code per key.
	t.Run("bob's own code after alice tried it", func(t *testing.T) {
		c := code(t, bob)
		expect(t, e.pamtester(t, svc, alice.Name, c+"\n", nil), authErr)
		expect(t, e.pamtester(t, svc, bob.Name, c+"\n", nil), pamtesterOK)
	})
}

// TestTOTPNullok: with nullok a user without a key is PAM_IGNORE, which
// leaves the decision to the rest of the stack; an enrolled user is held
// to the code as without it.
func TestTOTPNullok(t *testing.T) {
	e := setup(t)
	te := e.totpSetup(t)
	line := "auth [success=done ignore=ignore default=die] MODULE totp nullok dev config=" + te.config
	thenPermit := e.service(t, "totp-nullok-permit", line, "auth required pam_permit.so")
	thenDeny := e.service(t, "totp-nullok-deny", line, "auth required pam_deny.so")
	enrolled := e.totpKey(t, "totp-enrolled", 6)

	o := e.pamtester(t, thenPermit, "totp-unenrolled", "123456\n", nil)
	expect(t, o, pamtesterOK)
	logged(t, o, "ignored (nullok)", "user=totp-unenrolled", "code rejected: no TOTP key for this user in Vault")
	o = e.pamtester(t, thenDeny, "totp-unenrolled", "123456\n", nil)
	expect(t, o, authErr)
	logged(t, o, "ignored (nullok)")

	o = e.pamtester(t, thenPermit, enrolled.Name, wrongCode(t, enrolled)+"\n", nil)
	expect(t, o, authErr)
	logged(t, o, "authentication failure", "code rejected: not this user's current code")
	o = e.pamtester(t, thenDeny, enrolled.Name, code(t, enrolled)+"\n", nil)
	expect(t, o, pamtesterOK)
	logged(t, o, "accepted Vault TOTP code")
}

// TestTOTPShapeNeverReachesVault: anything but 6 or 8 ASCII digits, and
// any user name Vault cannot hold as a key, is refused before a request;
// Vault's audit log, which records code requests with their bodies,
// shows none of them.
func TestTOTPShapeNeverReachesVault(t *testing.T) {
	e := setup(t)
	svc := e.totpService(t, "totp-shape")
	k := e.totpKey(t, "totp-shape", 6)
	codes := []string{
		"hunter2-totp-password",
		"12345",
		"1234567",
		"123456789",
		"12345x",
		"123 456",
		"１２３４５６", // full-width digits
		"١٢٣٤٥٦", // Arabic-Indic digits
		"0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f",
	}
	for _, c := range codes {
		o := e.pamtester(t, svc, k.Name, c+"\n", nil)
		expect(t, o, authErr)
		logged(t, o, "not a 6- or 8-digit code", "Vault was not asked")
	}
	users := []string{"bad/user", "../sys", ".dotted", "trailing-", "zoë", "two words", "x%2Fy"}
	for _, u := range users {
		o := e.pamtester(t, svc, u, "654321\n", nil)
		expect(t, o, authErr)
		logged(t, o, "user name cannot name a Vault TOTP key", "Vault was not asked")
	}
	// A real code is verified too, to show the audit device records
	// code requests, path and code in clear.
	valid := code(t, k)
	expect(t, e.pamtester(t, svc, k.Name, valid+"\n", nil), pamtesterOK)
	audit := e.audit(t)
	if !strings.Contains(audit, totpMount+"/code/"+k.Name) || !strings.Contains(audit, `"`+valid+`"`) {
		t.Fatalf("the audit log does not show the verified code; it cannot prove anything")
	}
	for _, c := range codes {
		if strings.Contains(audit, `"`+c+`"`) {
			t.Errorf("Vault's audit log shows the malformed code %q", c)
		}
	}
	for _, u := range append(users, "654321") {
		if strings.Contains(audit, totpMount+"/code/"+u) || strings.Contains(audit, `"`+u+`"`) {
			t.Errorf("Vault's audit log shows a request for %q", u)
		}
	}
}

// TestTOTPTokenFile: every token file pam_vault cannot trust is
// PAM_SERVICE_ERR with the reason in the log and no request; a token Vault
// refuses is PAM_AUTHINFO_UNAVAIL, and the log says the token was refused.
func TestTOTPTokenFile(t *testing.T) {
	e := setup(t)
	te := e.totpSetup(t)
	k := e.totpKey(t, "totp-tokenfile", 6)
	dir := filepath.Join(e.dir, "tokens")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// This test's code alone, so that the audit log can show it never
	// reached Vault.
	const refusedCode = "271828"
	symlink := filepath.Join(dir, "symlink")
	if err := os.Symlink(te.tokenFile, symlink); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	otherOwner := write("other-owner", te.token, 0o600)
	if os.Geteuid() == 0 {
		if err := os.Chown(otherOwner, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, path, log string
	}{
		{"missing", filepath.Join(dir, "absent"), "no such file"},
		{"a symbolic link", symlink, "is a symbolic link"},
		{"a named pipe", fifo, "is a named pipe"},
		{"a directory", dir, "is a directory"},
		{"empty", write("empty", "", 0o600), "empty"},
		{"huge", write("huge", strings.Repeat("x", 1<<20), 0o600), "larger than"},
		{"two lines", write("two-lines", te.token+"\n"+te.token+"\n", 0o600), "more than one line"},
		{"readable by others", write("world-readable", te.token, 0o644), "readable by others (mode 0644)"},
		{"writable by group", write("group-writable", te.token, 0o620), "writable by group or others"},
		{"owned by another user", otherOwner, "owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == otherOwner && os.Geteuid() != 0 {
				pamtest.Need(t, "giving a file to another uid needs root")
			}
			svc := e.service(t, "totp-token", "auth requisite MODULE totp dev config="+
				e.writeConfig(t, "totp-token", e.totpConfigText(tc.path)))
			o := e.pamtester(t, svc, k.Name, refusedCode+"\n", nil)
			expect(t, o, serviceErr)
			logged(t, o, "configuration error", "token_file: "+tc.path, tc.log)
			if strings.Contains(strings.Join(o.SyslogTexts(), "\n"), te.token) {
				t.Fatalf("the token appears in the log")
			}
		})
	}
	if strings.Contains(e.audit(t), `"`+refusedCode+`"`) {
		t.Errorf("a code reached Vault although the token file was refused")
	}

	t.Run("a token Vault refuses", func(t *testing.T) {
		revoked, err := e.vault.CreateToken([]string{totpPolicy}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.vault.RevokeToken(revoked); err != nil {
			t.Fatal(err)
		}
		svc := e.service(t, "totp-revoked", "auth requisite MODULE totp dev config="+
			e.writeConfig(t, "totp-revoked", e.totpConfigText(write("revoked", revoked, 0o600))))
		o := e.pamtester(t, svc, k.Name, code(t, k)+"\n", nil)
		expect(t, o, unavailable)
		// Vault 1.21 says "2 errors occurred: permission denied, invalid
		// token" for a revoked token.
		logged(t, o, "Vault unavailable", "Vault refused the token (HTTP 403", "invalid token")
		if !strings.Contains(o.Output, "The verification code cannot be checked right now") {
			t.Fatalf("the user was not told to try later:\n%s", o.Output)
		}
	})
	t.Run("a token without the verifying policy", func(t *testing.T) {
		plain, err := e.vault.CreateToken([]string{"default"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		svc := e.service(t, "totp-nopolicy", "auth requisite MODULE totp dev config="+
			e.writeConfig(t, "totp-nopolicy", e.totpConfigText(write("no-policy", plain, 0o600))))
		o := e.pamtester(t, svc, k.Name, code(t, k)+"\n", nil)
		expect(t, o, unavailable)
		logged(t, o, "Vault refused the token", "update on totp/code/*")
	})
}

// TestTOTPVerifyingPolicy: the policy the docs give the verifying token,
// update on <mount>/code/*, verifies codes and cannot make one: a GET on
// the same path, which generates the current code, is refused.
func TestTOTPVerifyingPolicy(t *testing.T) {
	e := setup(t)
	te := e.totpSetup(t)
	k := e.totpKey(t, "totp-policy", 6)
	var out map[string]any
	err := e.vault.DoWithToken(te.token, "GET", totpMount+"/code/"+k.Name, nil, &out)
	if !testvault.IsStatus(err, 403) {
		t.Fatalf("GET %s/code/%s with the verifying token: %v %v, want 403", totpMount, k.Name, err, out)
	}
	// The root token can, which shows the path is the code generator.
	if err := e.vault.Do("GET", totpMount+"/code/"+k.Name, nil, &out); err != nil {
		t.Fatalf("GET with the root token: %v", err)
	}
	err = e.vault.DoWithToken(te.token, "PUT", totpMount+"/code/"+k.Name, map[string]string{"code": wrongCode(t, k)}, &out)
	if err != nil {
		t.Fatalf("PUT with the verifying token: %v", err)
	}
}

// TestTOTPPrompt: the module asks for the code with its own prompt, echo
// off, even when an earlier module stored PAM_AUTHTOK (the user's
// password, which must never reach Vault); use_first_pass and
// try_first_pass take the stored token as documented; the code is not
// stored as PAM_AUTHTOK for the modules after it.
func TestTOTPPrompt(t *testing.T) {
	e := setup(t)
	te := e.totpSetup(t)
	found, _ := filepath.Glob("/usr/lib/*/pam_wrapper/pam_set_items.so")
	if len(found) == 0 {
		pamtest.Need(t, "pam_wrapper's pam_set_items.so is missing (make deps)")
	}
	setItems := found[0]
	stack := func(name, args string) string {
		return e.service(t, name, "auth required "+setItems,
			"auth requisite MODULE totp dev config="+te.config+args)
	}
	plain := stack("totp-after-password", "")
	useFirst := stack("totp-use-first-pass", " use_first_pass")
	tryFirst := stack("totp-try-first-pass", " try_first_pass")
	const password = "correct-horse-password"

	t.Run("a stored password is not taken for the code", func(t *testing.T) {
		k := e.totpKey(t, "totp-prompt-1", 6)
		c := code(t, k)
		o := e.pamtester(t, plain, k.Name, c+"\n", []string{"PAM_AUTHTOK=" + password})
		expect(t, o, pamtesterOK)
		if strings.Count(o.Output, "Verification code: ") != 1 {
			t.Fatalf("want one \"Verification code: \" prompt:\n%s", o.Output)
		}
		if strings.Contains(e.audit(t), password) {
			t.Fatalf("the password stored by the earlier module reached Vault")
		}
	})
	t.Run("use_first_pass takes the stored code", func(t *testing.T) {
		k := e.totpKey(t, "totp-prompt-2", 6)
		o := e.pamtester(t, useFirst, k.Name, "", []string{"PAM_AUTHTOK=" + code(t, k)})
		expect(t, o, pamtesterOK)
		if strings.Contains(o.Output, "Verification code") {
			t.Fatalf("use_first_pass prompted:\n%s", o.Output)
		}
	})
	t.Run("use_first_pass without a stored token", func(t *testing.T) {
		k := e.totpKey(t, "totp-prompt-3", 6)
		o := e.pamtester(t, useFirst, k.Name, "314159\n", nil)
		expect(t, o, authErr)
		logged(t, o, "cannot obtain the verification code for "+k.Name)
		if strings.Contains(o.Output, "Verification code") {
			t.Fatalf("use_first_pass prompted:\n%s", o.Output)
		}
	})
	t.Run("try_first_pass takes a stored code", func(t *testing.T) {
		k := e.totpKey(t, "totp-prompt-4", 6)
		o := e.pamtester(t, tryFirst, k.Name, "", []string{"PAM_AUTHTOK=" + code(t, k)})
		expect(t, o, pamtesterOK)
		if strings.Contains(o.Output, "Verification code") {
			t.Fatalf("try_first_pass prompted with a token stored:\n%s", o.Output)
		}
	})
	t.Run("try_first_pass prompts when none is stored", func(t *testing.T) {
		k := e.totpKey(t, "totp-prompt-5", 6)
		o := e.pamtester(t, tryFirst, k.Name, code(t, k)+"\n", nil)
		expect(t, o, pamtesterOK)
		if !strings.Contains(o.Output, "Verification code: ") {
			t.Fatalf("try_first_pass did not prompt:\n%s", o.Output)
		}
	})
	t.Run("the conversation fails", func(t *testing.T) {
		k := e.totpKey(t, "totp-prompt-6", 6)
		o := e.pamtester(t, plain, k.Name, "", []string{"PAM_AUTHTOK=" + password})
		expect(t, o, "Conversation error")
		logged(t, o, "cannot obtain the verification code")
	})
	t.Run("the code is not left as PAM_AUTHTOK", func(t *testing.T) {
		k := e.totpKey(t, "totp-prompt-7", 6)
		// An OTP-mode line with use_first_pass after the TOTP line reads
		// PAM_AUTHTOK: it must find none.
		svc := e.service(t, "totp-then-authtok",
			"auth required MODULE totp dev config="+te.config,
			"auth required MODULE dev use_first_pass config="+e.writeConfig(t, "totp-then-otp", e.configText()))
		c := code(t, k)
		o := pamtest.Pamtester(t, 0, e.wrapperEnv(), c+"\n", "-v", svc, k.Name, "authenticate")
		journal.Record(t, 2, []string{c}, o.Syslog)
		expect(t, o, authErr)
		logged(t, o, "accepted Vault TOTP code")
		logged(t, o, "cannot obtain the one-time password for "+k.Name)
	})
}

// TestTOTPGoApplication drives the module from a Go application through
// msteinert/pam: one prompt, echo off, with the module's text.
func TestTOTPGoApplication(t *testing.T) {
	e := setup(t)
	svc := e.totpService(t, "totp-gopam")
	k := e.totpKey(t, "totp-gopam", 6)
	prompts, err := e.loginPrompts(t, svc, k.Name, code(t, k))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if len(prompts) != 1 || prompts[0] != "echo off: Verification code: " {
		t.Fatalf("prompts %q, want one echo-off \"Verification code: \"", prompts)
	}
}
