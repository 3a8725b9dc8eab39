package pamtester

import (
	"os"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

const (
	// breakglassUser is the local account README's break-glass stack
	// leaves to pam_unix; the test creates it with a password.
	breakglassUser = "pv-breakglass"
	// breakglassComment marks the account as this suite's, so that one
	// left behind by a killed run is removed and no other is touched.
	breakglassComment = "pam_vault pamtester break-glass user"
	// unknownOTP has a Vault OTP's shape and was never issued.
	unknownOTP = "3f8e2a71-5c4d-4b9e-8a7f-6e5d4c3b2a19"
)

// breakglassStack is README's break-glass stack: the break-glass account
// skips pam_vault and gives its local password to pam_unix; every other
// user must give a valid OTP, and any failure of pam_vault, Vault
// unavailable included, ends the stack.
func breakglassStack(config string) []string {
	return []string{
		"auth [success=1 default=ignore] pam_succeed_if.so quiet user = " + breakglassUser,
		"auth [success=done default=die] MODULE dev config=" + config,
		"auth required pam_unix.so",
	}
}

// TestBreakGlassStack runs README's break-glass stack through real libpam
// with the real pam_unix and a real local account: the break-glass user
// logs in with the local password whether Vault answers or not; other users
// log in with a valid OTP only, and never with a local password, a wrong
// OTP, or while Vault is down. It also shows why the stack README gave
// before could not work: pam_vault refuses a password before pam_unix sees
// it, and pam_unix takes the OTP pam_vault stored as PAM_AUTHTOK instead of
// asking for the password.
func TestBreakGlassStack(t *testing.T) {
	e := setup(t)
	if os.Geteuid() != 0 {
		pamtest.Need(t, "the break-glass test creates a local account and lets pam_unix read its shadow entry: run as root")
	}
	lock, err := pamtest.LockMachine("pamtester")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	u, err := pamtest.CreateUser(breakglassUser, breakglassComment)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := u.Remove(); err != nil {
			t.Error(err)
		}
	})
	password := u.SetPassword(t)

	stopped, err := testvault.Start(testvault.Options{})
	if err != nil {
		pamtest.Need(t, "%v", err)
	}
	downAddr := stopped.Addr
	stopped.Close()
	upConfig := e.writeConfig(t, "breakglass-up", e.configText())
	downConfig := e.writeConfig(t, "breakglass-down", strings.Replace(e.configText(), e.vault.Addr, downAddr, 1))
	up := e.service(t, "breakglass-up", breakglassStack(upConfig)...)
	down := e.service(t, "breakglass-down", breakglassStack(downConfig)...)

	for _, tc := range []struct {
		name, service, user string
		typed               func(t *testing.T) string // the conversation's input
		want                string
		vaultLog            string // a part of pam_vault's one line; "" when it must not run
		unixRefused         bool   // pam_unix logs its refusal
	}{
		{"break-glass user, local password", up, breakglassUser, fixed(password), pamtesterOK, "", false},
		{"break-glass user, wrong local password", up, breakglassUser, fixed("not-" + password), authErr, "", true},
		{"break-glass user, an OTP", up, breakglassUser, fixed(unknownOTP), authErr, "", true},
		{"normal user, valid OTP", up, testUser, otpFor(e, testUser), pamtesterOK, "accepted Vault OTP", false},
		{"normal user, wrong OTP", up, testUser, fixed(unknownOTP), authErr, "OTP not found", false},
		{"normal user, the break-glass password", up, testUser, fixed(password), authErr, "not shaped like a Vault OTP", false},
		{"Vault down: normal user, valid OTP", down, testUser, otpFor(e, testUser), unavailable, "Vault unavailable", false},
		{"Vault down: normal user, the break-glass password", down, testUser, fixed(password), authErr, "not shaped like a Vault OTP", false},
		{"Vault down: break-glass user, local password", down, breakglassUser, fixed(password), pamtesterOK, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typed := tc.typed(t)
			// The password last: a module that prompted a second time
			// would read it.
			o := e.stackLogin(t, tc.service, tc.user, typed+"\n"+password+"\n", tc.vaultLog != "")
			expect(t, o, tc.want)
			if tc.vaultLog != "" {
				logged(t, o, "user="+tc.user, tc.vaultLog)
			}
			if got := strings.Count(o.Output, "Password: "); got != 1 {
				t.Fatalf("want one prompt, got %d:\n%s", got, o.Output)
			}
			if refused := hasUnixRefusal(o); refused != tc.unixRefused {
				t.Fatalf("pam_unix logged a refusal: %v, want %v\n%s", refused, tc.unixRefused, o.Output)
			}
		})
	}

	// The stack README gave before: pam_vault first, falling through to
	// pam_unix for the break-glass user on PAM_AUTHINFO_UNAVAIL only.
	formerStack := func(name, config string) string {
		return e.service(t, name,
			"auth [success=done authinfo_unavail=ignore default=die] MODULE dev config="+config,
			"auth requisite pam_succeed_if.so user = "+breakglassUser,
			"auth required pam_unix.so")
	}
	formerDown := formerStack("breakglass-former-down", downConfig)
	t.Run("former stack: the break-glass password never reaches pam_unix", func(t *testing.T) {
		o := e.stackLogin(t, formerDown, breakglassUser, password+"\n", true)
		expect(t, o, authErr)
		logged(t, o, "not shaped like a Vault OTP", "Vault was not asked")
		if hasUnixRefusal(o) {
			t.Fatalf("pam_unix ran:\n%s", o.Output)
		}
	})
	t.Run("former stack: pam_unix checks the stored OTP, never asks for the password", func(t *testing.T) {
		o := e.stackLogin(t, formerDown, breakglassUser, unknownOTP+"\n"+password+"\n", true)
		expect(t, o, authErr)
		logged(t, o, "Vault unavailable")
		if !hasUnixRefusal(o) || strings.Count(o.Output, "Password: ") != 1 {
			t.Fatalf("want pam_unix to refuse the OTP as a password without a second prompt:\n%s", o.Output)
		}
	})
}

// fixed returns what the user types: s.
func fixed(s string) func(*testing.T) string {
	return func(*testing.T) string { return s }
}

// otpFor returns what the user types: a fresh OTP of the shared Vault for
// user at 127.0.0.1, issued when the case runs.
func otpFor(e *env, user string) func(*testing.T) string {
	return func(t *testing.T) string { return e.otp(t, role, user, "127.0.0.1") }
}

// unixRefusal starts pam_unix's line for a refused password; pam_vault's
// lines never name logname.
const unixRefusal = "authentication failure; logname="

// hasUnixRefusal reports whether pam_unix logged that it refused a
// password.
func hasUnixRefusal(o pamtest.Outcome) bool {
	for _, l := range o.Syslog {
		if strings.HasPrefix(l.Text, unixRefusal) {
			return true
		}
	}
	return false
}

// stackLogin runs pamtester for a stack with other modules beside
// pam_vault, and records in the journal what was typed and pam_vault's
// lines: one when vaultRan, none otherwise. The lines of pam_unix and
// pam_succeed_if, which name no token, are left out of the count.
func (e *env) stackLogin(t *testing.T, service, user, stdin string, vaultRan bool) pamtest.Outcome {
	t.Helper()
	o := pamtest.Pamtester(t, 0, e.wrapperEnv(), stdin, "-v", service, user, "authenticate")
	mine := withoutLines(o.Syslog, unixRefusal, "requirement ")
	attempts := 0
	if vaultRan {
		attempts = 1
	}
	journal.Record(t, attempts, strings.Fields(stdin), mine)
	return o
}
