package netcheck

import (
	"net"
	"slices"
	"testing"
)

// hostHasIPv6Loopback reports whether the loopback interface holds ::1,
// asking the net package directly rather than LocalAddrs.
func hostHasIPv6Loopback(t *testing.T) bool {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback == 0 {
			continue
		}
		as, err := ifc.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(net.IPv6loopback) {
				return true
			}
		}
	}
	t.Log("the host has no IPv6 loopback address; not checking ::1")
	return false
}

// TestReadLocalAddrs shows that the list read in the background is
// LocalAddrs' own, and that asking for it twice gives the same list.
func TestReadLocalAddrs(t *testing.T) {
	want, err := LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	read := ReadLocalAddrs()
	for i := 0; i < 2; i++ {
		got, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("call %d: ReadLocalAddrs gave %v, LocalAddrs %v", i+1, got, want)
		}
	}
}
