package config

import (
	"net/url"
	"slices"
)

// CheckScheme enforces the transport rule: vault_addr must be https, unless
// dev is set (the dev module argument), which also allows plain http. The
// error is an *Error at the line of vault_addr.
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
