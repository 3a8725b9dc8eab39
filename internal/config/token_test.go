package config

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// testToken is shaped like a Vault service token.
const testToken = "hvs.CAESIJ1x2y3z4AbCdEfGhIjKlMnOpQrStUvWxYz0123456789GiEKHGh2cy5hYmNkZWZnaGlqa2xtbm9wcXJzdA"

// tokenErr calls ReadTokenFile(path), requires an *Error for path that
// holds each of parts and not the token, and returns it.
func tokenErr(t *testing.T, path string, parts ...string) *Error {
	t.Helper()
	tok, err := ReadTokenFile(path)
	if err == nil {
		t.Fatalf("ReadTokenFile(%s) = %q, want an error", path, tok)
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != path {
		t.Fatalf("ReadTokenFile(%s) error %q is not an *Error for the file", path, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
	if strings.Contains(err.Error(), testToken[4:20]) {
		t.Errorf("error %q shows the token", err)
	}
	return e
}

func TestReadTokenFile(t *testing.T) {
	for _, tt := range []struct {
		name, content string
		mode          os.FileMode
		want          string // "" for an error holding msg
		msg           string
	}{
		{"as Vault Agent writes it", testToken, 0o600, testToken, ""},
		{"trailing newline", testToken + "\n", 0o600, testToken, ""},
		{"surrounding white space", "  \t" + testToken + " \r\n\n", 0o400, testToken, ""},
		{"group-readable, as Vault Agent's default mode", testToken, 0o640, testToken, ""},
		{"readable by others", testToken, 0o644, "", "readable by others (mode 0644)"},
		{"writable by group", testToken, 0o620, "", "writable by group or others (mode 0620)"},
		{"writable by others", testToken, 0o602, "", "writable by group or others"},
		{"empty", "", 0o600, "", "empty; Vault Agent has not written a token yet"},
		{"white space only", " \n\t\n", 0o600, "", "empty"},
		{"two lines", testToken + "\n" + testToken + "\n", 0o600, "", "holds more than one line"},
		{"a JSON wrapped token", "{\"token\": \"" + testToken + "\"}", 0o600, "", "holds characters no Vault token has"},
		{"a control character", testToken[:10] + "\x00" + testToken[10:], 0o600, "", "holds characters no Vault token has"},
		{"non-ASCII", testToken + "é", 0o600, "", "holds characters no Vault token has"},
		{"larger than the bound", strings.Repeat("a", MaxTokenFile+1), 0o600, "", "larger than 8192 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, "token", tt.content, tt.mode)
			if tt.want == "" {
				tokenErr(t, path, tt.msg)
				return
			}
			got, err := ReadTokenFile(path)
			if err != nil || got != tt.want {
				t.Fatalf("ReadTokenFile = %q, %v; want the token", got, err)
			}
		})
	}
}

func TestReadTokenFileRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	tokenErr(t, filepath.Join(dir, "missing"), "no such file", "start Vault Agent")
	tokenErr(t, dir, "is a directory, not a regular file; point token_file at the token file")

	target := writeConfig(t, "token", testToken, 0o600)
	link := filepath.Join(t.TempDir(), "token")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	e := tokenErr(t, link, "is a symbolic link", "point token_file at the file itself")
	if !errors.Is(e, syscall.ELOOP) {
		t.Errorf("errors.Is(%v, ELOOP) = false", e)
	}

	fifo := filepath.Join(t.TempDir(), "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { tokenErr(t, fifo, "is a named pipe"); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReadTokenFile blocked on a FIFO")
	}
}

func TestReadTokenFileOwnerAndDirectories(t *testing.T) {
	if os.Geteuid() != 0 {
		pamtest.Need(t, "giving files to another uid needs root")
	}
	path := writeConfig(t, "token", testToken, 0o600)
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	tokenErr(t, path, "owned by uid 65534, not root")

	dir := filepath.Join(t.TempDir(), "agent")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte(testToken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	tokenErr(t, path, "its directory "+dir+" is writable by group or others")
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	tokenErr(t, path, "its directory "+dir+" is owned by uid 65534")
}

// listen makes a unix socket at dir/name with mode and returns its path.
func listen(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckSocket(t *testing.T) {
	dir := t.TempDir()
	if err := CheckSocket(listen(t, dir, "ok.sock", 0o755)); err != nil {
		t.Errorf("CheckSocket(0755 socket) = %v", err)
	}
	if err := CheckSocket(listen(t, dir, "private.sock", 0o600)); err != nil {
		t.Errorf("CheckSocket(0600 socket) = %v", err)
	}
	check := func(path string, parts ...string) error {
		t.Helper()
		err := CheckSocket(path)
		var e *Error
		if !errors.As(err, &e) || e.Path != path {
			t.Fatalf("CheckSocket(%s) = %v, want an *Error for it", path, err)
		}
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not contain %q", err, p)
			}
		}
		return err
	}
	if err := check(filepath.Join(dir, "missing.sock"), "no such socket"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing socket's error %v does not wrap fs.ErrNotExist", err)
	}
	check(listen(t, dir, "open.sock", 0o777), "writable by group or others (mode 0777)", "socket_mode")
	check(listen(t, dir, "group.sock", 0o770), "writable by group or others (mode 0770)")
	check(writeConfig(t, "file.sock", "", 0o600), "is a regular file, not a socket")
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(filepath.Join(dir, "ok.sock"), link); err != nil {
		t.Fatal(err)
	}
	check(link, "is a symbolic link, not a socket")

	unsafe := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(unsafe, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(unsafe, 0o777); err != nil {
		t.Fatal(err)
	}
	check(listen(t, unsafe, "p.sock", 0o600), "its directory "+unsafe+" is writable by group or others")

	if os.Geteuid() == 0 {
		owned := listen(t, dir, "owned.sock", 0o600)
		if err := os.Lchown(owned, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		check(owned, "owned by uid 65534, not root")
	}
}
