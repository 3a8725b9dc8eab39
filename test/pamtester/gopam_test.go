package pamtester

import (
	"errors"
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"
)

// login authenticates user through libpam in this very process, as a Go
// PAM application would, answering every prompt with token. Each of env,
// "NAME=value", is put into the PAM environment first, as sshd puts
// SSH_CONNECTION there.
func (e *env) login(t *testing.T, service, user, token string, env ...string) (prompts int, err error) {
	t.Helper()
	p, err := e.loginPrompts(t, service, user, token, env...)
	return len(p), err
}

// loginPrompts is login returning the prompts, each as "echo off: " or
// "echo on: " and its text.
func (e *env) loginPrompts(t *testing.T, service, user, token string, env ...string) (prompts []string, err error) {
	t.Helper()
	// This path logs to the real syslog, which the suite does not read; the
	// token still joins the journal so that no other run may log it.
	journal.Record(t, 0, []string{token}, nil)
	tx, err := pam.StartConfDir(service, user, pam.ConversationFunc(
		func(s pam.Style, msg string) (string, error) {
			switch s {
			case pam.PromptEchoOff:
				prompts = append(prompts, "echo off: "+msg)
				return token, nil
			case pam.PromptEchoOn:
				prompts = append(prompts, "echo on: "+msg)
				return token, nil
			}
			return "", nil
		}), string(e.serviceDir))
	if err != nil {
		t.Fatalf("pam_start_confdir: %v", err)
	}
	defer func() {
		if endErr := tx.End(); endErr != nil {
			t.Errorf("pam_end: %v", endErr)
		}
	}()
	for _, v := range env {
		if err := tx.PutEnv(v); err != nil {
			t.Fatalf("pam_putenv(%q): %v", v, err)
		}
	}
	if err := tx.Authenticate(0); err != nil {
		return prompts, err
	}
	// With pam_vault the only auth module, setcred must succeed too.
	if err := tx.SetCred(pam.EstablishCred); err != nil {
		t.Fatalf("pam_setcred after a successful login: %v", err)
	}
	return prompts, nil
}

func TestGoApplicationLogin(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "gopam", e.configText())
	down := e.vaultService(t, "gopam-down", strings.Replace(e.configText(), e.vault.Addr, "http://127.0.0.1:1", 1))
	broken := e.vaultService(t, "gopam-broken", e.configText(`bogus_key = 1`))
	otp := e.otp(t, role, testUser, "127.0.0.1")

	for _, tc := range []struct {
		name, service, token string
		want                 error
	}{
		{"valid OTP", svc, otp, nil},
		{"the same OTP again", svc, otp, pam.ErrAuth},
		{"OTP of another user", svc, e.otp(t, role, "bob", "127.0.0.1"), pam.ErrAuth},
		{"not an OTP", svc, "hunter2", pam.ErrAuth},
		{"Vault down", down, "88b0fc03-44e3-718f-b712-50ee585f1a0e", pam.ErrAuthinfoUnavail},
		{"broken config", broken, "88b0fc03-44e3-718f-b712-50ee585f1a0e", pam.ErrService},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prompts, err := e.login(t, tc.service, testUser, tc.token)
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if prompts != 1 {
				t.Fatalf("prompted %d times, want once", prompts)
			}
		})
	}
}
