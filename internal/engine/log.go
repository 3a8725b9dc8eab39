package engine

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// record gathers what the log line of one attempt says.
type record struct {
	user, rhost, role, vault string
	warnings                 []string
	debug                    bool
	start                    time.Time
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
	// The caller's fields come first, each cut to its bound; the reason
	// gets the rest of the line, which the bounds keep at 300 bytes or
	// more, and is cut only when it needs more than that.
	b.WriteString("; user=" + fit(r.user, maxUserField, false))
	b.WriteString(" rhost=" + fit(r.rhost, maxHostField, false))
	if r.role != "" {
		b.WriteString(" role=" + fit(r.role, maxRoleField, false))
	}
	var tail strings.Builder
	if len(r.warnings) > 0 {
		tail.WriteString(" ignored=" + fit(strings.Join(r.warnings, "; "), maxIgnoredField, true))
	}
	if r.vault != "" {
		tail.WriteString(" vault=" + fit(r.vault, maxVaultField, false))
	}
	if r.debug && !r.start.IsZero() {
		tail.WriteString(" elapsed=" + time.Since(r.start).Round(time.Microsecond).String())
	}
	if err != nil {
		const key = " reason="
		b.WriteString(key + fit(err.Error(), MaxLog-b.Len()-tail.Len()-len(key), true))
	}
	b.WriteString(tail.String())
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

// The most bytes each caller-supplied field of a log line may take as
// written, quotes and escapes included. A PAM user name, a remote host name
// and a role name are far shorter; together with the summary and elapsed=
// they leave the reason at least 300 of the line's MaxLog bytes.
const (
	maxUserField    = 128
	maxHostField    = 128
	maxRoleField    = 64
	maxIgnoredField = 160
	maxVaultField   = 160
)

// fit writes s as field does (quoted always when quote is set), cut so that
// what it writes takes at most max bytes. A value cut short is quoted and
// ends, inside the quotes, with "…(N bytes)", N the length of the whole
// value, so that a reader sees it was cut.
func fit(s string, max int, quote bool) string {
	w := field(s)
	if quote {
		w = strconv.Quote(s)
	}
	if len(w) <= max {
		return w
	}
	mark := strconv.Quote("…(" + strconv.Itoa(len(s)) + " bytes)")
	room := max - len(mark) // the quotes of mark stand for those of the whole
	var out strings.Builder
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		q := strconv.Quote(s[i : i+size])
		if out.Len()+len(q)-2 > room {
			break
		}
		out.WriteString(q[1 : len(q)-1])
		i += size
	}
	return `"` + out.String() + mark[1:]
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
