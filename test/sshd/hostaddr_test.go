package sshd

import (
	"net"
	"strings"
	"testing"
)

// Ports of the two sshd servers inside the host's network namespace, which
// has nothing else listening.
const (
	hostPort    = 2222
	hostNATPort = 2223
)

// TestHostAddress checks the OTP's IP against real interface addresses:
// sshd runs in its own network namespace, reached over a veth pair from the
// root namespace. An OTP issued for the host's address logs in; one issued
// for another address (the client side's, which is local to the root
// namespace but not to the host) is refused; the same address inside
// allowed_cidr_list (a host behind NAT) logs in. One issued for loopback,
// which the host holds as every host does, is refused: the connection
// reached the veth address, and sshd says so in SSH_CONNECTION. IPv4 and
// IPv6, both clients.
func TestHostAddress(t *testing.T) {
	e := setup(t)
	topo := newTopology(t)
	vaultHostPort := strings.TrimPrefix(e.vault.Addr, "http://")
	for _, fam := range []struct {
		name               string
		rootAddr, hostAddr string
		bits               string
		loopback           string
	}{
		{"IPv4", topo.rootV4, topo.hostV4, "/32", "127.0.0.1"},
		{"IPv6", topo.rootV6, topo.hostV6, "/128", "::1"},
	} {
		t.Run(fam.name, func(t *testing.T) {
			// Vault reached over this family too, at the root side's address.
			fwd := startForwarder(t, net.JoinHostPort(fam.rootAddr, "0"), vaultHostPort)
			vaultAddr := "http://" + fwd.addr()
			start := func(port int, extra ...string) *server {
				return e.startServer(t, serverOptions{
					netns:      topo.ns,
					listen:     []string{fam.hostAddr},
					port:       port,
					config:     configText(vaultAddr, extra...),
					moduleArgs: []string{"debug"},
				})
			}
			host := start(hostPort)
			nat := start(hostNATPort, `allowed_cidr_list = "`+fam.rootAddr+fam.bits+`"`)
			for _, tc := range []struct {
				name  string
				s     *server
				otpIP string
				ok    bool
				log   []string
			}{
				{"OTP for the host's address", host, fam.hostAddr, true,
					[]string{"accepted Vault OTP", "rhost=" + fam.rootAddr}},
				{"OTP for another address", host, fam.rootAddr, false,
					[]string{"OTP was issued for another host", fam.rootAddr + " is not " + fam.hostAddr + ", the address this login's connection reached (SSH_CONNECTION), nor in allowed_cidr_list"}},
				{"another address inside allowed_cidr_list", nat, fam.rootAddr, true,
					[]string{"accepted Vault OTP", "rhost=" + fam.rootAddr}},
				// The namespace's loopback holds it too, as every host's
				// does; the connection reached the veth address, which
				// sshd names in SSH_CONNECTION.
				{"OTP for the loopback address", host, fam.loopback, false,
					[]string{"OTP was issued for another host", fam.loopback + " is an address of this host but not " + fam.hostAddr}},
			} {
				for _, c := range clients {
					t.Run(tc.name+"/"+c.name, func(t *testing.T) {
						otp := e.otp(t, testUserName, tc.otpIP)
						tc.s.expectLogin(t, c, fam.hostAddr, loginCase{tc.name, otp, tc.ok, tc.log})
					})
				}
			}
		})
	}
}
