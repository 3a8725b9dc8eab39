package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// writeConfig writes content to name in a new temporary directory with the
// exact mode (no umask) and returns its path.
func writeConfig(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadErr calls Load(path), requires an *Error for path that contains each
// of parts, and returns it.
func loadErr(t *testing.T, path string, parts ...string) *Error {
	t.Helper()
	cfg, err := Load(path)
	if err == nil {
		t.Fatalf("Load(%s) succeeded, want an error: %+v", path, public(cfg))
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Load(%s) error %T %q is not a *Error", path, err, err)
	}
	if e.Path != path {
		t.Errorf("Error.Path = %q, want %q", e.Path, path)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("Load error %q does not contain %q", err, p)
		}
	}
	return e
}

func TestLoadGood(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o644, 0o400, 0o640} {
		t.Run(mode.String(), func(t *testing.T) {
			path := writeConfig(t, "config.hcl", exampleConfig, mode)
			cfg, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Path != path || cfg.VaultAddr != "https://vault.example.com:8200" || len(cfg.AllowedCIDRs) != 2 {
				t.Errorf("Load = %+v", public(cfg))
			}
			if err := cfg.CheckScheme(false); err != nil {
				t.Errorf("CheckScheme: %v", err)
			}
		})
	}
}

func TestLoadJSON(t *testing.T) {
	path := writeConfig(t, "config.json", `{"vault_addr": "https://vault.example.com", "allowed_roles": "otp"}`, 0o600)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.RoleAllowed("otp") || cfg.RoleAllowed("other") {
		t.Errorf("roles = %q", cfg.AllowedRoles)
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.hcl")
	e := loadErr(t, path, path+": no such file", "config=")
	if !errors.Is(e, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", e)
	}
	if e.Line != 0 {
		t.Errorf("Line = %d, want 0", e.Line)
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	loadErr(t, dir, dir+": is a directory, not a regular file")
}

func TestLoadSymlink(t *testing.T) {
	target := writeConfig(t, "real.hcl", exampleConfig, 0o600)
	link := filepath.Join(t.TempDir(), "config.hcl")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	e := loadErr(t, link, link+": is a symbolic link", "point the config= module argument at the file itself")
	if !errors.Is(e, syscall.ELOOP) {
		t.Errorf("errors.Is(%v, ELOOP) = false", e)
	}
	// A dangling link is refused the same way, not reported as missing.
	dangling := filepath.Join(t.TempDir(), "dangling.hcl")
	if err := os.Symlink("/nonexistent/config.hcl", dangling); err != nil {
		t.Fatal(err)
	}
	loadErr(t, dangling, "is a symbolic link")
}

// A FIFO planted at the path must be refused at once, not block the open.
func TestLoadFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.hcl")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(path); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is a named pipe, not a regular file") {
			t.Errorf("Load(fifo) = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
}

func TestLoadDevice(t *testing.T) {
	loadErr(t, "/dev/null", "/dev/null: is a character device, not a regular file")
}

func TestLoadWritable(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		show string
	}{
		{0o664, "0664"},
		{0o620, "0620"},
		{0o646, "0646"},
		{0o602, "0602"},
		{0o666, "0666"},
		{0o777, "0777"},
	}
	for _, tt := range tests {
		t.Run(tt.show, func(t *testing.T) {
			path := writeConfig(t, "config.hcl", exampleConfig, tt.mode)
			loadErr(t, path, path+": writable by group or others (mode "+tt.show+"); run chmod go-w "+path)
		})
	}
}

func TestLoadOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		pamtest.Need(t, "giving a file to another uid needs root")
	}
	path := writeConfig(t, "config.hcl", exampleConfig, 0o644)
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	loadErr(t, path, path+": owned by uid 65534, not root; run chown root "+path)
}

func TestCheckFileOwner(t *testing.T) {
	tests := []struct {
		uid  uint32
		euid int
		ok   bool
	}{
		{0, 0, true},
		{0, 1000, true},
		{1000, 1000, true},
		{1000, 0, false},
		{1000, 1001, false},
		{65534, 0, false},
	}
	for _, tt := range tests {
		st := &syscall.Stat_t{Mode: syscall.S_IFREG | 0o600, Uid: tt.uid}
		err := checkFile("/c.hcl", st, tt.euid, configRole)
		if (err == nil) != tt.ok {
			t.Errorf("file uid %d, euid %d: checkFile = %v, want ok=%v", tt.uid, tt.euid, err, tt.ok)
		}
	}
}

