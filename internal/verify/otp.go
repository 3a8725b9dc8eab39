// Package verify decides whether a token typed at a PAM prompt is a Vault SSH
// one-time password issued for this user, this host and an allowed role.
//
// It talks to Vault with its own HTTP client built from the configuration
// file alone: no environment variable of the calling process (VAULT_*,
// HTTP_PROXY, SSL_CERT_FILE, …) changes where it connects or what it trusts,
// because the module runs inside su, sudo and sshd, whose environment belongs
// to whoever is trying to log in.
package verify

// IsOTP reports whether s has the shape of a Vault SSH OTP: a UUID written as
// 36 characters, hex digits of either case with hyphens at offsets 8, 13, 18
// and 23. Only a token of this shape is ever sent to Vault or named in a log.
func IsOTP(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
