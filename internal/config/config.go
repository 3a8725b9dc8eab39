// Package config reads pam_vault's configuration: the config.hcl file that
// vault-ssh-helper uses, unchanged, and the arguments given to the module on
// its line in a PAM service file.
package config

import (
	"fmt"
	"net/netip"
	"time"
)

// DefaultPath is the config file read when no config= argument is given.
const DefaultPath = "/etc/vault-ssh-helper.d/config.hcl"

// DefaultTimeout bounds one verification when the file sets no timeout.
const DefaultTimeout = 5 * time.Second

// MaxTimeout is the largest timeout a file may set. The PAM adapter's hard
// deadline for the helper process is derived from it.
const MaxTimeout = 30 * time.Second

// Config is the content of one config file.
type Config struct {
	// Path is the file the configuration was read from.
	Path string
	// VaultAddr is vault_addr as written: the address of the Vault server,
	// or several separated by commas.
	VaultAddr string
	// VaultAddrs are the addresses of VaultAddr, in the order to try them.
	VaultAddrs []string
	// SSHMountPoint is the mount path of the SSH secrets engine, without
	// surrounding slashes (ssh_mount_point, default "ssh").
	SSHMountPoint string
	// Namespace is the Vault namespace sent with every request; empty for none.
	Namespace string
	// CACert is a PEM file of CA certificates (ca_cert); it wins over CAPath.
	CACert string
	// CAPath is a directory of PEM files of CA certificates (ca_path).
	CAPath string
	// TLSSkipVerify disables verification of the server certificate.
	TLSSkipVerify bool
	// TLSServerName is the name expected in the server certificate, when it
	// differs from the host of VaultAddr.
	TLSServerName string
	// AllowedCIDRs are the networks an OTP's IP may lie in when it is not an
	// address of this host (allowed_cidr_list).
	AllowedCIDRs []netip.Prefix
	// AllowedRoles are the roles whose OTPs are accepted (allowed_roles);
	// the single entry "*" accepts any role, and none accepts no role.
	AllowedRoles []string
	// Timeout bounds one whole verification (timeout, default DefaultTimeout).
	Timeout time.Duration
	// TOTPMountPoint is the mount path of the TOTP secrets engine that the
	// totp module argument verifies codes against, without surrounding
	// slashes (totp_mount_point, default "totp"). pam_vault only.
	TOTPMountPoint string
	// TokenFile is the absolute path of a file holding the Vault token used
	// to verify TOTP codes, such as a Vault Agent file sink (token_file).
	// Empty when the token comes from a Vault Proxy that adds its own.
	// pam_vault only.
	TokenFile string

	// lines maps each key set in the file to the line it was set on, so
	// later checks (CheckScheme) can point at the line to fix.
	lines map[string]int
}

// Where returns "path:line" for the line of the config file that sets key,
// or the path alone when the file does not set it: where to look when a
// value that parsed cannot be used.
func (c *Config) Where(key string) string {
	if line, ok := c.lines[key]; ok {
		return fmt.Sprintf("%s:%d", c.Path, line)
	}
	return c.Path
}
