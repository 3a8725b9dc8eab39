package netcheck

import (
	"net/netip"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestAllowed(t *testing.T) {
	local := addrs("127.0.0.1", "::1", "192.0.2.2", "fd00::2", "fe80::fc:ff:fe00:1")
	tests := []struct {
		name  string
		ip    netip.Addr
		cidrs []netip.Prefix
		want  bool
		why   string
	}{
		{"v4 exact", netip.MustParseAddr("127.0.0.1"), nil, true, "127.0.0.1 is an address of this host"},
		{"v6 exact", netip.MustParseAddr("::1"), nil, true, "::1 is an address of this host"},
		{"v4 interface exact", netip.MustParseAddr("192.0.2.2"), nil, true, "192.0.2.2 is an address of this host"},
		{"v6 interface exact", netip.MustParseAddr("fd00::2"), nil, true, "fd00::2 is an address of this host"},
		{"v4 same subnet refused", netip.MustParseAddr("192.0.2.7"), nil, false,
			"192.0.2.7 is neither an address of this host nor in allowed_cidr_list"},
		{"v4 loopback subnet refused", netip.MustParseAddr("127.0.0.2"), nil, false, "neither"},
		{"v6 same subnet refused", netip.MustParseAddr("fd00::3"), nil, false, "neither"},
		{"v4 mapped exact", netip.MustParseAddr("::ffff:127.0.0.1"), nil, true, "127.0.0.1 is an address of this host"},
		{"v4 mapped same subnet refused", netip.MustParseAddr("::ffff:192.0.2.7"), nil, false, "192.0.2.7 is neither"},
		{"v6 link-local with zone", netip.MustParseAddr("fe80::fc:ff:fe00:1%eth0"), nil, true,
			"fe80::fc:ff:fe00:1 is an address of this host"},
		{"v6 link-local other zone neighbour refused", netip.MustParseAddr("fe80::fc:ff:fe00:2%eth0"), nil, false, "neither"},
		{"invalid", netip.Addr{}, prefixes("0.0.0.0/0", "::/0"), false, "invalid"},
		{"cidr inside", netip.MustParseAddr("10.1.2.3"), prefixes("10.0.0.0/8"), true,
			"10.1.2.3 is inside allowed_cidr_list entry 10.0.0.0/8"},
		{"cidr network address", netip.MustParseAddr("10.0.0.0"), prefixes("10.0.0.0/8"), true, "inside"},
		{"cidr broadcast", netip.MustParseAddr("10.255.255.255"), prefixes("10.0.0.0/8"), true, "inside"},
		{"cidr just outside", netip.MustParseAddr("11.0.0.0"), prefixes("10.0.0.0/8"), false, "neither"},
		{"cidr just below", netip.MustParseAddr("9.255.255.255"), prefixes("10.0.0.0/8"), false, "neither"},
		{"cidr v4 /0", netip.MustParseAddr("203.0.113.9"), prefixes("0.0.0.0/0"), true, "entry 0.0.0.0/0"},
		{"cidr v4 /32 equal", netip.MustParseAddr("203.0.113.9"), prefixes("203.0.113.9/32"), true, "inside"},
		{"cidr v4 /32 neighbour", netip.MustParseAddr("203.0.113.10"), prefixes("203.0.113.9/32"), false, "neither"},
		{"cidr v6 /128 equal", netip.MustParseAddr("2001:db8::9"), prefixes("2001:db8::9/128"), true, "inside"},
		{"cidr v6 /128 neighbour", netip.MustParseAddr("2001:db8::a"), prefixes("2001:db8::9/128"), false, "neither"},
		{"cidr v6 /0", netip.MustParseAddr("2001:db8::a"), prefixes("::/0"), true, "entry ::/0"},
		{"cidr v6 inside", netip.MustParseAddr("2001:db8:1::1"), prefixes("2001:db8::/32"), true, "inside"},
		{"cidr unmasked entry", netip.MustParseAddr("10.9.9.9"), prefixes("10.1.2.3/8"), true, "entry 10.1.2.3/8"},
		{"cidr second entry", netip.MustParseAddr("172.16.0.1"), prefixes("10.0.0.0/8", "172.16.0.0/12"), true,
			"entry 172.16.0.0/12"},
		{"v4 never in v6 /0", netip.MustParseAddr("10.0.0.1"), prefixes("::/0"), false, "neither"},
		{"v6 never in v4 /0", netip.MustParseAddr("2001:db8::1"), prefixes("0.0.0.0/0"), false, "neither"},
		{"v4 not in ::ffff:0:0/96 ", netip.MustParseAddr("10.0.0.1"), prefixes("::/8"), false, "neither"},
		{"mapped ip in v4 cidr", netip.MustParseAddr("::ffff:10.0.0.1"), prefixes("10.0.0.0/8"), true,
			"10.0.0.1 is inside allowed_cidr_list entry 10.0.0.0/8"},
		{"v4 ip in mapped cidr", netip.MustParseAddr("10.0.0.1"), prefixes("::ffff:10.0.0.0/104"), true,
			"entry ::ffff:10.0.0.0/104"},
		{"v4 ip outside mapped cidr", netip.MustParseAddr("11.0.0.1"), prefixes("::ffff:10.0.0.0/104"), false, "neither"},
		{"v4 ip in mapped /96", netip.MustParseAddr("198.51.100.1"), prefixes("::ffff:0:0/96"), true, "inside"},
		{"mapped ip in mapped cidr", netip.MustParseAddr("::ffff:10.0.0.1"), prefixes("::ffff:10.0.0.0/104"), true, "inside"},
		{"invalid prefix ignored", netip.MustParseAddr("10.0.0.1"), []netip.Prefix{{}}, false, "neither"},
		{"local wins over cidr", netip.MustParseAddr("127.0.0.1"), prefixes("127.0.0.0/8"), true, "address of this host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := Allowed(tt.ip, local, tt.cidrs)
			if got != tt.want {
				t.Errorf("Allowed(%v) = %v (%s), want %v", tt.ip, got, why, tt.want)
			}
			if !strings.Contains(why, tt.why) {
				t.Errorf("Allowed(%v) reason %q, want it to contain %q", tt.ip, why, tt.why)
			}
		})
	}
}

