package config

import (
	"net/url"
	"slices"
)

// CheckScheme enforces the transport rule: vault_addr must be https or a
// unix socket, unless dev is set (the dev module argument), which also
// allows plain http. The error is an *Error at the line of vault_addr.
func (c *Config) CheckScheme(dev bool) error {
	line := c.lines["vault_addr"]
	if len(c.VaultAddrs) == 0 {
		return errorf(c.Path, line, "vault_addr holds no address")
	}
	for _, addr := range c.VaultAddrs {
		u, err := url.Parse(addr)
		if err != nil {
			return &Error{Path: c.Path, Line: line, Msg: "vault_addr is not a valid URL", err: err}
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "unix":
			// A local socket: nothing crosses the network, and
			// CheckSocket holds it to the config file's rules.
		case u.Scheme == "http" && dev:
		case u.Scheme == "http":
			return errorf(c.Path, line, "vault_addr %q uses plain http; use an https:// address, or add the dev module argument to allow http", addr)
		default:
			return errorf(c.Path, line, "vault_addr %q is not an https:// address; use https (or http with the dev module argument)", addr)
		}
	}
	return nil
}

// RoleAllowed reports whether an OTP issued for role may log in. It is true
// when an entry of AllowedRoles equals role exactly, or when any entry is
// "*", which allows every role (even an empty one). With no entries, no role
// is allowed; an empty role matches only "*".
func (c *Config) RoleAllowed(role string) bool {
	if slices.Contains(c.AllowedRoles, "*") {
		return true
	}
	return role != "" && slices.Contains(c.AllowedRoles, role)
}

// SocketPath returns the path of the unix socket vault_addr names (a Vault
// Proxy listener), or "" when vault_addr is a list of http(s) addresses.
func (c *Config) SocketPath() string {
	if len(c.VaultAddrs) != 1 {
		return ""
	}
	u, err := url.Parse(c.VaultAddrs[0])
	if err != nil || u.Scheme != "unix" {
		return ""
	}
	return u.Path
}

// CheckTOTP reports whether the config can verify TOTP codes: Vault's TOTP
// engine answers only a request with a token, which comes from token_file
// (Vault Agent) or is added by the Vault Proxy that vault_addr's socket
// names. The error is an *Error for the file.
func (c *Config) CheckTOTP() error {
	if c.TokenFile == "" && c.SocketPath() == "" {
		return errorf(c.Path, 0, `the totp module argument needs a Vault token: set token_file to the file Vault Agent's file sink writes, or vault_addr to a Vault Proxy socket such as "unix:///run/vault-proxy/proxy.sock"`)
	}
	return nil
}
