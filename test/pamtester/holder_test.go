package pamtester

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

// TestVaultAgentTokenFile logs in with the token that a real Vault Agent,
// authenticated with AppRole, keeps in its file sink: pam_vault reads the
// sink on every login, so when Vault revokes the token the login is
// PAM_AUTHINFO_UNAVAIL, and once the agent has logged in again its next
// token works without touching pam_vault.
func TestVaultAgentTokenFile(t *testing.T) {
	e := setup(t)
	e.totpSetup(t)
	agent, err := e.vault.StartAgent(testvault.HolderOptions{
		Role: "pam-vault-agent", Policies: []string{totpPolicy}, TokenTTL: 10 * time.Second,
	})
	if err != nil {
		pamtest.Need(t, "starting Vault Agent: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", agent.LogTail())
		}
		agent.Close()
	})
	fi, err := os.Stat(agent.Sink)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("the agent's sink has mode %04o, want 0600", fi.Mode().Perm())
	}
	k := e.totpKey(t, "totp-agent", 6)
	svc := e.service(t, "totp-agent", "auth requisite MODULE totp dev config="+
		e.writeConfig(t, "totp-agent", e.totpConfigText(agent.Sink)))

	o := e.pamtester(t, svc, k.Name, code(t, k)+"\n", nil)
	expect(t, o, pamtesterOK)
	logged(t, o, "accepted Vault TOTP code")

	first, err := agent.Token()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.vault.RevokeToken(first); err != nil {
		t.Fatal(err)
	}
	// The agent may notice the revocation at any moment; a login counts
	// only if the sink held the revoked token before and after it.
	refused := false
	for try := 0; try < 3 && !refused; try++ {
		c := code(t, k)
		o = e.pamtester(t, svc, k.Name, c+"\n", nil)
		now, err := agent.Token()
		if err != nil {
			t.Fatal(err)
		}
		if now != first {
			t.Logf("the agent replaced the token during the login; trying again with the new one revoked")
			if first, err = now, e.vault.RevokeToken(now); err != nil {
				t.Fatal(err)
			}
			continue
		}
		expect(t, o, unavailable)
		logged(t, o, "Vault unavailable", "Vault refused the token")
		refused = true
	}
	if !refused {
		t.Fatal("the agent replaced every revoked token before a login could read it")
	}
	next, err := agent.WaitNewToken(first)
	if err != nil {
		t.Fatalf("the agent wrote no new token after the revocation: %v", err)
	}
	if next == first {
		t.Fatal("the agent's new token is the revoked one")
	}
	o = e.pamtester(t, svc, k.Name, code(t, k)+"\n", nil)
	expect(t, o, pamtesterOK)
	logged(t, o, "accepted Vault TOTP code")
}

// TestVaultProxySocket logs in through a real Vault Proxy's unix listener
// with use_auto_auth_token = "force": pam_vault has no token at all, the
// proxy adds its own. OTP mode works through the same socket. The socket's
// mode is what the listener really made, and pam_vault refuses it once
// others may write it.
func TestVaultProxySocket(t *testing.T) {
	e := setup(t)
	e.totpSetup(t)
	for i, tc := range []struct {
		name, mode string
	}{
		{"socket as the listener makes it", ""},
		{"socket_mode 0600 with socket_user and socket_group", "0600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy, err := e.vault.StartProxy(testvault.HolderOptions{
				Role: "pam-vault-proxy", Policies: []string{totpPolicy}, TokenTTL: time.Hour, SocketMode: tc.mode,
			})
			if err != nil {
				pamtest.Need(t, "starting Vault Proxy: %v", err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("proxy log:\n%s", proxy.LogTail())
				}
				proxy.Close()
			})
			fi, err := os.Lstat(proxy.Socket)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("the listener made %s %v", proxy.Socket, fi.Mode())
			if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm()&0o022 != 0 {
				t.Fatalf("the listener made %v; pam_vault needs a socket others cannot write", fi.Mode())
			}
			if tc.mode == "0600" && fi.Mode().Perm() != 0o600 {
				t.Fatalf("socket_mode 0600 gave %04o", fi.Mode().Perm())
			}

			k := e.totpKey(t, fmt.Sprintf("totp-proxy-%d", i), 6)
			cfg := e.writeConfig(t, "totp-proxy", "vault_addr = \"unix://"+proxy.Socket+"\"\n"+
				"totp_mount_point = \""+totpMount+"\"\n"+
				"ssh_mount_point = \""+mount+"\"\n"+
				"allowed_roles = \""+role+"\"\n")
			// No dev: a unix socket is not a network path.
			totp := e.service(t, "totp-proxy", "auth requisite MODULE totp config="+cfg)
			otp := e.service(t, "otp-proxy", "auth requisite MODULE config="+cfg)

			o := e.pamtester(t, totp, k.Name, code(t, k)+"\n", nil)
			expect(t, o, pamtesterOK)
			logged(t, o, "accepted Vault TOTP code")
			o = e.pamtester(t, totp, k.Name, wrongCode(t, k)+"\n", nil)
			expect(t, o, authErr)
			logged(t, o, "code rejected: not this user's current code")
			o = e.pamtester(t, otp, testUser, e.otp(t, role, testUser, "127.0.0.1")+"\n", nil)
			expect(t, o, pamtesterOK)
			logged(t, o, "accepted Vault OTP")

			// The proxy's token may verify but not generate codes.
			var out map[string]any
			if err := proxy.Do("GET", totpMount+"/code/"+k.Name, nil, &out); !testvault.IsStatus(err, 403) {
				t.Fatalf("GET through the proxy: %v %v, want 403", err, out)
			}

			// pam-vault-check sees the proxy's token through the socket.
			status, report := e.check(t, "", "-config="+cfg, "-totp")
			if status != 0 {
				t.Fatalf("pam-vault-check -totp: exit %d\n%s", status, report)
			}
			for _, c := range []string{"config", "socket", "tls", "reachable", "token", "policy", "mount"} {
				if !strings.HasPrefix(lineFor(report, c), "ok ") {
					t.Fatalf("check %s did not pass:\n%s", c, report)
				}
			}

			if err := os.Chmod(proxy.Socket, 0o777); err != nil {
				t.Fatal(err)
			}
			o = e.pamtester(t, totp, k.Name, "123456\n", nil)
			expect(t, o, serviceErr)
			logged(t, o, "configuration error", proxy.Socket, "writable by group or others (mode 0777)")
		})
	}
}

// TestVaultProxyStopped: with the proxy gone its socket is gone too, and
// a login is PAM_AUTHINFO_UNAVAIL.
func TestVaultProxyStopped(t *testing.T) {
	e := setup(t)
	e.totpSetup(t)
	proxy, err := e.vault.StartProxy(testvault.HolderOptions{
		Role: "pam-vault-proxy", Policies: []string{totpPolicy}, TokenTTL: time.Hour,
	})
	if err != nil {
		pamtest.Need(t, "starting Vault Proxy: %v", err)
	}
	socket := proxy.Socket
	cfg := e.writeConfig(t, "totp-proxy-stopped", "vault_addr = \"unix://"+socket+"\"\ntimeout = \"3s\"\n")
	proxy.Close()
	svc := e.service(t, "totp-proxy-stopped", "auth requisite MODULE totp config="+cfg)
	o := e.pamtester(t, svc, "totp-proxy-stopped", "123456\n", nil)
	expect(t, o, unavailable)
	logged(t, o, "Vault unavailable", strings.TrimSuffix(socket, "/proxy.sock"))
}
