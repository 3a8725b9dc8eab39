package netcheck

import (
	"fmt"
	"net"
	"net/netip"
)

// LocalAddrs returns every address held by every local interface, IPv4 and
// IPv6, including loopback and interfaces that are down but still hold
// addresses. Addresses are unmapped, carry no zone and appear once each, in
// the order net.InterfaceAddrs reports them.
func LocalAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list local interface addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	seen := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		default:
			continue
		}
		na, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		na = normalize(na)
		if !seen[na] {
			seen[na] = true
			out = append(out, na)
		}
	}
	return out, nil
}

// ReadLocalAddrs starts reading LocalAddrs in the background and returns a
// function that waits for the result. A caller that is about to wait for
// something else, such as Vault's answer, reads the list meanwhile instead
// of after. A panic while reading is returned as an error.
func ReadLocalAddrs() func() ([]netip.Addr, error) {
	type result struct {
		addrs []netip.Addr
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("list local interface addresses: %v", p)}
			}
			done <- r
		}()
		r.addrs, r.err = LocalAddrs()
	}()
	var r *result
	return func() ([]netip.Addr, error) {
		if r == nil {
			v := <-done
			r = &v
		}
		return r.addrs, r.err
	}
}
