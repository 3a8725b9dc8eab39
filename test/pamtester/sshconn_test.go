package pamtester

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/msteinert/pam/v2"

	"pam_vault/internal/netcheck"
	"pam_vault/internal/pamtest"
)

// otherHostAddr returns an address this host holds other than 127.0.0.1.
func otherHostAddr(t *testing.T) string {
	t.Helper()
	addrs, err := netcheck.LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a != netip.MustParseAddr("127.0.0.1") {
			return a.String()
		}
	}
	pamtest.Need(t, "this host holds no address but 127.0.0.1")
	return ""
}

// TestSSHConnectionNamesTheHostAddress puts SSH_CONNECTION into the PAM
// environment, as sshd does, through real libpam (pam_putenv from the
// application). An OTP issued for 127.0.0.1, an address every host holds,
// must log in only over a connection that reached 127.0.0.1, not over one
// that reached another address of this host; an address the host does not
// hold logs in nowhere, even named by SSH_CONNECTION and the OTP alike; a
// malformed value is refused before Vault is asked, so the OTP still works.
func TestSSHConnectionNamesTheHostAddress(t *testing.T) {
	e := setup(t)
	other := otherHostAddr(t)
	conn := func(local string) string { return "SSH_CONNECTION=203.0.113.9 50022 " + local + " 22" }
	for _, args := range [][]string{nil, {"helper"}} {
		svc := e.vaultService(t, "ssh-connection", e.configText(), args...)
		name := "in process"
		if args != nil {
			name = "helper"
		}
		for _, tc := range []struct {
			name, otpIP, env string
			want             error
		}{
			{"127.0.0.1 over a connection to another address of this host", "127.0.0.1", conn(other), pam.ErrAuth},
			{"127.0.0.1 over a connection to 127.0.0.1", "127.0.0.1", conn("127.0.0.1"), nil},
			{"IPv4-mapped 127.0.0.1 over a connection to 127.0.0.1", "127.0.0.1", conn("::ffff:127.0.0.1"), nil},
			{"an address this host does not hold, named by both", foreignIP, conn(foreignIP), pam.ErrAuth},
			{"127.0.0.1 without SSH_CONNECTION (su, sudo)", "127.0.0.1", "", nil},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				var env []string
				if tc.env != "" {
					env = []string{tc.env}
				}
				_, err := e.login(t, svc, testUser, e.otp(t, role, testUser, tc.otpIP), env...)
				if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			})
		}
		t.Run(name+"/malformed SSH_CONNECTION", func(t *testing.T) {
			otp := e.otp(t, role, testUser, "127.0.0.1")
			if _, err := e.login(t, svc, testUser, otp, "SSH_CONNECTION=UNKNOWN 65535 UNKNOWN 65535"); !errors.Is(err, pam.ErrAuth) {
				t.Fatalf("got %v, want %v", err, pam.ErrAuth)
			}
			// Vault was not asked: the OTP is still good.
			if _, err := e.login(t, svc, testUser, otp); err != nil {
				t.Fatalf("the OTP refused for a malformed SSH_CONNECTION was used up: %v", err)
			}
		})
	}
}
