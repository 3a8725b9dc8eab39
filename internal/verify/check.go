package verify

import (
	"fmt"
	"net/netip"

	"pam_vault/internal/config"
	"pam_vault/internal/netcheck"
)

// Check applies the host's rules to what Vault said about a valid OTP, in the
// order vault-ssh-helper applies them: the OTP's username must equal user
// exactly; its IP must equal an address in local exactly or lie inside an
// allowed_cidr_list entry; its role must be allowed. conn is the local
// address of the connection the login came over, from SSH_CONNECTION, or
// the zero Addr when there is none; when valid, only it counts as this
// host's address, and only if local holds it (netcheck.AllowedVia). local
// lists the host's addresses; it is called only once the cheaper checks
// have passed. The error wraps ErrRejected ("OTP rejected: …"), or
// ErrUnavailable when Vault's IP is not an address at all or local fails.
func Check(cfg *config.Config, a Answer, user string, conn netip.Addr, local func() ([]netip.Addr, error)) error {
	if a.Username != user {
		return fmt.Errorf("OTP %w: OTP was issued for user %q", ErrRejected, a.Username)
	}
	ip, err := netcheck.ParseIP(a.IP)
	if err != nil {
		return fmt.Errorf("%w: Vault answered an OTP ip that is not an address: %w", ErrUnavailable, err)
	}
	addrs, err := local()
	if err != nil {
		return fmt.Errorf("%w: listing this host's addresses: %w", ErrUnavailable, err)
	}
	if ok, why := netcheck.AllowedVia(ip, conn, addrs, cfg.AllowedCIDRs); !ok {
		return fmt.Errorf("OTP %w: OTP was issued for another host: %s", ErrRejected, why)
	}
	if !cfg.RoleAllowed(a.Role) {
		return fmt.Errorf("OTP %w: role %q is not in allowed_roles", ErrRejected, a.Role)
	}
	return nil
}
