package enroll

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOperatorToken(t *testing.T) {
	const fileToken = "hvs.FROMFILE0123456789"
	for _, tc := range []struct {
		name       string
		env        string // VAULT_TOKEN
		file       string // ~/.vault-token; "" for none
		setup      func(t *testing.T, home string)
		noHome     bool
		want       string
		wantSource string // "file" for ~/.vault-token
		wantErr    string
	}{
		{name: "environment wins", env: "hvs.FROMENV", file: fileToken, want: "hvs.FROMENV", wantSource: "VAULT_TOKEN"},
		{name: "file as vault login writes it", file: fileToken, want: fileToken, wantSource: "file"},
		{name: "file with a newline", file: fileToken + "\n", want: fileToken, wantSource: "file"},
		{name: "neither", wantErr: "run vault login, or set VAULT_TOKEN"},
		{name: "no home", noHome: true, wantErr: "no home directory"},
		{name: "empty file", file: "\n", wantErr: "is empty"},
		{name: "space inside the file's token", file: "hvs.SECRET PART", wantErr: "character no Vault token has"},
		{name: "newline inside VAULT_TOKEN", env: "hvs.SECRET\nPART", wantErr: "VAULT_TOKEN holds a character"},
		{name: "huge file", file: strings.Repeat("x", maxTokenFile+1), wantErr: "larger than"},
		{name: "directory", setup: func(t *testing.T, home string) {
			if err := os.Mkdir(filepath.Join(home, ".vault-token"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "not a regular file"},
		{name: "FIFO", setup: func(t *testing.T, home string) {
			if err := syscall.Mkfifo(filepath.Join(home, ".vault-token"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(home, ".vault-token"), []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.setup != nil {
				tc.setup(t, home)
			}
			if tc.noHome {
				home = ""
			}
			getenv := func(k string) string {
				if k == "VAULT_TOKEN" {
					return tc.env
				}
				t.Errorf("OperatorToken read the environment variable %s", k)
				return ""
			}
			got, source, err := OperatorToken(getenv, home)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Fatalf("the error quotes the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSource == "file" {
				tc.wantSource = filepath.Join(home, ".vault-token")
			}
			if got != tc.want || source != tc.wantSource {
				t.Fatalf("got %q from %q, want %q from %q", got, source, tc.want, tc.wantSource)
			}
		})
	}
}
