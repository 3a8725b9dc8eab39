package localsvc

import (
	"net/http"
	"os"
	"testing"

	"pam_vault/internal/testvault"
)

// TestOTPAddress shows which IP address an OTP for a local service must be
// issued for. sudo and su have no client address: the module accepts an
// OTP issued for an address this host holds (127.0.0.1 in the other tests,
// and its own non-loopback address here), and refuses one issued for any
// other, even another address of the loopback network (the match is
// exact), also when su or sudo runs inside an SSH session (the caller's
// SSH_CONNECTION is not in their PAM environment). Vault issues an OTP only
// for an address its role's cidr_list allows. PAM_RHOST plays no part: su leaves it empty, and sudo with the
// sudoers option pam_rhost sets it to the host's name, which is logged
// only.
func TestOTPAddress(t *testing.T) {
	e := setup(t)
	h := e.newHost(t, hostOptions{})

	t.Run("an address of this host besides loopback", func(t *testing.T) {
		if e.hostAddr == "" {
			t.Skip("this host has no IPv4 address besides loopback")
		}
		token := e.otp(t, target, e.hostAddr)
		o := h.run(t, suRun(token), token)
		expectRan(t, o, target+"\n")
		expectModule(t, o, "su", []string{"accepted Vault OTP; user=" + target})
	})
	for _, tc := range []struct{ name, ip string }{
		{"another address of the loopback network", "127.0.0.2"},
		{"an address this host does not hold", notHeld},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := e.otp(t, target, tc.ip)
			o := h.run(t, suRun(token), token)
			expectRefused(t, o, target)
			expectModule(t, o, "su", []string{"authentication failure; user=" + target,
				"OTP was issued for another host: " + tc.ip + " is neither an address of this host nor in allowed_cidr_list"})
		})
	}

	t.Run("from an SSH session", func(t *testing.T) {
		// The SSH_CONNECTION rule reads the PAM environment, which su
		// and sudo do not fill from the caller's: inside an SSH session
		// to another address, an OTP for 127.0.0.1 still works.
		session := "SSH_CONNECTION=" + notHeld + " 50000 " + outsideRole + " 22"
		token := e.otp(t, target, "127.0.0.1")
		o := h.run(t, suRun(token, session), token)
		expectRan(t, o, target+"\n")
		expectModule(t, o, "su", []string{"accepted Vault OTP; user=" + target})

		token = e.otp(t, caller, "127.0.0.1")
		inv := sudoRun(token)
		inv.env = []string{session}
		o = h.run(t, inv, token)
		expectRan(t, o, "root\n")
		expectModule(t, o, "sudo", []string{"accepted Vault OTP; user=" + caller})
	})

	t.Run("an address outside the role's cidr_list", func(t *testing.T) {
		_, err := e.vault.IssueOTP(mount, role, target, outsideRole)
		if !testvault.IsStatus(err, http.StatusBadRequest) {
			t.Fatalf("Vault issued an OTP for %s, outside the role's cidr_list, or failed otherwise: %v", outsideRole, err)
		}
		t.Logf("Vault: %v", err)
	})

	t.Run("sudo's PAM_RHOST is only logged", func(t *testing.T) {
		name, err := os.Hostname()
		if err != nil {
			t.Fatal(err)
		}
		rhost := e.newHost(t, hostOptions{sudoers: []string{"Defaults pam_rhost"}})
		token := e.otp(t, caller, "127.0.0.1")
		o := rhost.run(t, sudoRun(token), token)
		expectRan(t, o, "root\n")
		expectModule(t, o, "sudo", []string{"accepted Vault OTP; user=" + caller + " rhost=" + name + " role=" + role})
	})
}
