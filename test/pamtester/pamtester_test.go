package pamtester

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

func TestValidOTPLogsInOnce(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "valid", e.configText())
	otp := e.otp(t, role, testUser, "127.0.0.1")

	// setcred too: with pam_vault the only auth module, it must succeed
	// without the pam_unix line vault-ssh-helper needed.
	o := e.pamtester(t, svc, testUser, otp+"\n", nil, "setcred")
	expect(t, o, pamtesterOK)
	if !strings.Contains(o.Output, "credential info has successfully been set") {
		t.Fatalf("pam_setcred did not succeed:\n%s", o.Output)
	}
	logged(t, o, "accepted Vault OTP", "user=alice", "role="+role)

	o = e.pamtester(t, svc, testUser, otp+"\n", nil)
	expect(t, o, authErr)
	logged(t, o, "authentication failure", "user=alice", "OTP rejected: Vault says HTTP 400: OTP not found")
}

func TestHostRules(t *testing.T) {
	e := setup(t)
	plain := e.configText()
	cidr := e.configText(`allowed_cidr_list = " 198.51.100.0/24 , 192.0.2.0/24 "`)
	anyRole := e.configText(`allowed_roles = "*"`)
	anyRole = strings.Replace(anyRole, `allowed_roles = "`+role+`"`+"\n", "", 1)
	for _, tc := range []struct {
		name, config, role, user, ip string
		want                         string
		log                          string
	}{
		{"loopback address of this host", plain, role, testUser, "127.0.0.1", pamtesterOK, "accepted Vault OTP"},
		{"IPv6 loopback of this host", plain, role, testUser, "::1", pamtesterOK, "accepted Vault OTP"},
		{"OTP of another user", plain, role, "bob", "127.0.0.1", authErr, `OTP was issued for user \"bob\"`},
		{"address of another host", plain, role, testUser, foreignIP, authErr, "OTP was issued for another host"},
		{"other host inside allowed_cidr_list", cidr, role, testUser, foreignIP, pamtesterOK, "accepted Vault OTP"},
		{"role not in allowed_roles", plain, otherRole, testUser, "127.0.0.1", authErr, `role \"other_role\" is not in allowed_roles`},
		{"any role with *", anyRole, otherRole, testUser, "127.0.0.1", pamtesterOK, "role=" + otherRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := e.vaultService(t, "rules", tc.config)
			otp := e.otp(t, tc.role, tc.user, tc.ip)
			o := e.pamtester(t, svc, testUser, otp+"\n", nil)
			expect(t, o, tc.want)
			logged(t, o, "user=alice", tc.log)
		})
	}
}

func TestNonOTPTokenNeverReachesVault(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "shape", e.configText())
	tokens := []string{
		"hunter2",
		"correct horse battery staple",
		"88b0fc03-44e3-718f-b712-50ee585f1a0g",  // one letter off hex
		"88b0fc0344e3718fb71250ee585f1a0e",      // a UUID without hyphens
		"88b0fc03-44e3-718f-b712-50ee585f1a0e0", // one character too many
	}
	for _, tok := range tokens {
		o := e.pamtester(t, svc, testUser, tok+"\n", nil)
		expect(t, o, authErr)
		logged(t, o, "not shaped like a Vault OTP", "Vault was not asked")
		if strings.Contains(strings.Join(o.SyslogTexts(), "\n"), tok) {
			t.Errorf("the token %q appears in the log:\n%s", tok, strings.Join(o.SyslogTexts(), "\n"))
		}
	}
	// A real OTP is verified too, to show the audit device records verify
	// requests with their bodies in clear.
	otp := e.otp(t, role, testUser, "127.0.0.1")
	expect(t, e.pamtester(t, svc, testUser, otp+"\n", nil), pamtesterOK)
	audit, err := os.ReadFile(filepath.Join(e.dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(audit), otp) {
		t.Fatalf("the audit log does not show the verified OTP; it cannot prove anything")
	}
	for _, tok := range tokens {
		if strings.Contains(string(audit), tok) {
			t.Errorf("Vault's audit log shows the non-OTP token %q", tok)
		}
	}
}

