package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
)

// Package fields both formats share.
const (
	name       = "pam-vault"
	maintainer = "pam_vault developers <pam-vault@example.org>"
	summary    = "PAM module verifying HashiCorp Vault SSH one-time passwords"
	// description is the extended description, paragraphs separated by
	// a blank line; the .deb's control file gets them dpkg's way.
	description = `pam_vault lets sshd, su, sudo or login accept the one-time passwords that
HashiCorp Vault's SSH secrets engine issues for OTP roles, checked inside
PAM. It reads vault-ssh-helper's config.hcl unchanged and replaces its
pam_exec line. pam-vault-check checks a configuration and tries an OTP with
the same engine.

Installing the package changes no PAM configuration: add pam_vault to a
service's stack by hand, or on Debian enable the pam-auth-update profile
"pam-vault".`
)

// sources are the built objects a package carries, and the repository the
// rest comes from.
type sources struct {
	root, adapter, engine, helper string
}

// distro is what differs between the Debian and the RPM package: paths,
// package names of the libraries, scripts.
type distro struct {
	format string // nfpm's packager name
	arch   string
	// release is the package revision: none for the .deb, whose version
	// is the upstream one as it is (a native package); "1" for the .rpm.
	release string
	// moduleDir is where the distribution keeps pam_unix.so.
	moduleDir string
	// objectMode is the mode of the two shared objects: Debian's PAM
	// modules are 0644, RHEL's 0755.
	objectMode os.FileMode
	// libPackage names the package that provides each shared library the
	// objects link against.
	libPackage map[string]string
	// relation formats a dependency on a package at a minimum version.
	relation func(pkg, version string) string
	// extra are dependencies beyond the libraries'.
	extra []string
	// compressDocs gzips README, as Debian policy asks of documents
	// over 4 kB; RPM leaves documentation as it is.
	compressDocs bool
	// contents lists the distribution's own files: the pam-auth-update
	// profile, the SELinux policy source, copyright and changelog.
	contents func(src sources, version string, mtime time.Time, staging string) (files.Contents, error)
	scripts  nfpm.Scripts
	// describe turns the summary and description into the package's
	// Description field.
	describe func(summary, description string) string
	license  string
}

var debian = distro{
	format:     "deb",
	arch:       "amd64",
	moduleDir:  "/usr/lib/x86_64-linux-gnu/security",
	objectMode: 0o644,
	libPackage: map[string]string{"libc.so.6": "libc6", "libpam.so.0": "libpam0g"},
	relation:   func(pkg, version string) string { return fmt.Sprintf("%s (>= %s)", pkg, version) },
	// pam-auth-update, which the maintainer scripts run, came in this
	// version of libpam-runtime.
	extra:        []string{"libpam-runtime (>= 1.0.1-6)"},
	compressDocs: true,
	contents:     debianContents,
	scripts: nfpm.Scripts{
		PostInstall: "debian/postinst",
		PreRemove:   "debian/prerm",
		PostRemove:  "debian/postrm",
	},
	// The synopsis is the first line; an empty line between paragraphs
	// is written " ." in a control file.
	describe: func(summary, description string) string {
		return summary + "\n" + strings.ReplaceAll(description, "\n\n", "\n.\n")
	},
	license: "see /usr/share/doc/pam-vault/copyright",
}

var redHat = distro{
	format:     "rpm",
	arch:       "amd64", // nfpm writes x86_64
	release:    "1",
	moduleDir:  "/usr/lib64/security",
	objectMode: 0o755,
	libPackage: map[string]string{"libc.so.6": "glibc", "libpam.so.0": "pam"},
	relation:   func(pkg, version string) string { return fmt.Sprintf("%s >= %s", pkg, version) },
	contents:   redHatContents,
	// The summary has a tag of its own.
	describe: func(_, description string) string { return description },
	license:  "see /usr/share/licenses/pam-vault/copyright",
}

// fileName is the package's file name for version.
func (d distro) fileName(version string) string {
	if d.format == "deb" {
		return fmt.Sprintf("%s_%s_%s.deb", name, version, d.arch)
	}
	return fmt.Sprintf("%s-%s-%s.x86_64.rpm", name, version, d.release)
}

