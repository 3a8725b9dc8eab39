package sshd

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"pam_vault/internal/pamtest"
)

// topology is the test network: a namespace for the SSH host, joined to the
// root namespace by a veth pair. Its addresses are private test ranges that
// exist only on these two interfaces.
type topology struct {
	ns             string // the SSH host's network namespace
	rootIf, hostIf string // the veth ends: root namespace, host namespace
	rootV4, hostV4 string
	rootV6, hostV6 string
}

// testTopology is the one network the host-address tests build.
var testTopology = topology{
	ns:     "pv-host",
	rootIf: "pv-root0",
	hostIf: "pv-host0",
	rootV4: "10.200.1.1",
	hostV4: "10.200.1.2",
	rootV6: "fd00:200::1",
	hostV6: "fd00:200::2",
}

// newTopology builds testTopology and removes it when t ends. Leftovers of
// an earlier, killed run are removed first.
func newTopology(t *testing.T) *topology {
	t.Helper()
	topo := testTopology
	topo.remove() // a killed run's leftovers; errors mean there were none
	t.Cleanup(func() {
		if err := topo.remove(); err != nil {
			t.Errorf("remove the test network: %v", err)
		}
		if err := topo.check(); err != nil {
			t.Error(err)
		}
	})
	if err := topo.build(); err != nil {
		t.Fatalf("build the test network: %v", err)
	}
	return &topo
}

// build creates the namespace, the veth pair and the addresses. IPv6
// addresses are added with nodad, so they are usable at once.
func (topo *topology) build() error {
	// Docker disables IPv6 by default in a container's namespace; it is
	// enabled again on the test's own two interfaces only.
	enableV6 := func(ifname string) string {
		return "echo 0 >/proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6"
	}
	steps := [][]string{
		{"ip", "netns", "add", topo.ns},
		{"ip", "link", "add", topo.rootIf, "type", "veth", "peer", "name", topo.hostIf, "netns", topo.ns},
		{"sh", "-c", enableV6(topo.rootIf)},
		{"ip", "netns", "exec", topo.ns, "sh", "-c", enableV6(topo.hostIf) + " && " + enableV6("lo")},
		{"ip", "address", "add", topo.rootV4 + "/24", "dev", topo.rootIf},
		{"ip", "-6", "address", "add", topo.rootV6 + "/64", "dev", topo.rootIf, "nodad"},
		{"ip", "link", "set", topo.rootIf, "up"},
		{"ip", "-n", topo.ns, "link", "set", "lo", "up"},
		{"ip", "-n", topo.ns, "address", "add", topo.hostV4 + "/24", "dev", topo.hostIf},
		{"ip", "-n", topo.ns, "-6", "address", "add", topo.hostV6 + "/64", "dev", topo.hostIf, "nodad"},
		{"ip", "-n", topo.ns, "link", "set", topo.hostIf, "up"},
	}
	for _, step := range steps {
		if _, err := pamtest.RunTool(step[0], step[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes the link (both ends) and the namespace.
func (topo *topology) remove() error {
	_, linkErr := pamtest.RunTool("ip", "link", "delete", topo.rootIf)
	_, nsErr := pamtest.RunTool("ip", "netns", "delete", topo.ns)
	return errors.Join(linkErr, nsErr)
}

// check reports an error if the namespace or the link still exists.
func (topo *topology) check() error {
	if out, err := pamtest.RunTool("ip", "netns", "list"); err != nil || containsWord(out, topo.ns) {
		return fmt.Errorf("network namespace %s still exists (%v): %s", topo.ns, err, out)
	}
	if _, err := pamtest.RunTool("ip", "link", "show", topo.rootIf); err == nil {
		return fmt.Errorf("link %s still exists", topo.rootIf)
	}
	return nil
}

// containsWord reports whether text has word as a whitespace-separated field.
func containsWord(text, word string) bool {
	for _, f := range strings.Fields(text) {
		if f == word {
			return true
		}
	}
	return false
}
