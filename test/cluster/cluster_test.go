package cluster

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/testvault"
)

// The SSH secrets engine the tests configure on the cluster.
const (
	mount    = "ssh"
	role     = "otp_key_role"
	user     = "alice"
	loopback = "127.0.0.1"
	// timeout is the configs' whole-verification deadline. With three
	// addresses each attempt gets a third of what is left.
	timeout = 9 * time.Second
	// margin is added to timeout for the bound a failing login must meet:
	// generous, for a loaded machine; only a hang exceeds it.
	margin = 10 * time.Second
	// settle bounds the wait for the cluster to elect a leader and for
	// every standby to follow it.
	settle = 60 * time.Second
	// unknownOTP is well formed and was never issued.
	unknownOTP = "88b0fc03-44e3-718f-b712-50ee585f1a0e"
)

// TestThreeNodeCluster runs pam_vault through real libpam against a real
// three-node Vault cluster with integrated storage, with vault_addr listing
// all three nodes: all up (and one verify request per login, whatever
// Vault answered), each node alone (standbys forward the verify call), the
// first listed node hung and then killed while it is the leader (logins
// keep working once another node leads), and every node hung or down
// (PAM_AUTHINFO_UNAVAIL within the timeout). pam-vault-check reports each
// node. The steps share the cluster and run in order; each leaves it in the
// state the next expects.
func TestThreeNodeCluster(t *testing.T) {
	p := newPAM(t)
	c := testvault.StartClusterT(t, 3)
	leader := c.Nodes[0]
	if err := leader.EnableSSH(mount); err != nil {
		t.Fatal(err)
	}
	if err := leader.WriteOTPRole(mount, role, user, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	// Every request reaches the active node's audit log, raw, whichever
	// node it arrived at.
	audit := filepath.Join(c.Dir, "audit.log")
	if err := leader.EnableFileAudit(audit); err != nil {
		t.Fatal(err)
	}
	all := p.config(t, "all", timeout.String(), c.Addrs()...)
	svc := p.service(t, "all", all)
	logStates(t, c)

	// otp issues an OTP through a live node, which forwards to the leader
	// when it is a standby.
	otp := func(t *testing.T, via int) string {
		t.Helper()
		key, err := c.Nodes[via].IssueOTP(mount, role, user, loopback)
		if err != nil {
			t.Fatalf("issuing an OTP through node %d: %v", via, err)
		}
		return key
	}
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("all nodes up", func(t *testing.T) {
		key := otp(t, 1)
		expect(t, p.login(t, svc, user, key), authOK)
		// Vault answered about this OTP: that answer is final, and the
		// next address is not asked: the cluster saw one verify request
		// per login.
		expect(t, p.login(t, svc, user, key), authErr)
		if n := verifyRequests(t, audit, key); n != 2 {
			t.Fatalf("the audit log shows %d verify requests for two logins with one OTP, want 2", n)
		}
		expect(t, p.login(t, svc, user, unknownOTP), authErr)
		if n := verifyRequests(t, audit, unknownOTP); n != 1 {
			t.Fatalf("the audit log shows %d verify requests for one login with an unknown OTP, want 1", n)
		}

		code, out := p.check(t, all)
		t.Logf("pam-vault-check, exit %d:\n%s", code, out)
		if code != 0 {
			t.Fatalf("pam-vault-check failed with all nodes up")
		}
		if n := len(reportLines(out, "ok", "reachable")); n != 3 {
			t.Fatalf("%d nodes reported reachable, want 3", n)
		}
	})

	step("each node alone, standbys forward", func(t *testing.T) {
		standbys := 0
		for i, addr := range c.Addrs() {
			state := c.NodeState(i)
			if state == "standby" {
				standbys++
			}
			cfg := p.config(t, "alone", timeout.String(), addr)
			svc := p.service(t, "alone", cfg)
			t.Logf("node %d (%s) is %s", i, addr, state)
			expect(t, p.login(t, svc, user, otp(t, (i+1)%3)), authOK)
		}
		// Two normally; fewer only if leadership moved meanwhile.
		if standbys == 0 {
			t.Fatalf("no login went through a standby node")
		}
	})

	// leaderFirst waits for the cluster to settle and writes a config and
	// service named name whose vault_addr lists the active node first.
	leaderFirst := func(t *testing.T, name string) (order []int, cfg, svc string) {
		t.Helper()
		first, err := c.WaitActive(settle)
		if err != nil {
			t.Fatal(err)
		}
		order = []int{first}
		for i := range c.Nodes {
			if i != first {
				order = append(order, i)
			}
		}
		var addrs []string
		for _, i := range order {
			addrs = append(addrs, c.Nodes[i].Addr)
		}
		cfg = p.config(t, name, timeout.String(), addrs...)
		return order, cfg, p.service(t, name, cfg)
	}

	step("first node hung", func(t *testing.T) {
		// A stopped process keeps its listening socket: the kernel accepts
		// the connection and nothing ever answers. Attempt one costs its
		// share of the deadline, then the next address answers. The hung
		// node is the leader, so the cluster must first elect another.
		order, _, svc := leaderFirst(t, "hung")
		hung := order[0]
		if err := c.FreezeNode(hung); err != nil {
			t.Fatal(err)
		}
		thawed := false
		defer func() {
			if !thawed {
				_ = c.ThawNode(hung)
			}
		}()
		start := time.Now()
		active, err := c.WaitActive(settle)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("node %d, the leader and first in vault_addr, frozen; node %d active %s later",
			hung, active, time.Since(start).Round(time.Millisecond))
		logStates(t, c)
		l := p.login(t, svc, user, otp(t, active))
		expectWithin(t, l, authOK)
		if err := c.ThawNode(hung); err != nil {
			t.Fatal(err)
		}
		thawed = true
		start = time.Now()
		if _, err := c.WaitActive(settle); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitVoters(3, settle); err != nil {
			t.Fatal(err)
		}
		t.Logf("node %d resumed and followed the new leader %s later", hung, time.Since(start).Round(time.Millisecond))
		logStates(t, c)
	})

	// The kill: the config lists the active node first, so the first
	// configured node is also the leader the cluster loses.
	var order []int
	var killed *testvault.Server
	var svcKilled, cfgKilled string
	step("first node killed", func(t *testing.T) {
		order, cfgKilled, svcKilled = leaderFirst(t, "killed")
		first := order[0]
		killed = c.Nodes[first]
		if err := c.KillNode(first); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		active, err := c.WaitActive(settle)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("killed node %d, the active node and first in vault_addr; node %d active %s later",
			first, active, time.Since(start).Round(time.Millisecond))
		logStates(t, c)
		for i := range 4 {
			// Fresh OTPs, issued through each live node in turn.
			expect(t, p.login(t, svcKilled, user, otp(t, order[1+i%2])), authOK)
		}
		helperSvc := p.service(t, "killed-helper", cfgKilled, "helper")
		expect(t, p.login(t, helperSvc, user, otp(t, active)), authOK)
		expect(t, p.login(t, svcKilled, user, unknownOTP), authErr)

		code, out := p.check(t, cfgKilled)
		t.Logf("pam-vault-check, exit %d:\n%s", code, out)
		if code == 0 {
			t.Fatalf("pam-vault-check exited 0 with node %d down", first)
		}
		fails := reportLines(out, "FAIL", "")
		if len(fails) == 0 {
			t.Fatalf("no FAIL line with node %d down", first)
		}
		dead := addrRE(killed.Addr)
		for _, l := range fails {
			if !dead.MatchString(l) {
				t.Fatalf("FAIL line does not name the dead node %s: %s", killed.Addr, l)
			}
		}
		for _, i := range order[1:] {
			for _, check := range []string{"reachable", "mount"} {
				if !anyMatch(reportLines(out, "ok", check), addrRE(c.Nodes[i].Addr)) {
					t.Fatalf("no ok %s line for live node %d (%s)", check, i, c.Nodes[i].Addr)
				}
			}
		}
	})

	step("all nodes hung", func(t *testing.T) {
		// The first address refuses, the two others accept and never
		// answer: the one deadline still holds.
		for _, i := range order[1:] {
			if err := c.FreezeNode(i); err != nil {
				t.Fatal(err)
			}
		}
		logStates(t, c)
		l := p.login(t, svcKilled, user, unknownOTP)
		expectWithin(t, l, unavailable)
	})

	step("all nodes down", func(t *testing.T) {
		for i := range c.Nodes {
			if err := c.KillNode(i); err != nil {
				t.Fatal(err)
			}
		}
		logStates(t, c)
		l := p.login(t, svcKilled, user, unknownOTP)
		expectWithin(t, l, unavailable)
		code, out := p.check(t, cfgKilled)
		t.Logf("pam-vault-check, exit %d:\n%s", code, out)
		if code == 0 {
			t.Fatalf("pam-vault-check exited 0 with every node down")
		}
		fails := reportLines(out, "FAIL", "reachable")
		for i, addr := range c.Addrs() {
			if !anyMatch(fails, addrRE(addr)) {
				t.Fatalf("no FAIL reachable line for node %d (%s)", i, addr)
			}
		}
	})
}

// verifyRequests counts the request entries of Vault's raw audit log that
// carry otp.
func verifyRequests(t *testing.T, audit, otp string) int {
	t.Helper()
	b, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"type":"request"`) && strings.Contains(line, otp) {
			n++
		}
	}
	return n
}

// logStates logs each node's state: active, standby, frozen or dead.
func logStates(t *testing.T, c *testvault.Cluster) {
	t.Helper()
	var states []string
	for i, addr := range c.Addrs() {
		states = append(states, addr+" "+c.NodeState(i))
	}
	t.Logf("nodes: %s", strings.Join(states, ", "))
}

// addrRE matches addr not followed by another digit of a longer port.
func addrRE(addr string) *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta(addr) + `([^0-9]|$)`)
}

func anyMatch(lines []string, re *regexp.Regexp) bool {
	for _, l := range lines {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}
