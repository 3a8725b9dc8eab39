package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// SBINDIRMarker precedes, inside pam_vault.so, the directory compiled into
// the adapter as the second place to look for the helper (cgo/pam_vault.c).
// Reading it from the file needs no exported symbol: the adapter exports
// only the pam_sm_* functions.
const SBINDIRMarker = "pam_vault.sbindir="

// The installed files the adapter uses, beside itself.
const (
	EngineFile = "pam_vault_go.so"
	HelperFile = "pam-vault-check"
)

// FileInfo is what the checks need to know of one installed file.
type FileInfo struct {
	Path string
	// Err is why the file could not be examined (fs.ErrNotExist when it
	// is missing); nil when it exists.
	Err  error
	UID  uint32
	Mode fs.FileMode
}

// statFile examines path, following symbolic links as dlopen and exec do.
func statFile(path string) FileInfo {
	fi := FileInfo{Path: path}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		fi.Err = &fs.PathError{Op: "stat", Path: path, Err: err}
		return fi
	}
	fi.UID = st.Uid
	fi.Mode = fs.FileMode(st.Mode & 0o777)
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		fi.Mode |= fs.ModeDir
	case syscall.S_IFREG:
	default:
		fi.Mode |= fs.ModeIrregular
	}
	if st.Mode&syscall.S_ISVTX != 0 {
		fi.Mode |= fs.ModeSticky
	}
	return fi
}

// unsafe says who besides root could change the file, "" if nobody: a
// file that root does not own, or that group or others may write, lets
// them run code in every process that authenticates. A sticky directory
// is allowed to be writable by all, as /tmp is.
func (f FileInfo) unsafe() string {
	switch {
	case f.UID != 0:
		return fmt.Sprintf("owned by uid %d, not root", f.UID)
	case f.Mode&0o022 != 0 && !(f.Mode.IsDir() && f.Mode&fs.ModeSticky != 0):
		return fmt.Sprintf("writable by group or others (mode %04o)", f.Mode.Perm())
	}
	return ""
}

// Install is the pam_vault installation one PAM line loads.
type Install struct {
	// Adapter is pam_vault.so as libpam finds it; Dir its directory.
	Adapter, Dir FileInfo
	// Engine is pam_vault_go.so beside it.
	Engine FileInfo
	// HelperBeside is pam-vault-check beside the adapter, the first place
	// the adapter looks; HelperBesideRuns whether the adapter would run
	// it (it exists and may be executed).
	HelperBeside     FileInfo
	HelperBesideRuns bool
	// SBINDIR is the directory compiled into the adapter, "" when the
	// adapter holds no marker (an older build, or not pam_vault's).
	SBINDIR string
	// HelperSBINDIR is pam-vault-check in SBINDIR.
	HelperSBINDIR FileInfo
}

// readInstall examines the installation around the adapter at path.
func readInstall(path string) Install {
	dir := filepath.Dir(path)
	in := Install{
		Adapter:      statFile(path),
		Dir:          statFile(dir),
		Engine:       statFile(filepath.Join(dir, EngineFile)),
		HelperBeside: statFile(filepath.Join(dir, HelperFile)),
	}
	in.HelperBesideRuns = in.HelperBeside.Err == nil && syscall.Access(in.HelperBeside.Path, 1 /* X_OK */) == nil
	if in.Adapter.Err == nil {
		if b, err := os.ReadFile(path); err == nil {
			in.SBINDIR, _ = AdapterSBINDIR(b)
		}
	}
	if in.SBINDIR != "" {
		in.HelperSBINDIR = statFile(filepath.Join(in.SBINDIR, HelperFile))
	}
	return in
}

// AdapterSBINDIR returns the helper directory compiled into the adapter
// whose bytes are object, and whether the marker was found.
func AdapterSBINDIR(object []byte) (string, bool) {
	i := bytes.Index(object, []byte(SBINDIRMarker))
	if i < 0 {
		return "", false
	}
	rest := object[i+len(SBINDIRMarker):]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return "", false
	}
	return string(rest[:end]), true
}

// ModuleDirs are where distributions keep PAM modules, in the order the
// Makefile's PAMDIR guess tries them: the directory holding pam_unix.so is
// libpam's default module directory.
var ModuleDirs = []string{
	"/usr/lib/*/security", "/usr/lib64/security", "/lib/*/security", "/lib64/security", "/lib/security",
}

// maxConfigFile bounds the configuration files the doctor reads; real ones
// are a few kilobytes.
const maxConfigFile = 1 << 20

// readConfigFile reads a PAM or sshd configuration file, refusing anything
// but a regular file of at most maxConfigFile bytes, so that an include of
// /dev/zero or a FIFO cannot hang the doctor.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigFile {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d bytes", maxConfigFile)}
	}
	return b, nil
}

// DefaultModuleDir is the directory libpam loads modules named without a
// path from, found as the Makefile finds PAMDIR.
func DefaultModuleDir() string {
	for _, pattern := range ModuleDirs {
		matches, _ := filepath.Glob(filepath.Join(pattern, "pam_unix.so"))
		if len(matches) > 0 {
			return filepath.Dir(matches[0])
		}
	}
	return "/lib/security"
}

// modulePath is where libpam loads module from: as written when absolute,
// else in moduleDir.
func modulePath(moduleDir, module string) string {
	if filepath.IsAbs(module) {
		return module
	}
	return filepath.Join(moduleDir, module)
}
