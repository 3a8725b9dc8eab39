package config

import (
	"errors"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
)

// wrongType is the error for a value of key that hcl.DecodeObject could not
// decode as want.
func (d *decoder) wrongType(key, want string, val ast.Node, err error) *Error {
	e := d.errorf("%s must be %s, not %s", key, want, describe(val))
	e.err = err
	return e
}

// string decodes val as hcl.Decode decodes a string field: a quoted string,
// a heredoc, or a whole number (kept as written).
func (d *decoder) string(key string, val ast.Node) (string, error) {
	var s string
	if err := hcl.DecodeObject(&s, val); err != nil {
		return "", d.wrongType(key, "a string in double quotes", val, err)
	}
	return s, nil
}

// stringInto returns a setter that stores a string value, unchecked, in the
// field of Config that field returns.
func stringInto(field func(*Config) *string) setter {
	return func(d *decoder, key string, val ast.Node) error {
		s, err := d.string(key, val)
		if err != nil {
			return err
		}
		*field(d.cfg) = s
		return nil
	}
}

// MaxVaultAddrs bounds the addresses one vault_addr may list, and so the
// number of servers one verification may try.
const MaxVaultAddrs = 8

// setVaultAddr stores vault_addr: one address, or several separated by
// commas (tried in order when one cannot answer). Each is an http or https
// URL with a host and no user information; whether plain http is allowed is
// CheckScheme's call. A unix socket (unix:///path) must be the only address.
func setVaultAddr(d *decoder, key string, val ast.Node) error {
	s, err := d.string(key, val)
	if err != nil {
		return err
	}
	addrs := splitList(s)
	if len(addrs) == 0 {
		return d.errorf(`vault_addr is empty; set it to the Vault server's address, such as "https://vault.example.com:8200"`)
	}
	if len(addrs) > MaxVaultAddrs {
		return d.errorf("vault_addr lists %d addresses; at most %d are allowed", len(addrs), MaxVaultAddrs)
	}
	for _, a := range addrs {
		if err := d.checkVaultAddr(a); err != nil {
			return err
		}
		if u, _ := url.Parse(a); len(addrs) > 1 && u.Scheme == "unix" {
			return d.errorf("vault_addr lists the unix socket %q with other addresses; a Vault Proxy socket must be the only address", a)
		}
	}
	d.cfg.VaultAddr = s
	d.cfg.VaultAddrs = addrs
	return nil
}

// checkVaultAddr validates one address of vault_addr.
func (d *decoder) checkVaultAddr(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole address, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		e := d.errorf("vault_addr is not a valid URL: %v", err)
		e.err = err
		return e
	}
	if u.User != nil {
		return d.errorf("vault_addr must not hold a user name or password; remove the part before @")
	}
	if u.Scheme == "unix" {
		return d.checkSocketAddr(s, u)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return d.errorf(`vault_addr %q must start with https:// (or http:// with the dev module argument), as in "https://vault.example.com:8200"`, s)
	}
	if u.Hostname() == "" {
		return d.errorf("vault_addr %q has no host name", s)
	}
	return nil
}

// maxSocketPath is the longest path a unix socket address can hold: the
// 108 bytes of sockaddr_un.sun_path, less the terminating NUL.
const maxSocketPath = 107

// checkSocketAddr validates a unix:// address of vault_addr: the absolute,
// clean path of a socket, such as Vault Proxy's unix listener, with nothing
// else in the URL.
func (d *decoder) checkSocketAddr(s string, u *url.URL) error {
	const example = `"unix:///run/vault-proxy/proxy.sock"`
	switch {
	case u.Opaque != "" || u.Host != "":
		return d.errorf("vault_addr %q is not an absolute socket path; write unix:// and then the absolute path, as in %s", s, example)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return d.errorf("vault_addr %q holds a query or fragment; write unix:// and the socket's path only, as in %s", s, example)
	case u.Path == "" || !filepath.IsAbs(u.Path):
		return d.errorf("vault_addr %q names no absolute socket path; write unix:// and then the absolute path, as in %s", s, example)
	case filepath.Clean(u.Path) != u.Path:
		return d.errorf("vault_addr %q is not a clean path; write it as %q", s, "unix://"+filepath.Clean(u.Path))
	case strings.ContainsFunc(u.Path, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return d.errorf("vault_addr %q contains a control character", s)
	case len(u.Path) > maxSocketPath:
		return d.errorf("vault_addr's socket path is %d bytes long; a unix socket path holds at most %d", len(u.Path), maxSocketPath)
	}
	return nil
}

// setMountPoint stores a mount path (ssh_mount_point or totp_mount_point)
// without leading or trailing slashes. A request must reach exactly
// <mount>/verify or <mount>/code/<user>, so a segment that is empty, "." or
// "..", and a character that would end or escape the path (?, #, %), a space
// or a control character, are refused.
func setMountPoint(d *decoder, key string, val ast.Node) error {
	s, err := d.string(key, val)
	if err != nil {
		return err
	}
	example := map[string]string{"ssh_mount_point": "ssh", "totp_mount_point": "totp"}[key]
	mount := strings.Trim(s, "/")
	if mount == "" {
		return d.errorf(`%s %q is empty; set it to the mount path of the secrets engine, such as %q`, key, s, example)
	}
	for _, seg := range strings.Split(mount, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return d.errorf(`%s %q has an empty, "." or ".." segment; write the mount path as Vault shows it, such as "team/%s"`, key, s, example)
		}
	}
	if i := strings.IndexFunc(mount, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune("?#%", r)
	}); i >= 0 {
		return d.errorf("%s %q contains %q, which a mount path cannot hold", key, s, mount[i:i+1])
	}
	switch key {
	case "totp_mount_point":
		d.cfg.TOTPMountPoint = mount
	default:
		d.cfg.SSHMountPoint = mount
	}
	return nil
}

