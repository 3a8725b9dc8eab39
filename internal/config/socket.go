package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// CheckSocket holds the unix socket at path, a Vault Proxy listener named
// by vault_addr, to the config file's rules: a socket, not a symbolic link,
// owned by root or the effective user, not writable by group or others
// (connecting to a socket needs write permission, and whoever connects
// speaks to Vault with the proxy's token), in directories nobody else can
// write. The error is an *Error for path; for a socket that does not exist
// it wraps fs.ErrNotExist, which a caller may leave to the connection to
// report, since Vault Proxy makes the socket when it starts.
func CheckSocket(path string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &Error{Path: path, Msg: "no such socket; is Vault Proxy running with this listener?", err: err}
		}
		return &Error{Path: path, Msg: fmt.Sprintf("cannot stat the socket: %v", err), err: err}
	}
	if kind := st.Mode & syscall.S_IFMT; kind != syscall.S_IFSOCK {
		return errorf(path, 0, "is %s, not a socket; point vault_addr at Vault Proxy's unix listener", fileKind(kind))
	}
	if st.Uid != 0 && int64(st.Uid) != int64(os.Geteuid()) {
		return errorf(path, 0, "owned by uid %d, not root; run Vault Proxy as root, or set socket_user in its listener", st.Uid)
	}
	if perm := st.Mode & 0o7777; perm&0o022 != 0 {
		return errorf(path, 0, `writable by group or others (mode %04o), who could speak to Vault with Vault Proxy's token; set socket_mode = "0600" with socket_user and socket_group in its listener`, perm)
	}
	if err := checkDirs(path, os.Geteuid()); err != nil {
		return err
	}
	return nil
}
