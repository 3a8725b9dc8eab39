package pamtester

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_vault/internal/testvault"
)

// check runs build/pam-vault-check with args and stdin; it returns the exit
// status and what it printed.
func (e *env) check(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	return e.checkEnv(t, nil, stdin, args...)
}

// checkEnv is check with environ as the program's whole environment, or
// with this process's when environ is nil.
func (e *env) checkEnv(t *testing.T, environ []string, stdin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.build, "pam-vault-check"), args...)
	cmd.Env = environ
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("pam-vault-check: %v", err)
	return -1, ""
}

// lineFor returns the report line of one check, e.g. "ok    mount  ...".
func lineFor(out, check string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[1] == check {
			return l
		}
	}
	return ""
}

func TestCheckPassesAgainstRunningVault(t *testing.T) {
	e := setup(t)
	cfg := e.writeConfig(t, "check", e.configText())
	// vault-ssh-helper's runbook flags, unchanged.
	for _, args := range [][]string{
		{"-config=" + cfg, "-dev"},
		{"-verify-only", "-config=" + cfg, "-dev"},
	} {
		code, out := e.check(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
		for _, c := range []string{"config", "reachable", "mount", "namespace"} {
			if !strings.HasPrefix(lineFor(out, c), "ok ") {
				t.Fatalf("%v: check %s did not pass:\n%s", args, c, out)
			}
		}
		if !strings.Contains(lineFor(out, "reachable"), "Vault 1.") {
			t.Fatalf("the reachable line does not name Vault's version:\n%s", out)
		}
	}
}

func TestCheckShowsTheServerCertificate(t *testing.T) {
	e := setup(t)
	tv := testvault.StartT(t, testvault.Options{TLS: true})
	if err := tv.EnableSSH(mount); err != nil {
		t.Fatal(err)
	}
	cfg := e.writeConfig(t, "check-tls", strings.Replace(e.configText(), e.vault.Addr, tv.Addr, 1)+
		"ca_cert = \""+tv.CACert+"\"\n")
	code, out := e.check(t, "", "-config="+cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	tls := lineFor(out, "tls")
	if !strings.HasPrefix(tls, "ok ") || !strings.Contains(tls, "server certificate") || !strings.Contains(tls, "expires") {
		t.Fatalf("no certificate subject and expiry in the tls line:\n%s", out)
	}
}

func TestCheckFailsClearly(t *testing.T) {
	e := setup(t)
	down := e.writeConfig(t, "check-down", strings.Replace(e.configText(), e.vault.Addr, "http://127.0.0.1:1", 1))
	code, out := e.check(t, "", "-config="+down, "-dev")
	if code == 0 {
		t.Fatalf("exit 0 against a stopped Vault:\n%s", out)
	}
	if l := lineFor(out, "reachable"); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "connection refused") {
		t.Fatalf("no clear reachable failure:\n%s", out)
	}

	badMount := e.writeConfig(t, "check-mount", strings.Replace(e.configText(), `ssh_mount_point = "ssh"`, `ssh_mount_point = "nossh"`, 1))
	code, out = e.check(t, "", "-config="+badMount, "-dev")
	if l := lineFor(out, "mount"); code == 0 || !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "nossh") {
		t.Fatalf("exit %d; want a mount failure naming nossh:\n%s", code, out)
	}

	broken := e.writeConfig(t, "check-broken", e.configText(`nonsense = true`))
	code, out = e.check(t, "", "-config="+broken, "-dev")
	if l := lineFor(out, "config"); code == 0 || !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "check-broken.hcl:5") {
		t.Fatalf("exit %d; want a config failure with file:line:\n%s", code, out)
	}

	cfg := e.writeConfig(t, "check-nodev", e.configText())
	code, out = e.check(t, "", "-config="+cfg)
	if l := lineFor(out, "config"); code == 0 || !strings.HasPrefix(l, "FAIL") {
		t.Fatalf("exit %d; plain http without -dev must fail the config check:\n%s", code, out)
	}
}

func TestCheckLogin(t *testing.T) {
	e := setup(t)
	cfg := e.writeConfig(t, "check-login", e.configText())
	otp := e.otp(t, role, testUser, "127.0.0.1")
	args := []string{"login", "-user=" + testUser, "-rhost=198.51.100.7", "-config=" + cfg, "-dev"}

	code, out := e.check(t, otp+"\n", args...)
	if code != 0 || !strings.Contains(out, "verdict: PAM_SUCCESS") || !strings.Contains(out, "rhost=198.51.100.7") {
		t.Fatalf("exit %d, want PAM_SUCCESS:\n%s", code, out)
	}
	if !strings.Contains(out, "used up") {
		t.Fatalf("no warning that the OTP is consumed:\n%s", out)
	}
	code, out = e.check(t, otp+"\n", args...)
	if code != 1 || !strings.Contains(out, "verdict: PAM_AUTH_ERR") || !strings.Contains(out, "OTP not found") {
		t.Fatalf("exit %d, want PAM_AUTH_ERR for a used OTP:\n%s", code, out)
	}
	code, out = e.check(t, "hunter2\n", args...)
	if code != 1 || strings.Contains(out, "hunter2") {
		t.Fatalf("exit %d; a non-OTP must fail without being echoed:\n%s", code, out)
	}

	// -ssh-connection names the address the login reached, as sshd's
	// SSH_CONNECTION does for the module: the OTP must be for it.
	for _, tc := range []struct {
		conn, verdict, reason string
	}{
		{"198.51.100.7 50022 127.0.0.1 22", "verdict: PAM_SUCCESS", "accepted Vault OTP"},
		{"198.51.100.7 50022 192.0.2.77 22", "verdict: PAM_AUTH_ERR", "192.0.2.77"},
		{"not a connection", "verdict: PAM_AUTH_ERR", "Vault was not asked"},
	} {
		otp := e.otp(t, role, testUser, "127.0.0.1")
		_, out := e.check(t, otp+"\n", append([]string{"login", "-ssh-connection=" + tc.conn}, args[1:]...)...)
		if !strings.Contains(out, tc.verdict) || !strings.Contains(out, tc.reason) {
			t.Errorf("-ssh-connection=%q: want %q and %q:\n%s", tc.conn, tc.verdict, tc.reason, out)
		}
	}
}
