package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"pam_vault/internal/pamtest"
)

// trustedTree is a directory tree for the tests of ReadTrusted and
// OpenTrustedDir: safe/ passes the config file's rules, open/ is writable by
// group, and each holds ca.pem.
type trustedTree struct {
	safe, open       string
	safeCA, openCA   string
	writableCA       string // in safe/, writable by group
	linkToSafe       string // in safe/: ca.pem by a relative link
	linkToOpen       string // in safe/: open/ca.pem by an absolute link
	linkInOpen       string // in open/: safe/ca.pem
	linkToLinkInOpen string // in safe/: linkInOpen
	loop             string // in safe/: a link to itself
	dangling         string // in safe/: a link to nothing
}

func newTrustedTree(t *testing.T) trustedTree {
	t.Helper()
	root := t.TempDir()
	var tr trustedTree
	tr.safe, tr.open = filepath.Join(root, "safe"), filepath.Join(root, "open")
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{tr.safe, 0o755}, {tr.open, 0o775}} {
		if err := os.Mkdir(d.path, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	file := func(dir, name string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("pem\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	link := func(target, dir, name string) string {
		path := filepath.Join(dir, name)
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tr.safeCA = file(tr.safe, "ca.pem", 0o644)
	tr.openCA = file(tr.open, "ca.pem", 0o644)
	tr.writableCA = file(tr.safe, "writable.pem", 0o664)
	tr.linkToSafe = link("ca.pem", tr.safe, "0a1b2c3d.0")
	tr.linkToOpen = link(tr.openCA, tr.safe, "open.pem")
	tr.linkInOpen = link(tr.safeCA, tr.open, "link.pem")
	tr.linkToLinkInOpen = link(tr.linkInOpen, tr.safe, "via-open.pem")
	tr.loop = link("loop.pem", tr.safe, "loop.pem")
	tr.dangling = link("nothing.pem", tr.safe, "dangling.pem")
	return tr
}

// TestReadTrusted checks that a CA file is held to the config file's
// rules, and that a symbolic link is followed only through directories
// that pass them too.
func TestReadTrusted(t *testing.T) {
	tr := newTrustedTree(t)
	fifo := filepath.Join(tr.safe, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		err        string // a part of the error; "" for success
	}{
		{"file in safe directories", tr.safeCA, ""},
		{"relative link beside it", tr.linkToSafe, ""},
		{"relative path", "ca.pem", "not an absolute path"},
		{"writable by group", tr.writableCA, "writable by group or others (mode 0664)"},
		{"in a group-writable directory", tr.openCA, "its directory " + tr.open + " is writable by group or others"},
		{"link to a file in a group-writable directory", tr.linkToOpen, "its directory " + tr.open + " is writable by group or others"},
		{"link through a link in a group-writable directory", tr.linkToLinkInOpen, "its directory " + tr.open + " is writable by group or others"},
		{"link to itself", tr.loop, "symbolic links"},
		{"dangling link", tr.dangling, "no such file"},
		{"missing", filepath.Join(tr.safe, "missing.pem"), "no such file"},
		{"directory", tr.safe, "is a directory, not a regular file"},
		{"FIFO", fifo, "is a named pipe, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ReadTrusted(tt.path, 100)
			if tt.err == "" {
				if err != nil || string(b) != "pem\n" {
					t.Fatalf("ReadTrusted(%s) = %q, %v", tt.path, b, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("ReadTrusted(%s) = %v, want an *Error containing %q", tt.path, err, tt.err)
			}
		})
	}
	if _, err := ReadTrusted(tr.safeCA, 3); err == nil || !strings.Contains(err.Error(), "larger than 3 bytes") {
		t.Errorf("ReadTrusted over the limit = %v", err)
	}
}

// TestReadTrustedOwner checks the owner rule on the file and on the
// directory of a link.
func TestReadTrustedOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		pamtest.Need(t, "giving files to another uid needs root")
	}
	tr := newTrustedTree(t)
	if err := os.Chown(tr.safeCA, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTrusted(tr.safeCA, 100); err == nil || !strings.Contains(err.Error(), "owned by uid 65534, not root") {
		t.Errorf("ReadTrusted(file of uid 65534) = %v", err)
	}
	if _, err := ReadTrusted(tr.linkToSafe, 100); err == nil || !strings.Contains(err.Error(), "owned by uid 65534, not root") {
		t.Errorf("ReadTrusted(link to a file of uid 65534) = %v", err)
	}
}

// TestOpenTrustedDir checks the rules for a ca_path directory.
func TestOpenTrustedDir(t *testing.T) {
	tr := newTrustedTree(t)
	link := filepath.Join(t.TempDir(), "certs")
	if err := os.Symlink(tr.safe, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, dir, err string
	}{
		{"safe directory", tr.safe, ""},
		{"link to a safe directory", link, ""},
		{"group-writable directory", tr.open, tr.open + " is writable by group or others (mode 0775)"},
		{"relative", "safe", "not an absolute path"},
		{"a file", tr.safeCA, "not a directory"},
		{"missing", filepath.Join(tr.safe, "missing"), "no such directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := OpenTrustedDir(tt.dir)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("OpenTrustedDir(%s): %v", tt.dir, err)
				}
				f.Close()
				return
			}
			if err == nil {
				f.Close()
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("OpenTrustedDir(%s) = %v, want an *Error containing %q", tt.dir, err, tt.err)
			}
		})
	}
}
