// Package netcheck decides whether an IP address returned by Vault belongs to
// this host, or to a network the operator allowed.
//
// An address matches only when it equals one address of a local interface
// exactly, or lies inside an entry of allowed_cidr_list. Being in the same
// subnet as an interface is never enough: accepting that was
// CVE-2020-24359 in vault-ssh-helper.
package netcheck

import (
	"errors"
	"fmt"
	"net/netip"
)

// maxQuoted bounds how much of a rejected input an error message repeats.
const maxQuoted = 64

// ParseIP parses the ip string of a Vault verify answer. It trims nothing and
// rejects the empty string, addresses with a zone, and anything
// netip.ParseAddr rejects. An IPv4-mapped IPv6 address is returned as IPv4.
func ParseIP(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errors.New("parse IP address: empty")
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("parse IP address %s: %w", quote(s), err)
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("parse IP address %s: zones are not accepted", quote(s))
	}
	return ip.Unmap(), nil
}

// Allowed reports whether ip equals one of the local addresses exactly, or
// lies inside one of cidrs, and explains the decision in words for a log
// line. ip and the local addresses are compared unmapped and without zones,
// so ::ffff:10.0.0.1 is compared as 10.0.0.1. A prefix written as IPv4-mapped
// IPv6 (::ffff:10.0.0.0/104) is compared as its IPv4 equivalent; otherwise an
// IPv4 address never matches an IPv6 prefix and vice versa. Invalid addresses
// and prefixes never match.
func Allowed(ip netip.Addr, local []netip.Addr, cidrs []netip.Prefix) (bool, string) {
	if !ip.IsValid() {
		return false, "an invalid IP address is never allowed"
	}
	ip = normalize(ip)
	for _, l := range local {
		if l.IsValid() && normalize(l) == ip {
			return true, fmt.Sprintf("%s is an address of this host", ip)
		}
	}
	for _, p := range cidrs {
		if np, ok := normalizePrefix(p); ok && np.Contains(ip) {
			return true, fmt.Sprintf("%s is inside allowed_cidr_list entry %s", ip, p)
		}
	}
	return false, fmt.Sprintf("%s is neither an address of this host nor in allowed_cidr_list", ip)
}

// normalize returns a without an IPv4-in-IPv6 mapping and without a zone.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// normalizePrefix returns p masked, with an IPv4-mapped IPv6 prefix of at
// least 96 bits rewritten as the IPv4 prefix it covers. ok is false for an
// invalid prefix.
func normalizePrefix(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() {
		return netip.Prefix{}, false
	}
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		v4, err := a.Unmap().Prefix(p.Bits() - 96)
		if err != nil {
			return netip.Prefix{}, false
		}
		return v4, true
	}
	return p.Masked(), true
}

// quote quotes s for an error message, cut to maxQuoted bytes.
func quote(s string) string {
	if len(s) > maxQuoted {
		return fmt.Sprintf("%q (%d bytes)", s[:maxQuoted], len(s))
	}
	return fmt.Sprintf("%q", s)
}