// info describes the package for nfpm. Generated files (compressed manual
// pages, the changelog) are written under staging.
func (d distro) info(version string, src sources, libs map[string]string, staging string) (*nfpm.Info, error) {
	staging = filepath.Join(staging, d.format)
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, err
	}
	mtime, err := buildTime()
	if err != nil {
		return nil, err
	}
	var depends []string
	for _, lib := range sortedKeys(libs) {
		pkg, ok := d.libPackage[lib]
		if !ok {
			return nil, fmt.Errorf("the objects link against %s, and no package is known to provide it", lib)
		}
		depends = append(depends, d.relation(pkg, libs[lib]))
	}
	depends = append(depends, d.extra...)

	docDir := "/usr/share/doc/" + name
	contents := files.Contents{
		file(src.adapter, d.moduleDir+"/pam_vault.so", d.objectMode, ""),
		file(src.engine, d.moduleDir+"/pam_vault_go.so", d.objectMode, ""),
		file(src.helper, "/usr/sbin/pam-vault-check", 0o755, ""),
		file(filepath.Join(src.root, "packaging", "config.hcl"), docDir+"/examples/config.hcl", 0o644, docType(d)),
	}
	for _, page := range []string{"pam_vault.8", "pam-vault-check.8"} {
		gz := filepath.Join(staging, page+".gz")
		if err := gzipFile(filepath.Join(src.root, "doc", page), gz, mtime); err != nil {
			return nil, err
		}
		contents = append(contents, file(gz, "/usr/share/man/man8/"+page+".gz", 0o644, ""))
	}
	readme := filepath.Join(src.root, "README.md")
	if d.compressDocs {
		gz := filepath.Join(staging, "README.md.gz")
		if err := gzipFile(readme, gz, mtime); err != nil {
			return nil, err
		}
		contents = append(contents, file(gz, docDir+"/README.md.gz", 0o644, ""))
	} else {
		contents = append(contents, file(readme, docDir+"/README.md", 0o644, docType(d)))
	}
	own, err := d.contents(src, version, mtime, staging)
	if err != nil {
		return nil, err
	}
	contents = append(contents, own...)

	scripts := d.scripts
	for _, s := range []*string{&scripts.PostInstall, &scripts.PreRemove, &scripts.PostRemove} {
		if *s != "" {
			*s = filepath.Join(src.root, "packaging", *s)
		}
	}

	info := &nfpm.Info{
		Name:          name,
		Arch:          d.arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none", // the version is already what dpkg and rpm want
		Release:       d.release,
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    maintainer,
		Description:   d.describe(summary, description),
		License:       d.license,
		MTime:         mtime,
		Overridables: nfpm.Overridables{
			Depends:  depends,
			Contents: contents,
			Scripts:  scripts,
			RPM: nfpm.RPM{
				Summary: summary,
				Group:   "System Environment/Base",
			},
		},
	}
	return nfpm.WithDefaults(info), nil
}

// debianContents are the .deb's own files: the pam-auth-update profile,
// lintian's overrides, copyright and changelog where lintian looks for
// them.
func debianContents(src sources, version string, mtime time.Time, staging string) (files.Contents, error) {
	changelog := filepath.Join(staging, "changelog.gz")
	text := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n"+
		"  * Built from pam_vault's source, version %s.\n\n"+
		" -- %s  %s\n", name, version, version, maintainer, mtime.UTC().Format(time.RFC1123Z))
	if err := gzipBytes([]byte(text), changelog, mtime); err != nil {
		return nil, err
	}
	p := filepath.Join(src.root, "packaging")
	return files.Contents{
		file(filepath.Join(p, "debian", "pam-vault"), "/usr/share/pam-configs/pam-vault", 0o644, ""),
		file(filepath.Join(p, "debian", "lintian-overrides"), "/usr/share/lintian/overrides/pam-vault", 0o644, ""),
		file(filepath.Join(p, "copyright"), "/usr/share/doc/pam-vault/copyright", 0o644, ""),
		file(changelog, "/usr/share/doc/pam-vault/changelog.gz", 0o644, ""),
	}, nil
}

// redHatContents are the .rpm's own files: the SELinux policy module
// source beside the documentation, the copyright as its licence file, and
// the directories only this package uses, so that removing it removes them
// (a .deb lists every directory anyway; dpkg removes those left empty).
func redHatContents(src sources, _ string, _ time.Time, _ string) (files.Contents, error) {
	p := filepath.Join(src.root, "packaging")
	return files.Contents{
		dir("/usr/share/doc/pam-vault"),
		dir("/usr/share/doc/pam-vault/examples"),
		dir("/usr/share/doc/pam-vault/selinux"),
		dir("/usr/share/licenses/pam-vault"),
		file(filepath.Join(p, "selinux", "pam_vault.te"), "/usr/share/doc/pam-vault/selinux/pam_vault.te", 0o644, files.TypeRPMDoc),
		file(filepath.Join(p, "copyright"), "/usr/share/licenses/pam-vault/copyright", 0o644, files.TypeRPMLicense),
	}, nil
}

// docType marks documentation as such in an RPM (%doc); Debian has no such
// mark.
func docType(d distro) string {
	if d.format == "rpm" {
		return files.TypeRPMDoc
	}
	return ""
}

// dir is a directory of a package, owned by root, mode 0755.
func dir(dst string) *files.Content {
	return &files.Content{
		Destination: dst,
		Type:        files.TypeDir,
		FileInfo:    &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o755},
	}
}

// file is one regular file of a package, owned by root.
func file(src, dst string, mode os.FileMode, typ string) *files.Content {
	return &files.Content{
		Source:      src,
		Destination: dst,
		Type:        typ,
		FileInfo:    &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode},
	}
}

// versionRE is what both dpkg and rpm accept as a version here: a digit
// first, then letters, digits, '.', '+' and '~'. No '-' (the Debian
// revision's separator, and not allowed in an RPM version) and no ':'
// (an epoch).
var versionRE = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// checkVersion refuses a version either format would reject or misread.
func checkVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("version %q is not a valid package version: it must start with a digit "+
			"and hold only letters, digits, '.', '+' and '~' (scripts/version.sh maps git describe's output)", v)
	}
	return nil
}
