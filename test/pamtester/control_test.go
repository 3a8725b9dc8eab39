package pamtester

import (
	"errors"
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"
)

// TestDefaultOkControl holds what README promises of the control
// [default=ok], the line for hosts whose sshd offers both password and
// keyboard-interactive: pam_authenticate gives every verdict exactly as
// requisite does, and pam_setcred on a handle whose last pam_authenticate
// failed succeeds, where under requisite libpam's replay of the failed
// chain denies it. sshd reaches that pam_setcred when a client fails the
// password method and then passes keyboard-interactive (test/sshd).
func TestDefaultOkControl(t *testing.T) {
	e := setup(t)
	service := func(name, control, configText string) string {
		return e.service(t, name, "auth "+control+" MODULE config="+e.writeConfig(t, name, configText)+" dev")
	}
	down := strings.Replace(e.configText(), e.vault.Addr, "http://127.0.0.1:1", 1)
	okSvc := service("control-ok", "[default=ok]", e.configText())
	okDown := service("control-ok-down", "[default=ok]", down)
	okBroken := service("control-ok-broken", "[default=ok]", e.configText("bogus_key = 1"))
	requisiteSvc := e.vaultService(t, "control-requisite", e.configText())
	// A success elsewhere in the stack, before or after, must not turn
	// pam_vault's failure into a login.
	cfg := e.writeConfig(t, "control-ok-permit", e.configText())
	permitBefore := e.service(t, "control-ok-permit-before",
		"auth required pam_permit.so", "auth [default=ok] MODULE config="+cfg+" dev")
	permitAfter := e.service(t, "control-ok-permit-after",
		"auth [default=ok] MODULE config="+cfg+" dev", "auth required pam_permit.so")
	otp := e.otp(t, role, testUser, "127.0.0.1")
	shaped := "88b0fc03-44e3-718f-b712-50ee585f1a0e"

	t.Run("verdicts", func(t *testing.T) {
		for _, tc := range []struct {
			name, service, token string
			want                 error
		}{
			{"valid OTP", okSvc, otp, nil},
			{"the same OTP again", okSvc, otp, pam.ErrAuth},
			{"OTP of another user", okSvc, e.otp(t, role, "bob", "127.0.0.1"), pam.ErrAuth},
			{"not an OTP", okSvc, "hunter2", pam.ErrAuth},
			{"Vault down", okDown, shaped, pam.ErrAuthinfoUnavail},
			{"broken config", okBroken, shaped, pam.ErrService},
			{"pam_permit before, not an OTP", permitBefore, "hunter2", pam.ErrAuth},
			{"pam_permit after, not an OTP", permitAfter, "hunter2", pam.ErrAuth},
			{"pam_permit after, Vault's answer", permitAfter, e.otp(t, role, "bob", "127.0.0.1"), pam.ErrAuth},
			{"pam_permit before, valid OTP", permitBefore, e.otp(t, role, testUser, "127.0.0.1"), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.login(t, tc.service, testUser, tc.token)
				if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			})
		}
	})

	for _, tc := range []struct {
		name, service string
		wantSetcred   error
	}{
		{"pam_setcred after a failure, [default=ok]", okSvc, nil},
		{"pam_setcred after a failure, requisite", requisiteSvc, pam.ErrPermDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			journal.Record(t, 0, []string{"not-an-otp"}, nil)
			tx, err := pam.StartConfDir(tc.service, testUser, pam.ConversationFunc(
				func(pam.Style, string) (string, error) { return "not-an-otp", nil }), string(e.serviceDir))
			if err != nil {
				t.Fatalf("pam_start_confdir: %v", err)
			}
			defer func() {
				if err := tx.End(); err != nil {
					t.Errorf("pam_end: %v", err)
				}
			}()
			if err := tx.Authenticate(0); !errors.Is(err, pam.ErrAuth) {
				t.Fatalf("pam_authenticate: got %v, want %v", err, pam.ErrAuth)
			}
			err = tx.SetCred(pam.EstablishCred)
			if !errors.Is(err, tc.wantSetcred) && !(err == nil && tc.wantSetcred == nil) {
				t.Fatalf("pam_setcred: got %v, want %v", err, tc.wantSetcred)
			}
		})
	}
}
