package pamtester

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

// pamtesterIn is e.pamtester run from the working directory dir, as su and
// sudo run from the directory of the user who calls them.
func (e *env) pamtesterIn(t *testing.T, dir, service, user, stdin string) pamtest.Outcome {
	t.Helper()
	o := pamtest.Exec(t, 0, e.wrapperEnv(), stdin, "env", "-C", dir, "pamtester", "-v", service, user, "authenticate")
	o.Result = pamtest.Result(o.Output)
	journal.Record(t, 1, []string{strings.TrimSpace(stdin)}, o.Syslog)
	return o
}

// TestRelativeCAPathIsRefused is the case of a relative ca_cert: it named a
// file in the working directory of the process that authenticates, so a
// user who runs su or sudo from a directory holding a CA of their choice
// chose whom pam_vault trusts as Vault. Here that CA is the one that
// signed the TLS test Vault's certificate; the login must fail with a
// configuration error naming the file and line, in process and in the
// helper, and never succeed.
func TestRelativeCAPathIsRefused(t *testing.T) {
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
	pem, err := os.ReadFile(tv.CACert)
	if err != nil {
		t.Fatal(err)
	}
	userDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(userDir, "vault-ca.pem"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(userDir, "cas"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(userDir, "cas", "vault-ca.pem"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
	base := strings.Replace(e.configText(), e.vault.Addr, tv.Addr, 1)
	for _, key := range []struct{ line, value string }{
		{`ca_cert = "vault-ca.pem"`, "vault-ca.pem"},
		{`ca_path = "cas"`, "cas"},
	} {
		for _, path := range []struct {
			name string
			args string
		}{{"in process", ""}, {"helper", " helper"}} {
			t.Run(key.value+"/"+path.name, func(t *testing.T) {
				cfg := e.writeConfig(t, "relative-ca", base+key.line+"\n")
				svc := e.service(t, "relative-ca", "auth requisite MODULE config="+cfg+path.args)
				otp, err := tv.IssueOTP(mount, role, testUser, "127.0.0.1")
				if err != nil {
					t.Fatal(err)
				}
				o := e.pamtesterIn(t, userDir, svc, testUser, otp+"\n")
				expect(t, o, serviceErr)
				logged(t, o, "configuration error", cfg+":5:", key.value, "is not an absolute path")
			})
		}
	}
}
