package verify

// IsKeyName reports whether name can name a key of Vault's TOTP secrets
// engine, whose key paths accept \w(([\w-.@]+)?\w)? only: ASCII letters,
// digits and underscores, with '-', '.' and '@' allowed inside but not at
// either end. The key of a user is named after the user, so a user name
// outside this rule is refused before any request: Vault has no key for it,
// and characters such as '/' or '?' would make the request ask for another
// path.
func IsKeyName(name string) bool {
	if name == "" {
		return false
	}
	last := len(name) - 1
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isWordChar(c):
		case (c == '-' || c == '.' || c == '@') && i != 0 && i != last:
		default:
			return false
		}
	}
	return true
}

// isWordChar reports whether c is in Go's regexp class \w.
func isWordChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}
