package netcheck

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseSSHConnection parses the value OpenSSH's sshd (8.0 and later) puts
// in the PAM environment as SSH_CONNECTION before authentication starts,
// "client_ip client_port local_ip local_port", and returns local_ip: the
// address of this host the client connected to, unmapped and without a
// zone. Anything but four fields separated by single spaces, two addresses
// and two ports from 1 to 65535, is an error that says what is wrong; sshd
// writes "UNKNOWN" for the addresses of a connection that is not a socket,
// which is an error too.
func ParseSSHConnection(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errors.New("SSH_CONNECTION is empty")
	}
	f := strings.Split(s, " ")
	if len(f) != 4 {
		return netip.Addr{}, fmt.Errorf("SSH_CONNECTION %s has %d fields separated by spaces, not 4", quote(s), len(f))
	}
	for _, p := range []struct{ name, v string }{{"client port", f[1]}, {"local port", f[3]}} {
		if n, err := strconv.ParseUint(p.v, 10, 16); err != nil || n == 0 || p.v[0] == '0' {
			return netip.Addr{}, fmt.Errorf("SSH_CONNECTION's %s %s is not a port number", p.name, quote(p.v))
		}
	}
	if _, err := netip.ParseAddr(f[0]); err != nil {
		return netip.Addr{}, fmt.Errorf("SSH_CONNECTION's client address %s is not an IP address", quote(f[0]))
	}
	local, err := netip.ParseAddr(f[2])
	if err != nil {
		return netip.Addr{}, fmt.Errorf("SSH_CONNECTION's local address %s is not an IP address", quote(f[2]))
	}
	return normalize(local), nil
}

// AllowedVia is the host rule for a login over a connection whose local
// address is conn (from SSH_CONNECTION): ip counts as this host's only when
// it equals conn and local (the host's addresses) holds conn, so that an
// address every host has (127.0.0.1, ::1, a container bridge's) does not
// make an OTP good on every host. allowed_cidr_list applies as in Allowed.
// Since conn must be one of local, no value of it allows what Allowed
// refuses. With conn the zero Addr (no SSH_CONNECTION: su, sudo, login),
// AllowedVia is Allowed.
func AllowedVia(ip, conn netip.Addr, local []netip.Addr, cidrs []netip.Prefix) (bool, string) {
	if !conn.IsValid() {
		return Allowed(ip, local, cidrs)
	}
	conn = normalize(conn)
	held := false
	for _, l := range local {
		held = held || (l.IsValid() && normalize(l) == conn)
	}
	var host []netip.Addr
	if held {
		host = []netip.Addr{conn}
	}
	ok, why := Allowed(ip, host, cidrs)
	if !ip.IsValid() {
		return ok, why
	}
	ip = normalize(ip)
	switch {
	case ok && ip == conn && held:
		return true, fmt.Sprintf("%s is the address this login's connection reached (SSH_CONNECTION), and this host holds it", ip)
	case ok:
		return true, why
	case ip == conn:
		return false, fmt.Sprintf("%s is the address SSH_CONNECTION names, but no interface of this host holds it, and it is not in allowed_cidr_list", ip)
	}
	if ok, _ := Allowed(ip, local, nil); ok {
		return false, fmt.Sprintf("%s is an address of this host but not %s, the one this login's connection reached (SSH_CONNECTION), and it is not in allowed_cidr_list", ip, conn)
	}
	return false, fmt.Sprintf("%s is not %s, the address this login's connection reached (SSH_CONNECTION), nor in allowed_cidr_list", ip, conn)
}