func TestVaultStoppedIsUnavailable(t *testing.T) {
	e := setup(t)
	stopped, err := testvault.Start(testvault.Options{})
	if err != nil {
		pamtest.Need(t, "%v", err)
	}
	addr := stopped.Addr
	stopped.Close()
	cfg := strings.Replace(e.configText(), e.vault.Addr, addr, 1)
	svc := e.vaultService(t, "stopped", cfg)

	start := time.Now()
	o := e.pamtester(t, svc, testUser, "88b0fc03-44e3-718f-b712-50ee585f1a0e\n", nil)
	elapsed := time.Since(start)
	expect(t, o, unavailable)
	logged(t, o, "Vault unavailable", "connection refused")
	// Not a speed check: a bound that only a hang would exceed.
	if limit := 3*time.Second + 10*time.Second; elapsed > limit {
		t.Fatalf("took %s, beyond the 3s timeout and a 10s margin", elapsed)
	}
}

func TestBrokenConfigIsServiceError(t *testing.T) {
	e := setup(t)
	otp := "88b0fc03-44e3-718f-b712-50ee585f1a0e"

	missing := filepath.Join(e.dir, "does-not-exist.hcl")
	e.service(t, "missing", "auth requisite MODULE dev config="+missing)
	o := e.pamtester(t, "missing", testUser, otp+"\n", nil)
	expect(t, o, serviceErr)
	logged(t, o, "configuration error", missing, "no such file")

	svc := e.vaultService(t, "unknown-key", e.configText(`vault_adress = "typo"`))
	o = e.pamtester(t, svc, testUser, otp+"\n", nil)
	expect(t, o, serviceErr)
	logged(t, o, "configuration error", "unknown-key.hcl:5", "vault_adress")

	svc = e.vaultService(t, "syntax", e.configText(`allowed_cidr_list = "10.0.0.0/8`))
	o = e.pamtester(t, svc, testUser, otp+"\n", nil)
	expect(t, o, serviceErr)
	logged(t, o, "configuration error", "syntax.hcl:5")

	svc = e.vaultService(t, "group-writable", e.configText())
	if err := os.Chmod(filepath.Join(e.dir, "group-writable.hcl"), 0o620); err != nil {
		t.Fatal(err)
	}
	o = e.pamtester(t, svc, testUser, otp+"\n", nil)
	expect(t, o, serviceErr)
	logged(t, o, "configuration error", "group-writable.hcl", "writable by group")

	// A relative config path is refused, not replaced by the default file.
	e.service(t, "relative", "auth requisite MODULE dev config=config.hcl")
	o = e.pamtester(t, "relative", testUser, otp+"\n", nil)
	expect(t, o, serviceErr)
	logged(t, o, "configuration error", "not an absolute path")

	// Plain http without the dev argument.
	cfg := e.writeConfig(t, "no-dev", e.configText())
	e.service(t, "no-dev", "auth requisite MODULE config="+cfg)
	o = e.pamtester(t, "no-dev", testUser, otp+"\n", nil)
	expect(t, o, serviceErr)
	logged(t, o, "configuration error", "no-dev.hcl:1", "dev")
}

func TestUseFirstPass(t *testing.T) {
	e := setup(t)
	// Debian installs it under the multiarch directory of the machine.
	found, _ := filepath.Glob("/usr/lib/*/pam_wrapper/pam_set_items.so")
	if len(found) == 0 {
		pamtest.Need(t, "pam_wrapper's pam_set_items.so is missing (make deps)")
	}
	setItems := found[0]
	cfg := e.writeConfig(t, "first-pass", e.configText())
	svc := e.service(t, "first-pass",
		"auth required "+setItems,
		"auth requisite MODULE config="+cfg+" dev use_first_pass")

	// The token comes from the module before; stdin is empty, so a second
	// prompt would fail the conversation instead of succeeding.
	otp := e.otp(t, role, testUser, "127.0.0.1")
	o := e.pamtester(t, svc, testUser, "", []string{"PAM_AUTHTOK=" + otp})
	expect(t, o, pamtesterOK)
	if strings.Contains(o.Output, "Password:") {
		t.Fatalf("use_first_pass prompted again:\n%s", o.Output)
	}
	o = e.pamtester(t, svc, testUser, "", []string{"PAM_AUTHTOK=" + otp})
	expect(t, o, authErr)
	logged(t, o, "OTP not found")
}

