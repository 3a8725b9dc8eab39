package netcheck

import (
	"net/netip"
	"strings"
	"testing"
)

func FuzzParseIP(f *testing.F) {
	for _, s := range []string{
		"", "127.0.0.1", "::1", "::ffff:10.0.0.1", "fe80::1%eth0", "1.2.3.4 ",
		"10.0.0.0/8", "2001:db8::1", "::", "0.0.0.0", "1::ffff:1.2.3.4", "%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, err := ParseIP(s)
		if err != nil {
			if ip.IsValid() {
				t.Fatalf("ParseIP(%q) returned %v with error %v", s, ip, err)
			}
			return
		}
		if !ip.IsValid() || ip.Is4In6() || ip.Zone() != "" {
			t.Fatalf("ParseIP(%q) = %v: want valid, unmapped, without zone", s, ip)
		}
		if strings.Contains(s, "%") {
			t.Fatalf("ParseIP(%q) accepted a zone", s)
		}
		want, err := netip.ParseAddr(s)
		if err != nil || want.Unmap() != ip {
			t.Fatalf("ParseIP(%q) = %v, netip.ParseAddr gives %v, %v", s, ip, want, err)
		}
	})
}

func FuzzAllowed(f *testing.F) {
	seeds := [][3]string{
		{"127.0.0.1", "127.0.0.1", ""},
		{"127.0.0.2", "127.0.0.1", "10.0.0.0/8"},
		{"::ffff:10.0.0.1", "::1", "10.0.0.0/8"},
		{"10.0.0.1", "::1", "::ffff:10.0.0.0/104"},
		{"10.0.0.1", "::1", "::/0"},
		{"fe80::1%eth0", "fe80::1", "fe80::/10"},
		{"2001:db8::1", "2001:db8::2", "2001:db8::1/128"},
		{"bogus", "also bogus", "not/a/prefix"},
		{"192.0.2.7", "192.0.2.2", "0.0.0.0/0"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, ipS, localS, cidrS string) {
		ip, _ := netip.ParseAddr(ipS) // the zero Addr when invalid
		local, _ := netip.ParseAddr(localS)
		cidr, _ := netip.ParsePrefix(cidrS)
		ok, why := Allowed(ip, []netip.Addr{local}, []netip.Prefix{cidr})
		if why == "" {
			t.Fatal("Allowed gave no reason")
		}
		// Whatever SSH_CONNECTION says, it never widens today's rule: the
		// connection's address counts only if it is one of the host's.
		for _, conn := range []netip.Addr{ip, local, ip.Unmap(), {}} {
			if via, vwhy := AllowedVia(ip, conn, []netip.Addr{local}, []netip.Prefix{cidr}); via && !ok {
				t.Fatalf("AllowedVia(%v, %v) allowed (%s) what Allowed refused (%s)", ip, conn, vwhy, why)
			} else if vwhy == "" {
				t.Fatal("AllowedVia gave no reason")
			}
		}
		if !ok {
			return
		}
		if !ip.IsValid() {
			t.Fatalf("invalid ip %q matched: %s", ipS, why)
		}
		u := ip.Unmap().WithZone("")
		if local.IsValid() && local.Unmap().WithZone("") == u {
			return
		}
		if cidr.IsValid() && inPrefix(u, cidr) {
			return
		}
		t.Fatalf("Allowed(%v, [%v], [%v]) matched (%s) but ip is in neither", ip, local, cidr, why)
	})
}

// inPrefix is the fuzz oracle: u (unmapped) is in p as written, or in p
// through its IPv4-mapped form.
func inPrefix(u netip.Addr, p netip.Prefix) bool {
	if p.Contains(u) {
		return true
	}
	return u.Is4() && p.Bits() >= 96 && p.Contains(netip.AddrFrom16(u.As16()))
}
