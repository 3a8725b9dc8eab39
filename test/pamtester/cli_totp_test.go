package pamtester

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckTOTPConfig(t *testing.T) {
	e := setup(t)
	te := e.totpSetup(t)
	code, out := e.check(t, "", "-config="+te.config, "-dev", "-totp")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, c := range []string{"config", "tokenfile", "reachable", "token", "policy", "mount", "namespace"} {
		if !strings.HasPrefix(lineFor(out, c), "ok ") {
			t.Fatalf("check %s did not pass:\n%s", c, out)
		}
	}
	for c, want := range map[string]string{
		"token":  "policies [default " + totpPolicy + "], TTL ",
		"policy": "[update] on totp/code/*",
		"mount":  "totp/ is a TOTP secrets engine",
	} {
		if !strings.Contains(lineFor(out, c), want) {
			t.Errorf("the %s line does not say %q:\n%s", c, want, out)
		}
	}
	if strings.Contains(out, te.token) {
		t.Fatalf("the check printed the token:\n%s", out)
	}
}

func TestCheckTOTPFailsClearly(t *testing.T) {
	e := setup(t)
	e.totpSetup(t)
	dir := t.TempDir()
	tokenFile := func(name, token string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	revoked, err := e.vault.CreateToken([]string{totpPolicy}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.vault.RevokeToken(revoked); err != nil {
		t.Fatal(err)
	}
	plain, err := e.vault.CreateToken([]string{"default"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, config, check, status, want string
	}{
		{"no token source", e.configText(), "config", "FAIL", "set token_file"},
		{"token file missing", e.totpConfigText(filepath.Join(dir, "absent")), "tokenfile", "FAIL", "no such file"},
		{"token refused", e.totpConfigText(tokenFile("revoked", revoked)), "token", "FAIL", "Vault refused the token (HTTP 403"},
		{"no update on codes", e.totpConfigText(tokenFile("plain", plain)), "policy", "FAIL", "it needs update to verify codes"},
		{"the root token", e.totpConfigText(tokenFile("root", e.vault.RootToken)), "policy", "warn", "read lets whoever holds it generate any user's current code"},
		{"no TOTP engine at the mount", strings.Replace(e.totpConfigText(tokenFile("root1", e.vault.RootToken)), `totp_mount_point = "totp"`, `totp_mount_point = "ssh"`, 1),
			"mount", "FAIL", `is of type "ssh", not totp`},
		{"nothing at the mount", strings.Replace(e.totpConfigText(tokenFile("root2", e.vault.RootToken)), `totp_mount_point = "totp"`, `totp_mount_point = "nototp"`, 1),
			"mount", "FAIL", "no TOTP engine answers at totp_mount_point nototp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.writeConfig(t, "check-totp", tc.config)
			code, out := e.check(t, "", "-config="+cfg, "-dev", "-totp")
			line := lineFor(out, tc.check)
			if !strings.HasPrefix(line, tc.status) || !strings.Contains(line, tc.want) {
				t.Fatalf("want %s %s with %q:\n%s", tc.status, tc.check, tc.want, out)
			}
			if wantCode := map[string]int{"FAIL": 1, "warn": 0}[tc.status]; code != wantCode {
				t.Fatalf("exit %d, want %d:\n%s", code, wantCode, out)
			}
		})
	}
}

func TestCheckLoginTOTP(t *testing.T) {
	e := setup(t)
	te := e.totpSetup(t)
	k := e.totpKey(t, "totp-cli", 6)
	args := []string{"login", "-totp", "-user=" + k.Name, "-config=" + te.config, "-dev"}

	c := code(t, k)
	status, out := e.check(t, c+"\n", args...)
	if status != 0 || !strings.Contains(out, "verdict: PAM_SUCCESS") || !strings.Contains(out, "accepted Vault TOTP code") {
		t.Fatalf("exit %d, want PAM_SUCCESS:\n%s", status, out)
	}
	if !strings.Contains(out, "Vault takes each code once") {
		t.Fatalf("no note that the code is used up:\n%s", out)
	}
	status, out = e.check(t, c+"\n", args...)
	if status != 1 || !strings.Contains(out, "verdict: PAM_AUTH_ERR") || !strings.Contains(out, "code rejected: already used") {
		t.Fatalf("exit %d, want PAM_AUTH_ERR for a used code:\n%s", status, out)
	}
	status, out = e.check(t, "hunter2\n", args...)
	if status != 1 || strings.Contains(out, "hunter2") || !strings.Contains(out, "Vault was not asked") {
		t.Fatalf("exit %d; a non-code must fail without being echoed:\n%s", status, out)
	}
	status, out = e.check(t, "123456\n", "login", "-totp", "-nullok", "-user=totp-cli-nobody", "-config="+te.config, "-dev")
	if status != 4 || !strings.Contains(out, "verdict: PAM_IGNORE") {
		t.Fatalf("exit %d, want 4 and PAM_IGNORE for a user without a key under -nullok:\n%s", status, out)
	}
	if strings.Contains(out, "123456") {
		t.Fatalf("the code was echoed:\n%s", out)
	}
}