func TestLoadSize(t *testing.T) {
	pad := func(n int) string {
		body := addr + "# "
		return body + strings.Repeat("x", n-len(body)-1) + "\n"
	}
	t.Run("exactly 64 KiB", func(t *testing.T) {
		path := writeConfig(t, "config.hcl", pad(maxFileSize), 0o600)
		if _, err := Load(path); err != nil {
			t.Fatalf("Load: %v", err)
		}
	})
	t.Run("64 KiB and a byte", func(t *testing.T) {
		path := writeConfig(t, "config.hcl", pad(maxFileSize+1), 0o600)
		loadErr(t, path, path+": larger than 65536 bytes")
	})
	t.Run("much larger", func(t *testing.T) {
		path := writeConfig(t, "config.hcl", pad(3*maxFileSize), 0o600)
		loadErr(t, path, "larger than")
	})
}

func TestLoadParseError(t *testing.T) {
	path := writeConfig(t, "config.hcl", addr+"vault_token = \"x\"\n", 0o600)
	e := loadErr(t, path, path+":2: unknown key \"vault_token\"")
	if e.Line != 2 {
		t.Errorf("Line = %d, want 2", e.Line)
	}
}

func TestCheckDir(t *testing.T) {
	tests := []struct {
		name string
		mode uint32
		uid  uint32
		euid int
		want string // "" for accepted
	}{
		{"root 0755", 0o755, 0, 0, ""},
		{"root 0700", 0o700, 0, 1000, ""},
		{"own 0755", 0o755, 1000, 1000, ""},
		{"root 1777 sticky", 0o1777, 0, 0, ""},
		{"root 0775", 0o775, 0, 0, "writable by group or others (mode 0775)"},
		{"root 0757", 0o757, 0, 0, "writable by group or others (mode 0757)"},
		{"root 2775 setgid", 0o2775, 0, 0, "writable by group or others (mode 2775)"},
		{"other owner", 0o755, 65534, 0, "owned by uid 65534, not root"},
		{"other owner sticky", 0o1777, 65534, 0, "owned by uid 65534, not root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &syscall.Stat_t{Mode: syscall.S_IFDIR | tt.mode, Uid: tt.uid}
			err := checkDir("/d/c.hcl", "/d", st, tt.euid)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("checkDir = %v, want accepted", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("checkDir = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestLoadDirectories checks the directories above real files: a
// group-writable parent is refused, a sticky one accepted, and a symbolic
// link to a directory is judged by the directory it names.
func TestLoadDirectories(t *testing.T) {
	mkdir := func(t *testing.T, mode os.FileMode) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "conf.d")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	place := func(t *testing.T, dir string) string {
		t.Helper()
		path := filepath.Join(dir, "config.hcl")
		if err := os.WriteFile(path, []byte(exampleConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("group-writable parent", func(t *testing.T) {
		dir := mkdir(t, 0o770)
		path := place(t, dir)
		loadErr(t, path, "its directory "+dir+" is writable by group or others (mode 0770)", "run chmod go-w "+dir)
	})
	t.Run("sticky world-writable parent", func(t *testing.T) {
		if _, err := Load(place(t, mkdir(t, os.ModeSticky|0o777))); err != nil {
			t.Fatalf("Load: %v", err)
		}
	})
	t.Run("symbolic link to a group-writable directory", func(t *testing.T) {
		dir := mkdir(t, 0o770)
		place(t, dir)
		link := filepath.Join(t.TempDir(), "link.d")
		if err := os.Symlink(dir, link); err != nil {
			t.Fatal(err)
		}
		loadErr(t, filepath.Join(link, "config.hcl"), "its directory "+dir+" is writable by group or others")
	})
	t.Run("parent owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			pamtest.Need(t, "giving a directory to another uid needs root")
		}
		dir := mkdir(t, 0o755)
		path := place(t, dir)
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		loadErr(t, path, "its directory "+dir+" is owned by uid 65534, not root", "run chown root "+dir)
	})
}

func TestLoadChecked(t *testing.T) {
	path := writeConfig(t, "config.hcl", `vault_addr = "http://127.0.0.1:8200"`+"\n", 0o600)
	if _, err := LoadChecked(path, true); err != nil {
		t.Fatalf("LoadChecked(http, dev): %v", err)
	}
	_, err := LoadChecked(path, false)
	var e *Error
	if !errors.As(err, &e) || e.Line != 1 {
		t.Fatalf("LoadChecked(http, not dev) = %v, want an *Error on line 1", err)
	}
	if _, err := LoadChecked(filepath.Join(t.TempDir(), "missing.hcl"), true); err == nil {
		t.Fatal("LoadChecked of a missing file succeeded")
	}
}
