package engine

import (
	"strconv"
	"strings"
)

// record gathers what the log line of one attempt says.
type record struct {
	user, rhost, role, vault string
	warnings                 []string
	debug                    bool
	totp                     bool // TOTP mode: the token is a code
}

// verdict builds the verdict of result with err as its reason.
func (r *record) verdict(result Result, err error) Verdict {
	var b strings.Builder
	switch {
	case result == Success && r.totp:
		b.WriteString("accepted Vault TOTP code")
	case result == Success:
		b.WriteString("accepted Vault OTP")
	case result == AuthErr:
		b.WriteString("authentication failure")
	case result == Unavailable:
		b.WriteString("Vault unavailable")
	case result == Ignore:
		b.WriteString("ignored (nullok)")
	default:
		b.WriteString("configuration error")
	}
	b.WriteString("; user=" + field(r.user))
	b.WriteString(" rhost=" + field(r.rhost))
	if r.role != "" {
		b.WriteString(" role=" + field(r.role))
	}
	if err != nil {
		b.WriteString(" reason=" + strconv.Quote(err.Error()))
	}
	if len(r.warnings) > 0 {
		b.WriteString(" ignored=" + strconv.Quote(strings.Join(r.warnings, "; ")))
	}
	if r.vault != "" {
		b.WriteString(" vault=" + field(r.vault))
	}
	v := Verdict{Result: result, Log: b.String()}
	switch {
	case result == Unavailable && r.totp:
		v.Message = unavailableCodeMessage
	case result == Unavailable:
		v.Message = unavailableMessage
	}
	return v
}

// Failure is the PAM_SERVICE_ERR verdict for a fault outside Decide, such as
// a helper request that could not be read, with err as its reason and the
// log line every verdict has.
func Failure(err error) Verdict {
	return (&record{}).verdict(ServiceErr, err)
}

// field writes a value as is when it is plain, and quoted when it holds
// anything that could confuse a reader of the log or forge a field: spaces,
// quotes, control characters, non-ASCII.
func field(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=' || c == ';' {
			return strconv.Quote(s)
		}
	}
	return s
}
