package config

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// MaxTokenFile bounds what ReadTokenFile reads. A Vault token is about a
// hundred bytes; a batch token with many policies a few hundred.
const MaxTokenFile = 8 << 10

// tokenRole is token_file's role.
var tokenRole = fileRole{
	setting: "token_file",
	noun:    "the token file",
	missing: "start Vault Agent, or point token_file at the file its file sink writes",
}

// ReadTokenFile reads the Vault token from path, the token_file of a
// config. It holds the file to Load's rules (a regular file, not a
// symbolic link, owned by root or the effective user, not writable by group
// or others, in directories nobody else can write), adds secrecy (not
// readable by others), and requires one line of token: surrounding white
// space is dropped, and anything else but printable ASCII is refused. The
// checks are made on the open descriptor. Every error is an *Error for path
// that never holds the file's content.
//
// The token is read on every call, because Vault Agent replaces the file
// whenever it renews or re-authenticates.
func ReadTokenFile(path string) (string, error) {
	fd, err := openConfig(path)
	if err != nil {
		return "", openError(path, err, tokenRole)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()

	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return "", &Error{Path: path, Msg: fmt.Sprintf("cannot stat the open file: %v", err), err: err}
	}
	if err := checkFile(path, &st, os.Geteuid(), tokenRole); err != nil {
		return "", err
	}
	if perm := st.Mode & 0o7777; perm&0o004 != 0 {
		return "", errorf(path, 0, "readable by others (mode %04o), who could verify codes as pam_vault; run chmod o-r %s, or set mode = 0600 in Vault Agent's file sink", perm, path)
	}
	if err := checkDirs(path, os.Geteuid()); err != nil {
		return "", err
	}
	buf, err := io.ReadAll(io.LimitReader(f, MaxTokenFile+1))
	if err != nil {
		return "", &Error{Path: path, Msg: fmt.Sprintf("cannot read the file: %v", err), err: err}
	}
	if len(buf) > MaxTokenFile {
		return "", errorf(path, 0, "larger than %d bytes; this is not a file of one Vault token", MaxTokenFile)
	}
	token := strings.TrimSpace(string(buf))
	switch {
	case token == "":
		return "", errorf(path, 0, "empty; Vault Agent has not written a token yet, or token_file names the wrong file")
	case strings.ContainsAny(token, "\r\n"):
		return "", errorf(path, 0, "holds more than one line; it must hold the token alone, as Vault Agent's file sink writes it (no wrap_ttl or dh_type)")
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return "", errorf(path, 0, "holds characters no Vault token has (white space, control or non-ASCII); it must hold the token alone")
	}
	return token, nil
}
