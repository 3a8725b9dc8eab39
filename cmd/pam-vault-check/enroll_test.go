package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnrollArgumentErrors runs enroll with arguments it must refuse before
// it reads a token or the config file or asks Vault anything: the config
// path is a file that does not exist and no token is set, so getting that
// far would print a different error.
func TestEnrollArgumentErrors(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "")
	t.Setenv("HOME", t.TempDir())
	missing := "-config=" + filepath.Join(t.TempDir(), "none.hcl")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no user", []string{missing}, "-user is required"},
		{"empty user", []string{"-user=", missing}, "-user is required"},
		{"user with a slash", []string{"-user=alice/../bob", missing}, `user name "alice/../bob" cannot name a Vault TOTP key`},
		{"user starting with a hyphen", []string{"-user=-alice", missing}, "cannot name a Vault TOTP key"},
		{"user with a space", []string{"-user=alice smith", missing}, "cannot name a Vault TOTP key"},
		{"user with a backslash", []string{`-user=DOMAIN\alice`, missing}, "cannot name a Vault TOTP key"},
		{"issuer with a colon", []string{"-user=alice", "-issuer=vault:8200", missing}, "-issuer: issuer \"vault:8200\" holds a colon"},
		{"issuer with a newline", []string{"-user=alice", "-issuer=a\nb", missing}, "control character"},
		{"extra argument", []string{"-user=alice", missing, "bob"}, `unexpected argument "bob"`},
		{"unknown flag", []string{"-user=alice", "-issue=x"}, "flag provided but not defined: -issue"},
		{"flag without value", []string{"-user"}, "flag needs an argument: -user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"enroll"}, tc.args...), strings.NewReader(""), &stdout, &stderr)
			if code != 64 {
				t.Fatalf("exit %d, want 64 (usage)\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("stderr lacks %q:\n%s", tc.wantErr, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Fatalf("printed on stdout:\n%s", stdout.String())
			}
		})
	}
}

// TestEnrollNeedsATokenAndAConfig covers the failures after the arguments,
// still before any request.
func TestEnrollNeedsATokenAndAConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	missing := filepath.Join(t.TempDir(), "none.hcl")

	t.Setenv("VAULT_TOKEN", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"enroll", "-user=alice", "-config=" + missing}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("no token: exit %d, want 1\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "no Vault token") || !strings.Contains(stderr.String(), "vault login") {
		t.Fatalf("no token: unclear error:\n%s", stderr.String())
	}

	if err := os.WriteFile(filepath.Join(home, ".vault-token"), []byte("hvs.operator"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"enroll", "-user=alice", "-config=" + missing}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("no config: exit %d, want 1\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), missing) || !strings.Contains(stderr.String(), "no such file") {
		t.Fatalf("no config: error does not name the file:\n%s", stderr.String())
	}
}

func TestEnrollHelpNamesTheTokenSources(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"enroll", "-h"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, want := range []string{"VAULT_TOKEN", "~/.vault-token", "never run by PAM", "PAM module never reads either", "-force", "-png"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("enroll -h does not mention %q:\n%s", want, stderr.String())
		}
	}
}