func TestTLS(t *testing.T) {
	e := setup(t)
	tv := testvault.StartT(t, testvault.Options{TLS: true})
	for _, step := range []func() error{
		func() error { return tv.EnableSSH(mount) },
		func() error { return tv.WriteOTPRole(mount, role, testUser, roleCIDRs) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	base := strings.Replace(e.configText(), e.vault.Addr, tv.Addr, 1)
	caDir := filepath.Join(t.TempDir(), "cas")
	pem, err := os.ReadFile(tv.CACert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(caDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(caDir, "vault-ca.pem"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, extra, want, log string
	}{
		{"ca_cert trusts the server", "ca_cert = \"" + tv.CACert + "\"", pamtesterOK, "accepted Vault OTP"},
		{"ca_path trusts the server", "ca_path = \"" + caDir + "\"", pamtesterOK, "accepted Vault OTP"},
		{"system CAs do not", "", unavailable, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.writeConfig(t, "tls", base+tc.extra+"\n")
			// No dev argument: https is what production uses.
			svc := e.service(t, "tls", "auth requisite MODULE config="+cfg)
			otp, err := tv.IssueOTP(mount, role, testUser, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			o := e.pamtester(t, svc, testUser, otp+"\n", nil)
			expect(t, o, tc.want)
			logged(t, o, tc.log)
		})
	}
}

func TestUnknownArgumentIsLoggedAndIgnored(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "unknown-arg", e.configText(), "nosuchoption")
	o := e.pamtester(t, svc, testUser, "not-an-otp\n", nil)
	expect(t, o, authErr)
	logged(t, o, "nosuchoption")
	otp := e.otp(t, role, testUser, "127.0.0.1")
	o = e.pamtester(t, svc, testUser, otp+"\n", nil)
	expect(t, o, pamtesterOK)
	logged(t, o, "accepted Vault OTP", "nosuchoption")
}

// TestConversationFailureIsConvErr: a conversation that fails gives
// PAM_CONV_ERR on either path. The module connected to Vault, or started
// the helper that did, before it asked; Vault still sees no request, from
// a failed conversation or from a token of the wrong shape.
func TestConversationFailureIsConvErr(t *testing.T) {
	e := setup(t)
	before := e.auditedRequests(t, mount+"/verify")
	for _, svc := range []string{
		e.vaultService(t, "conv", e.configText()),
		e.vaultService(t, "conv-helper", e.configText(), "helper"),
	} {
		// No input at all: the conversation cannot get a password.
		o := e.pamtester(t, svc, testUser, "", nil)
		expect(t, o, "Conversation error")
		logged(t, o, "cannot obtain the one-time password")
		o = e.pamtester(t, svc, testUser, "hunter2\n", nil)
		expect(t, o, authErr)
	}
	if n := e.auditedRequests(t, mount+"/verify") - before; n != 0 {
		t.Fatalf("Vault's audit log shows %d verify requests after failed conversations and a password", n)
	}
	otp := e.otp(t, role, testUser, "127.0.0.1")
	expect(t, e.pamtester(t, e.vaultService(t, "conv-ok", e.configText()), testUser, otp+"\n", nil), pamtesterOK)
	if n := e.auditedRequests(t, mount+"/verify") - before; n != 1 {
		t.Fatalf("Vault's audit log shows %d verify requests for one OTP; it cannot prove anything", n)
	}
}

// TestGoRuntimeVariablesSendToHelper: GODEBUG and friends would be read by
// the in-process Go runtime, so their presence sends the verdict to the
// helper, whose environment is empty; the verdict is unchanged.
func TestGoRuntimeVariablesSendToHelper(t *testing.T) {
	e := setup(t)
	svc := e.vaultService(t, "godebug", e.configText(), "debug")
	for _, v := range []string{"GODEBUG=netdns=cgo+2,tlsrsakex=1", "GOGC=off", "GOMAXPROCS=1", "GOTRACEBACK=crash", "GOMEMLIMIT=1"} {
		otp := e.otp(t, role, testUser, "127.0.0.1")
		o := e.pamtester(t, svc, testUser, otp+"\n", []string{v, "PAM_WRAPPER_DEBUGLEVEL=3"})
		expect(t, o, pamtesterOK)
		name, _, _ := strings.Cut(v, "=")
		logged(t, o, name+" is set in the environment; verifying in a helper process")
	}
}
