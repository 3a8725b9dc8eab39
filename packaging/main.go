// Command packaging builds pam_vault's Debian and RPM packages from the
// objects `make` built, with nfpm as a library:
//
//	build/pam-vault_<version>_amd64.deb
//	build/pam-vault-<version>-1.x86_64.rpm
//
// `make package` runs it; the version comes from scripts/version.sh. Each
// package puts the module and its engine in its distribution's PAM module
// directory, pam-vault-check in /usr/sbin, the manual pages, README and an
// example config. Neither touches a file under /etc/pam.d: the .deb ships a
// pam-auth-update profile that is off until the administrator enables it,
// the .rpm the source of an SELinux policy module for sshd.
//
// It lives in a Go module of its own so that nfpm's dependencies stay out
// of pam_vault's go.mod.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the "rpm" packager
)

func main() {
	var o options
	flag.StringVar(&o.version, "version", "", "the version, from scripts/version.sh")
	flag.StringVar(&o.root, "root", "..", "the repository's top directory")
	flag.StringVar(&o.adapter, "adapter", "build/package/pam_vault.so",
		"the stripped adapter, relative to -root")
	flag.StringVar(&o.out, "out", "build", "where the packages go, relative to -root")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "packaging: unexpected argument %q\n", flag.Arg(0))
		os.Exit(64)
	}
	paths, err := o.build()
	if err != nil {
		fmt.Fprintf(os.Stderr, "packaging: %v\n", err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}

// options are the command line's settings.
type options struct {
	version, root, adapter, out string
}

// build writes both packages and returns their paths.
func (o options) build() ([]string, error) {
	if err := checkVersion(o.version); err != nil {
		return nil, err
	}
	src := sources{
		root:    o.root,
		adapter: filepath.Join(o.root, o.adapter),
		engine:  filepath.Join(o.root, "build", "pam_vault_go.so"),
		helper:  filepath.Join(o.root, "build", "pam-vault-check"),
	}
	libs, err := neededVersions(src.adapter, src.engine, src.helper)
	if err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp("", "pam_vault-package-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)

	var paths []string
	for _, d := range []distro{debian, redHat} {
		info, err := d.info(o.version, src, libs, staging)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.format, err)
		}
		path := filepath.Join(o.root, o.out, d.fileName(o.version))
		if err := write(d.format, info, path); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// write packs info in format into path, through a temporary file so that a
// failed build leaves no half package behind.
func write(format string, info *nfpm.Info, path string) error {
	packager, err := nfpm.Get(format)
	if err != nil {
		return err
	}
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".package-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := packager.Package(info, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