func TestAllowedNormalizesLocal(t *testing.T) {
	local := addrs("::ffff:10.0.0.1", "fe80::1%eth0")
	for _, s := range []string{"10.0.0.1", "::ffff:10.0.0.1", "fe80::1", "fe80::1%eth1"} {
		if ok, why := Allowed(netip.MustParseAddr(s), local, nil); !ok {
			t.Errorf("Allowed(%s) = false (%s), want true", s, why)
		}
	}
	if ok, _ := Allowed(netip.MustParseAddr("10.0.0.1"), []netip.Addr{{}}, nil); ok {
		t.Error("an invalid local address matched")
	}
}

func TestParseIP(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"127.0.0.1", "127.0.0.1", ""},
		{"::1", "::1", ""},
		{"2001:db8::1", "2001:db8::1", ""},
		{"::ffff:10.0.0.1", "10.0.0.1", ""},
		{"::FFFF:10.0.0.1", "10.0.0.1", ""},
		{"fe80::1", "fe80::1", ""},
		{"", "", "empty"},
		{"fe80::1%eth0", "", "zone"},
		{"::ffff:10.0.0.1%eth0", "", "zone"},
		{" 127.0.0.1", "", "parse"},
		{"127.0.0.1 ", "", "parse"},
		{"127.0.0.1\n", "", "parse"},
		{"127.0.0.01", "", "parse"},
		{"127.0.0", "", "parse"},
		{"256.0.0.1", "", "parse"},
		{"10.0.0.0/8", "", "parse"},
		{"localhost", "", "parse"},
		{"[::1]", "", "parse"},
		{"1.2.3.4:22", "", "parse"},
		{"0x7f.0.0.1", "", "parse"},
		{strings.Repeat("1", 500), "", "500 bytes"},
	}
	for _, tt := range tests {
		got, err := ParseIP(tt.in)
		if tt.wantErr != "" {
			if err == nil {
				t.Errorf("ParseIP(%q) = %v, want error", tt.in, got)
			} else if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseIP(%q) error %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIP(%q) error: %v", tt.in, err)
			continue
		}
		if got.String() != tt.want || got.Is4In6() || got.Zone() != "" {
			t.Errorf("ParseIP(%q) = %v, want %s", tt.in, got, tt.want)
		}
	}
}

func TestLocalAddrs(t *testing.T) {
	local, err := LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	has := func(a netip.Addr) bool {
		for _, l := range local {
			if l == a {
				return true
			}
		}
		return false
	}
	seen := map[netip.Addr]bool{}
	for _, l := range local {
		if !l.IsValid() || l.Is4In6() || l.Zone() != "" {
			t.Errorf("LocalAddrs returned %v: want valid, unmapped, without zone", l)
		}
		if seen[l] {
			t.Errorf("LocalAddrs returned %v twice", l)
		}
		seen[l] = true
	}
	if !has(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("LocalAddrs() = %v, want it to include 127.0.0.1", local)
	}
	if hostHasIPv6Loopback(t) && !has(netip.IPv6Loopback()) {
		t.Errorf("LocalAddrs() = %v, want it to include ::1", local)
	}
}