// setTokenFile stores token_file, which must be an absolute path: a relative
// one would be read from the authenticating process's working directory.
// Whether the file is safe to read is decided when it is read, on every
// login, since Vault Agent rewrites it.
func setTokenFile(d *decoder, key string, val ast.Node) error {
	s, err := d.string(key, val)
	if err != nil {
		return err
	}
	switch {
	case s == "":
		return d.errorf(`token_file is empty; set it to the absolute path of the file Vault Agent writes the token to, such as "/run/pam_vault/token"`)
	case !filepath.IsAbs(s):
		return d.errorf("token_file %q is not an absolute path; give the absolute path of the token file", s)
	case strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return d.errorf("token_file %q contains a control character", s)
	}
	d.cfg.TokenFile = filepath.Clean(s)
	return nil
}

// setCAPath stores ca_cert or ca_path, which must be an absolute path: a
// relative one would be opened from the working directory of the process
// that authenticates, which in su and sudo is the user's, who would so
// choose the CA that vouches for Vault. Empty means unset, as it did for
// vault-ssh-helper. Whether the file or directory is safe to read is
// decided when it is read.
func setCAPath(d *decoder, key string, val ast.Node) error {
	s, err := d.string(key, val)
	if err != nil {
		return err
	}
	example := map[string]string{"ca_cert": "/etc/vault-ssh-helper.d/vault-ca.pem", "ca_path": "/etc/vault-ssh-helper.d/ca"}[key]
	switch {
	case s == "":
		return nil
	case !filepath.IsAbs(s):
		return d.errorf("%s %q is not an absolute path, so the working directory of the process that authenticates would choose it; give the absolute path, such as %q", key, s, example)
	case strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return d.errorf("%s %q contains a control character", key, s)
	}
	if key == "ca_cert" {
		d.cfg.CACert = filepath.Clean(s)
	} else {
		d.cfg.CAPath = filepath.Clean(s)
	}
	return nil
}

// setNamespace stores namespace, which travels in an HTTP header and so
// cannot hold a control character such as a line break.
func setNamespace(d *decoder, key string, val ast.Node) error {
	s, err := d.string(key, val)
	if err != nil {
		return err
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
		return d.errorf("namespace %q contains the control character %q; write it on one line in double quotes", s, s[i:i+1])
	}
	d.cfg.Namespace = s
	return nil
}

// setSkipVerify stores tls_skip_verify, a bare true or false.
func setSkipVerify(d *decoder, key string, val ast.Node) error {
	var b bool
	if err := hcl.DecodeObject(&b, val); err != nil {
		return d.wrongType(key, "true or false without quotes", val, err)
	}
	d.cfg.TLSSkipVerify = b
	return nil
}

// splitList splits a comma-separated string into its entries, trimmed of
// spaces, dropping empty ones.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// setCIDRList stores allowed_cidr_list, a comma-separated string of CIDR
// blocks such as "10.0.0.0/8, 192.168.1.0/24".
func setCIDRList(d *decoder, key string, val ast.Node) error {
	s, err := d.string(key, val)
	if err != nil {
		return err
	}
	var prefixes []netip.Prefix
	for _, e := range splitList(s) {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			if ip, ipErr := netip.ParseAddr(e); ipErr == nil {
				return d.errorf("allowed_cidr_list entry %q is an address, not a CIDR block; write %s/%d to allow that one address",
					e, e, ip.BitLen())
			}
			ce := d.errorf("allowed_cidr_list entry %q is not a CIDR block such as 10.0.0.0/8", e)
			ce.err = err
			return ce
		}
		prefixes = append(prefixes, p.Masked())
	}
	d.cfg.AllowedCIDRs = prefixes
	return nil
}

// setRoles stores allowed_roles, a comma-separated string of role names or
// "*". Empty means no role is allowed.
func setRoles(d *decoder, key string, val ast.Node) error {
	s, err := d.string(key, val)
	if err != nil {
		return err
	}
	d.cfg.AllowedRoles = splitList(s)
	return nil
}

// setTimeout stores pam_vault's timeout: a whole number of seconds (bare or
// quoted) or a Go duration string such as "1500ms", above 0 and at most
// MaxTimeout.
func setTimeout(d *decoder, key string, val ast.Node) error {
	const want = `a whole number of seconds or a duration in quotes such as "1500ms"`
	if _, ok := val.(*ast.LiteralType); !ok {
		return d.wrongType(key, want, val, nil)
	}
	var v any
	if err := hcl.DecodeObject(&v, val); err != nil {
		e := d.errorf("timeout is out of range; the most allowed is %s", MaxTimeout)
		e.err = err
		return e
	}
	var t time.Duration
	switch v := v.(type) {
	case int:
		if v <= 0 || time.Duration(v) > MaxTimeout/time.Second {
			return d.errorf("timeout %d must be more than 0 and at most %d seconds", v, MaxTimeout/time.Second)
		}
		t = time.Duration(v) * time.Second
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			if n <= 0 || time.Duration(n) > MaxTimeout/time.Second {
				return d.errorf("timeout %q must be more than 0 and at most %d seconds", v, MaxTimeout/time.Second)
			}
			t = time.Duration(n) * time.Second
			break
		}
		var err error
		if t, err = time.ParseDuration(v); err != nil {
			e := d.errorf("timeout %q is not %s", v, want)
			e.err = err
			return e
		}
		if t <= 0 || t > MaxTimeout {
			return d.errorf("timeout %q must be more than 0 and at most %s", v, MaxTimeout)
		}
	default:
		return d.wrongType(key, want, val, nil)
	}
	d.cfg.Timeout = t
	return nil
}
