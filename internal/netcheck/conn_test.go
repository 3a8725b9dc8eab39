package netcheck

import (
	"net/netip"
	"strings"
	"testing"
)

// TestParseSSHConnection checks the reading of sshd's SSH_CONNECTION value,
// "client_ip client_port local_ip local_port".
func TestParseSSHConnection(t *testing.T) {
	tests := []struct {
		in   string
		want string // the local address; "" for an error
		err  string
	}{
		{"203.0.113.9 50022 10.200.1.2 22", "10.200.1.2", ""},
		{"fd00:200::1 41000 fd00:200::2 2222", "fd00:200::2", ""},
		{"::ffff:203.0.113.9 50022 ::ffff:10.200.1.2 22", "10.200.1.2", ""},
		{"fe80::1%eth0 50022 fe80::2%eth0 22", "fe80::2", ""},
		{"127.0.0.1 1 127.0.0.1 65535", "127.0.0.1", ""},
		{"", "", "empty"},
		{"10.0.0.1 5000 10.0.0.2", "", "3 fields"},
		{"10.0.0.1 5000 10.0.0.2 22 x", "", "5 fields"},
		{"10.0.0.1  5000 10.0.0.2 22", "", "fields"},
		{" 10.0.0.1 5000 10.0.0.2 22", "", "fields"},
		{"10.0.0.1\t5000\t10.0.0.2\t22", "", "fields"},
		{"UNKNOWN 65535 UNKNOWN 65535", "", "client address"},
		{"10.0.0.1 5000 UNKNOWN 22", "", "local address"},
		{"10.0.0.1 5000 10.0.0.0/8 22", "", "local address"},
		{"10.0.0.1 5000 10.0.0.2 0", "", "local port"},
		{"10.0.0.1 5000 10.0.0.2 65536", "", "local port"},
		{"10.0.0.1 +22 10.0.0.2 22", "", "client port"},
		{"10.0.0.1 0x16 10.0.0.2 22", "", "client port"},
		{"10.0.0.1 5000 10.0.0.2 22\n", "", "local port"},
	}
	for _, tt := range tests {
		got, err := ParseSSHConnection(tt.in)
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSSHConnection(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != netip.MustParseAddr(tt.want) {
			t.Errorf("ParseSSHConnection(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// TestAllowedVia checks the host rule for a login over a connection sshd
// described: only the address the client reached counts as this host's,
// and only if this host holds it; allowed_cidr_list works as before.
func TestAllowedVia(t *testing.T) {
	local := addrs("127.0.0.1", "::1", "10.200.1.2", "172.17.0.1")
	conn := netip.MustParseAddr("10.200.1.2")
	tests := []struct {
		name  string
		ip    string
		conn  netip.Addr
		cidrs []netip.Prefix
		want  bool
		why   string
	}{
		{"the address reached", "10.200.1.2", conn, nil, true, "10.200.1.2 is the address this login's connection reached"},
		{"mapped form of the address reached", "::ffff:10.200.1.2", conn, nil, true, "reached"},
		{"loopback, held but not reached", "127.0.0.1", conn, nil, false, "127.0.0.1 is an address of this host but not 10.200.1.2, the one this login's connection reached (SSH_CONNECTION)"},
		{"IPv6 loopback, held but not reached", "::1", conn, nil, false, "not 10.200.1.2"},
		{"docker bridge, held but not reached", "172.17.0.1", conn, nil, false, "not 10.200.1.2"},
		{"another host", "192.0.2.7", conn, nil, false, "192.0.2.7 is not 10.200.1.2"},
		{"loopback inside allowed_cidr_list", "127.0.0.1", conn, prefixes("127.0.0.0/8"), true, "inside allowed_cidr_list entry 127.0.0.0/8"},
		{"reached address not held", "192.0.2.7", netip.MustParseAddr("192.0.2.7"), nil, false,
			"192.0.2.7 is the address SSH_CONNECTION names, but no interface of this host holds it"},
		{"reached address not held, in allowed_cidr_list", "192.0.2.7", netip.MustParseAddr("192.0.2.7"), prefixes("192.0.2.0/24"), true, "inside"},
		{"reached address given mapped", "10.200.1.2", netip.MustParseAddr("::ffff:10.200.1.2"), nil, true, "reached"},
		{"no connection: today's rule", "127.0.0.1", netip.Addr{}, nil, true, "127.0.0.1 is an address of this host"},
		{"no connection: docker bridge", "172.17.0.1", netip.Addr{}, nil, true, "address of this host"},
		{"invalid ip", "", conn, prefixes("0.0.0.0/0"), false, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, _ := netip.ParseAddr(tt.ip)
			got, why := AllowedVia(ip, tt.conn, local, tt.cidrs)
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("AllowedVia(%v, %v) = %v (%s), want %v (%s)", ip, tt.conn, got, why, tt.want, tt.why)
			}
		})
	}
}
