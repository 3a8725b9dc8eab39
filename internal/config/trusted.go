package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// The CA files of ca_cert and ca_path decide which server is Vault, so they
// are held to the config file's rules: whoever could write one, or a
// directory above one, could make pam_vault trust their own server. Unlike
// the config file, a CA file may be a symbolic link, as update-ca-certificates
// and c_rehash make them; the links are followed by hand, and the directory
// of each link in the chain must pass the rules too.

// caRole is the role of a CA file, for checkFile's fixes.
var caRole = fileRole{
	setting: "ca_cert or ca_path",
	noun:    "a CA file",
	missing: "point ca_cert or ca_path at the CA certificates",
}

// maxLinkHops bounds the symbolic links followed to reach one file.
const maxLinkHops = 8

// ReadTrusted reads the file at path, an absolute path a config names, and
// returns at most limit bytes of it. It holds the file to the config file's
// rules (a regular file, owned by root or the effective user, not writable
// by group or others, in directories nobody else can write), following
// symbolic links only through directories that pass them too. The checks
// on the file are made on the open descriptor. Every error is an *Error.
func ReadTrusted(path string, limit int) ([]byte, error) {
	if !filepath.IsAbs(path) {
		return nil, errorf(path, 0, "not an absolute path")
	}
	euid := os.Geteuid()
	fd, final, err := openTrusted(path, euid)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), final)
	defer f.Close()

	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &Error{Path: final, Msg: fmt.Sprintf("cannot stat the open file: %v", err), err: err}
	}
	if kind := st.Mode & syscall.S_IFMT; kind != syscall.S_IFREG {
		return nil, errorf(final, 0, "is %s, not a regular file", fileKind(kind))
	}
	if err := checkFile(final, &st, euid, caRole); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, &Error{Path: final, Msg: fmt.Sprintf("cannot read the file: %v", err), err: err}
	}
	if len(b) > limit {
		return nil, errorf(final, 0, "larger than %d bytes", limit)
	}
	return b, nil
}

// openTrusted opens path read-only, without blocking, following symbolic
// links one at a time: the directories above path and above each link it
// leads to must pass checkDirs, since whoever could write one of them could
// point the link elsewhere. It returns the descriptor and the path of the
// file it opened.
func openTrusted(path string, euid int) (int, string, error) {
	cur := path
	for hops := 0; ; hops++ {
		if err := checkDirs(cur, euid); err != nil {
			return -1, cur, err
		}
		fd, err := openConfig(cur)
		if err == nil {
			return fd, cur, nil
		}
		if !errors.Is(err, syscall.ELOOP) || hops == maxLinkHops {
			return -1, cur, trustedOpenError(path, cur, err)
		}
		target, rerr := os.Readlink(cur)
		if rerr != nil {
			return -1, cur, trustedOpenError(path, cur, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(cur), target)
		}
		cur = target
	}
}

// trustedOpenError explains why openTrusted could not open cur, the file
// path leads to.
func trustedOpenError(path, cur string, err error) *Error {
	var msg string
	switch {
	case errors.Is(err, syscall.ENOENT):
		msg = "no such file"
	case errors.Is(err, syscall.ELOOP):
		msg = fmt.Sprintf("leads through more than %d symbolic links", maxLinkHops)
	case errors.Is(err, syscall.EACCES):
		msg = "permission denied; the file must be readable by root"
	default:
		msg = fmt.Sprintf("cannot open: %v", err)
	}
	if cur != path {
		msg += fmt.Sprintf(" (%s, where its symbolic links lead)", cur)
	}
	return &Error{Path: path, Msg: msg, err: err}
}

// OpenTrustedDir opens the directory dir, an absolute path a config names
// (ca_path), for listing. The directory, its symbolic links resolved, and
// every directory above it must be owned by root or the effective user and
// not writable by group or others (unless sticky), since whoever could
// write it could add a CA. Every error is an *Error.
func OpenTrustedDir(dir string) (*os.File, error) {
	if !filepath.IsAbs(dir) {
		return nil, errorf(dir, 0, "not an absolute path")
	}
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{Path: dir, Msg: "no such directory", err: err}
		}
		return nil, &Error{Path: dir, Msg: fmt.Sprintf("cannot resolve: %v", err), err: err}
	}
	f, err := os.OpenFile(resolved, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return nil, &Error{Path: dir, Msg: "not a directory; ca_path names a directory of CA files, ca_cert one file", err: err}
		}
		return nil, &Error{Path: dir, Msg: fmt.Sprintf("cannot open: %v", err), err: err}
	}
	if err := checkDirChain(dir, resolved, os.Geteuid()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
