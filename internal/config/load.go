package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// maxFileSize is the largest config file Load reads. Real files are a few
// hundred bytes. Parsing costs about 0.1 to 0.2 ms per KiB even for a flat
// file (measured: a 1 MiB comment 115 ms, a 1 MiB string 220 ms; see
// BenchmarkParse), and every login parses the file, so the bound is 64 KiB:
// room for any config and its comments, and a few milliseconds at worst.
const maxFileSize = 64 << 10

// Load reads and parses the config file at path. It refuses, with an *Error
// that says how to fix it, a file that is missing, is a symbolic link, is not
// a regular file, is owned by anyone but root or the effective user, is
// writable by group or others, or is larger than 64 KiB. The checks are made on
// the open descriptor, so the file cannot be swapped between check and read.
// Every directory above the file must pass the same ownership and write
// rule (a sticky directory such as /tmp excepted), since whoever can write
// one of them can put another file in the config's place.
func Load(path string) (*Config, error) {
	fd, err := openConfig(path)
	if err != nil {
		return nil, openError(path, err, configRole)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()

	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("cannot stat the open file: %v", err), err: err}
	}
	if err := checkFile(path, &st, os.Geteuid(), configRole); err != nil {
		return nil, err
	}
	if err := checkDirs(path, os.Geteuid()); err != nil {
		return nil, err
	}
	src, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("cannot read the file: %v", err), err: err}
	}
	if len(src) > maxFileSize {
		return nil, errorf(path, 0, "larger than %d bytes; this is not a pam_vault config file", maxFileSize)
	}
	return Parse(path, src)
}

// LoadChecked is Load followed by CheckScheme(dev): the config as a
// verification may use it.
func LoadChecked(path string, dev bool) (*Config, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckScheme(dev); err != nil {
		return nil, err
	}
	return cfg, nil
}

// openConfig opens path read-only without following a symbolic link in its
// last component. O_NONBLOCK keeps a FIFO planted at path from blocking the
// open; fstat then rejects it.
func openConfig(path string) (int, error) {
	const flags = syscall.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC |
		syscall.O_NONBLOCK | syscall.O_NOCTTY
	for {
		fd, err := syscall.Open(path, flags, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// fileRole says which setting names a file that pam_vault opens with
// openConfig, for the fixes its errors suggest.
type fileRole struct {
	setting string // what points at the file, as the operator writes it
	noun    string // what the file is
	missing string // the fix for a missing file
}

// configRole is the config file's role.
var configRole = fileRole{
	setting: "the config= module argument",
	noun:    "the config file",
	missing: "create it, or point the config= module argument at the right file",
}

// openError explains why openConfig failed for the file of role.
func openError(path string, err error, role fileRole) *Error {
	var msg string
	switch {
	case errors.Is(err, syscall.ENOENT):
		msg = "no such file; " + role.missing
	case errors.Is(err, syscall.ELOOP):
		msg = "cannot open: too many levels of symbolic links"
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			msg = "is a symbolic link, which pam_vault does not follow; point " + role.setting + " at the file itself"
		}
	case errors.Is(err, syscall.EACCES):
		msg = "permission denied; the file must be readable by root"
	default:
		msg = fmt.Sprintf("cannot open: %v", err)
	}
	return &Error{Path: path, Msg: msg, err: err}
}

// checkFile applies sshd's StrictModes rule to the open file of role: a
// regular file, owned by root or by euid, not writable by group or others.
func checkFile(path string, st *syscall.Stat_t, euid int, role fileRole) *Error {
	if kind := st.Mode & syscall.S_IFMT; kind != syscall.S_IFREG {
		return errorf(path, 0, "is %s, not a regular file; point %s at %s", fileKind(kind), role.setting, role.noun)
	}
	if st.Uid != 0 && int64(st.Uid) != int64(euid) {
		return errorf(path, 0, "owned by uid %d, not root; run chown root %s", st.Uid, path)
	}
	if perm := st.Mode & 0o7777; perm&0o022 != 0 {
		return errorf(path, 0, "writable by group or others (mode %04o); run chmod go-w %s", perm, path)
	}
	return nil
}

// checkDirs applies checkFile's owner and write rule to each directory
// from the file's parent, symbolic links resolved, up to the root. A
// directory writable by group or others passes only with the sticky bit,
// which keeps others from renaming or removing root's files in it.
func checkDirs(path string, euid int) *Error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return &Error{Path: path, Msg: fmt.Sprintf("cannot find its directory: %v", err), err: err}
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return &Error{Path: path, Msg: fmt.Sprintf("cannot resolve its directory: %v", err), err: err}
	}
	return checkDirChain(path, dir, euid)
}

// checkDirChain applies checkDir to dir, which has no symbolic links, and
// every directory above it.
func checkDirChain(path, dir string, euid int) *Error {
	for {
		var st syscall.Stat_t
		if err := syscall.Lstat(dir, &st); err != nil {
			return &Error{Path: path, Msg: fmt.Sprintf("cannot stat its directory %s: %v", dir, err), err: err}
		}
		if err := checkDir(path, dir, &st, euid); err != nil {
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// checkDir is checkDirs' rule for the one directory dir above path.
func checkDir(path, dir string, st *syscall.Stat_t, euid int) *Error {
	if st.Uid != 0 && int64(st.Uid) != int64(euid) {
		return errorf(path, 0, "its directory %s is owned by uid %d, not root, who could replace the file; run chown root %s", dir, st.Uid, dir)
	}
	if perm := st.Mode & 0o7777; perm&0o022 != 0 && perm&syscall.S_ISVTX == 0 {
		return errorf(path, 0, "its directory %s is writable by group or others (mode %04o), who could replace the file; run chmod go-w %s", dir, perm, dir)
	}
	return nil
}

// fileKind names a file type from the S_IFMT bits of a mode.
func fileKind(kind uint32) string {
	switch kind {
	case syscall.S_IFREG:
		return "a regular file"
	case syscall.S_IFDIR:
		return "a directory"
	case syscall.S_IFIFO:
		return "a named pipe"
	case syscall.S_IFSOCK:
		return "a socket"
	case syscall.S_IFCHR:
		return "a character device"
	case syscall.S_IFBLK:
		return "a block device"
	case syscall.S_IFLNK:
		return "a symbolic link"
	}
	return fmt.Sprintf("a file of type %#o", kind)
}
