package testvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// Bounds of the waits while a cluster starts and changes.
const (
	// clusterNodeUp bounds the wait for a node's listener to answer.
	clusterNodeUp = 30 * time.Second
	// clusterUnseal bounds the wait for a node to report itself unsealed
	// (for a joining node this includes the raft join handshake).
	clusterUnseal = 60 * time.Second
	// clusterVoters bounds the wait for autopilot to promote joined nodes
	// to voters.
	clusterVoters = 90 * time.Second
	// clusterKill bounds the wait for a killed node to be reaped, or for a
	// frozen one to stop.
	clusterKill = 10 * time.Second
	// clusterProbe bounds one probe of a node's state, so that a node that
	// hangs costs a probe, not the wait.
	clusterProbe = 2 * time.Second
)

// Cluster is a Vault cluster with integrated (raft) storage: n server
// processes on loopback ports, initialised with a single unseal key (one
// share, threshold one) and unsealed. Node 0 initialised the cluster and was
// its first leader; the others joined it through sys/storage/raft/join.
//
// Each node is a *Server, so Do, EnableSSH, WriteOTPRole and IssueOTP work
// on any of them with the cluster's root token; a standby forwards such
// requests to the active node.
type Cluster struct {
	// Nodes are the servers, in the order they were started.
	Nodes []*Server
	// Dir holds one directory per node (config, raft data, log, HOME);
	// Close removes it.
	Dir string
	// RootToken is the root token from the cluster's initialisation.
	RootToken string

	unsealKey string
	bin       string
}

// RaftServer is one entry of the cluster's raft configuration.
type RaftServer struct {
	NodeID  string `json:"node_id"`
	Address string `json:"address"`
	Leader  bool   `json:"leader"`
	Voter   bool   `json:"voter"`
}

// StartCluster starts an n-node raft cluster on loopback and waits until it
// is initialised, every node is unsealed and the raft configuration lists n
// voters. On failure every node is killed, the error carries the tail of
// each node's log, and the directory is removed.
func StartCluster(n int) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("start cluster: %d nodes", n)
	}
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pam_vault-cluster-")
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	c := &Cluster{Dir: dir, bin: bin}
	if err := c.start(n); err != nil {
		err = fmt.Errorf("%w\n%s", err, c.LogTails())
		c.Close()
		return nil, err
	}
	return c, nil
}

// start brings up the nodes one by one: node 0 is initialised and
// unsealed, the others join it and are unsealed with its key.
func (c *Cluster) start(n int) error {
	for i := range n {
		node, err := c.launchNode(i)
		if err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, node)
		if err := waitListening(node); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		if i == 0 {
			if err := c.initialise(node); err != nil {
				return err
			}
		} else {
			join := map[string]any{"leader_api_addr": c.Nodes[0].Addr}
			var out struct {
				Joined bool `json:"joined"`
			}
			if err := node.Do(http.MethodPut, "sys/storage/raft/join", join, &out); err != nil {
				return fmt.Errorf("node %d: raft join: %w", i, err)
			}
			if !out.Joined {
				return fmt.Errorf("node %d: raft join answered joined=false", i)
			}
		}
		if err := c.unsealNode(i); err != nil {
			return err
		}
		if i == 0 {
			if _, err := c.WaitActive(clusterUnseal); err != nil {
				return err
			}
			// Autopilot promotes a joined node to voter once it has been
			// healthy for server_stabilization_time (10 s by default).
			cfg := map[string]any{"server_stabilization_time": "2s"}
			if err := node.Do(http.MethodPost, "sys/storage/raft/autopilot/configuration", cfg, nil); err != nil {
				return fmt.Errorf("autopilot configuration: %w", err)
			}
		}
	}
	return c.WaitVoters(n, clusterVoters)
}

// launchNode writes node i's configuration and starts its process in its
// own process group, with a minimal environment.
func (c *Cluster) launchNode(i int) (*Server, error) {
	port, err := freePort() // port+1 is free too: the cluster listener
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(c.Dir, fmt.Sprintf("node%d", i+1))
	home := filepath.Join(dir, "home")
	data := filepath.Join(dir, "raft")
	for _, d := range []string{dir, home, data} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, fmt.Errorf("start cluster node %d: %w", i, err)
		}
	}
	api := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cluster := net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1))
	// performance_multiplier 2 (Vault's default is 5) shortens raft's
	// timers, so that a lost leader is replaced within seconds, yet leaves
	// slack for a loaded test machine.
	hcl := fmt.Sprintf(`storage "raft" {
  path                   = %q
  node_id                = "node%d"
  performance_multiplier = 2
}

listener "tcp" {
  address         = %q
  cluster_address = %q
  tls_disable     = true
}

api_addr      = "http://%s"
cluster_addr  = "https://%s"
disable_mlock = true
ui            = false
`, data, i+1, api, cluster, api, cluster)
	cfgPath := filepath.Join(dir, "server.hcl")
	if err := os.WriteFile(cfgPath, []byte(hcl), 0o600); err != nil {
		return nil, fmt.Errorf("start cluster node %d: %w", i, err)
	}
	s := &Server{
		Addr:      "http://" + api,
		RootToken: c.RootToken,
		Dir:       dir,
		logPath:   filepath.Join(dir, "vault.log"),
	}
	if s.client, err = newClient(""); err != nil {
		return nil, err
	}
	cmd, done, err := spawn(c.bin, dir, s.logPath, []string{"HOME=" + home, "PATH=" + childPath()}, "server", "-config="+cfgPath)
	if err != nil {
		return nil, fmt.Errorf("start cluster node %d: %w", i, err)
	}
	s.cmd, s.done = cmd, done
	return s, nil
}

// waitListening waits until s answers sys/health with any status (an
// uninitialised or sealed node answers 501 or 503).
func waitListening(s *Server) error {
	deadline := time.Now().Add(clusterNodeUp)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("vault exited during start-up: %s", s.cmd.ProcessState)
		default:
		}
		if _, lastErr = nodeHealth(s); lastErr == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer after %s: %w", clusterNodeUp, lastErr)
}

// nodeHealth returns the HTTP status of s's sys/health: 200 active, 429
// unsealed standby, 501 not initialised, 503 sealed.
func nodeHealth(s *Server) (int, error) {
	return probe(s, "sys/health", nil)
}

// probe sends an unauthenticated GET for path to s, bounded by
// clusterProbe, decodes a JSON answer into out when out is not nil, and
// returns the HTTP status.
func probe(s *Server, path string, out any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterProbe)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Addr+"/v1/"+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("GET %s: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

// initialise runs sys/init on node with one key share and keeps the key
// and root token.
func (c *Cluster) initialise(node *Server) error {
	var out struct {
		Keys      []string `json:"keys"`
		RootToken string   `json:"root_token"`
	}
	body := map[string]any{"secret_shares": 1, "secret_threshold": 1}
	if err := node.Do(http.MethodPut, "sys/init", body, &out); err != nil {
		return fmt.Errorf("operator init: %w", err)
	}
	if len(out.Keys) != 1 || out.RootToken == "" {
		return errors.New("operator init: answer lacks the key or root token")
	}
	c.unsealKey = out.Keys[0]
	c.RootToken = out.RootToken
	node.RootToken = out.RootToken
	return nil
}

// unsealNode sends the unseal key to node i and waits until it reports
// itself unsealed. A joining node reports that only once it has joined.
func (c *Cluster) unsealNode(i int) error {
	node := c.Nodes[i]
	node.RootToken = c.RootToken
	if err := node.Do(http.MethodPut, "sys/unseal", map[string]any{"key": c.unsealKey}, nil); err != nil {
		return fmt.Errorf("node %d: unseal: %w", i, err)
	}
	deadline := time.Now().Add(clusterUnseal)
	for time.Now().Before(deadline) {
		var st struct {
			Sealed bool `json:"sealed"`
		}
		if err := node.Do(http.MethodGet, "sys/seal-status", nil, &st); err == nil && !st.Sealed {
			return nil
		}
		select {
		case <-node.done:
			return fmt.Errorf("node %d exited while unsealing: %s", i, node.cmd.ProcessState)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("node %d still sealed after %s", i, clusterUnseal)
}

// Addrs returns every node's address, in node order.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// Alive reports whether node i's process is still running.
func (c *Cluster) Alive(i int) bool {
	select {
	case <-c.Nodes[i].done:
		return false
	default:
		return true
	}
}

// RaftServers reads the raft configuration through node i.
func (c *Cluster) RaftServers(i int) ([]RaftServer, error) {
	var out struct {
		Data struct {
			Config struct {
				Servers []RaftServer `json:"servers"`
			} `json:"config"`
		} `json:"data"`
	}
	if err := c.Nodes[i].Do(http.MethodGet, "sys/storage/raft/configuration", nil, &out); err != nil {
		return nil, err
	}
	return out.Data.Config.Servers, nil
}

// WaitVoters waits up to timeout until the raft configuration, read through
// any live node, lists want servers that are all voters.
func (c *Cluster) WaitVoters(want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		for i := range c.Nodes {
			if !c.Alive(i) {
				continue
			}
			servers, err := c.RaftServers(i)
			if err != nil {
				last = err.Error()
				continue
			}
			voters := 0
			for _, s := range servers {
				if s.Voter {
					voters++
				}
			}
			last = fmt.Sprintf("%+v", servers)
			if voters == want && len(servers) == want {
				return nil
			}
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("raft did not report %d voters within %s; last: %s", want, timeout, last)
}

// WaitActive waits up to timeout until a live node answers sys/health as
// the active node, and until every other live, unfrozen node names that node
// as its leader (so that a standby forwards to it), and returns its index.
func (c *Cluster) WaitActive(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	last := "no live node"
	for time.Now().Before(deadline) {
		if i, err := c.active(); err != nil {
			last = err.Error()
		} else {
			return i, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return -1, fmt.Errorf("no active node within %s: %s", timeout, last)
}

// active performs one round of WaitActive's checks.
func (c *Cluster) active() (int, error) {
	active := -1
	var states []string
	for i, n := range c.Nodes {
		if !c.Alive(i) || c.frozen(i) {
			continue
		}
		status, err := nodeHealth(n)
		states = append(states, fmt.Sprintf("node %d: %d %v", i, status, err))
		if err == nil && status == http.StatusOK {
			active = i
		}
	}
	if active < 0 {
		return -1, errors.New(strings.Join(states, "; "))
	}
	for i, n := range c.Nodes {
		if i == active || !c.Alive(i) || c.frozen(i) {
			continue
		}
		var leader struct {
			LeaderAddress string `json:"leader_address"`
		}
		if _, err := probe(n, "sys/leader", &leader); err != nil {
			return -1, fmt.Errorf("node %d: %w", i, err)
		}
		if leader.LeaderAddress != c.Nodes[active].Addr {
			return -1, fmt.Errorf("node %d follows %q, not the active node %d", i, leader.LeaderAddress, active)
		}
	}
	return active, nil
}

// frozen reports whether node i is stopped by FreezeNode.
func (c *Cluster) frozen(i int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Nodes[i].cmd.Process.Pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	if j := strings.LastIndexByte(s, ')'); j >= 0 && j+2 < len(s) {
		return s[j+2] == 'T'
	}
	return false
}

// KillNode sends SIGKILL to node i's process group and waits until the
// process has been reaped. Killing a dead node does nothing.
func (c *Cluster) KillNode(i int) error {
	n := c.Nodes[i]
	if !c.Alive(i) {
		return nil
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-n.done:
		return nil
	case <-time.After(clusterKill):
		return fmt.Errorf("node %d not reaped %s after SIGKILL", i, clusterKill)
	}
}

// FreezeNode stops node i with SIGSTOP and waits until it has stopped: its
// sockets stay open and the kernel still accepts connections, but nothing
// answers, as with a hung server. ThawNode resumes it.
func (c *Cluster) FreezeNode(i int) error {
	if !c.Alive(i) {
		return fmt.Errorf("node %d is not running", i)
	}
	if err := syscall.Kill(-c.Nodes[i].cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("node %d: SIGSTOP: %w", i, err)
	}
	deadline := time.Now().Add(clusterKill)
	for !c.frozen(i) {
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d not stopped %s after SIGSTOP", i, clusterKill)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// ThawNode resumes a node stopped by FreezeNode.
func (c *Cluster) ThawNode(i int) error {
	if !c.Alive(i) {
		return fmt.Errorf("node %d is not running", i)
	}
	return syscall.Kill(-c.Nodes[i].cmd.Process.Pid, syscall.SIGCONT)
}

// LogTails returns the tail of every node's log, each under a header.
func (c *Cluster) LogTails() string {
	var b strings.Builder
	for i, n := range c.Nodes {
		fmt.Fprintf(&b, "--- node %d (%s), tail of %s ---\n%s\n", i, n.Addr, n.logPath, n.LogTail())
	}
	return b.String()
}

// Close kills every node (SIGKILL: the data is thrown away) and removes
// Dir. Close may be called more than once.
func (c *Cluster) Close() {
	for i, n := range c.Nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			_ = c.KillNode(i)
		}
		n.Close()
	}
	if c.Dir != "" {
		_ = os.RemoveAll(c.Dir)
	}
}

// clusterHealth is the part of sys/health a test may want to print.
type clusterHealth struct {
	Standby bool   `json:"standby"`
	Sealed  bool   `json:"sealed"`
	Version string `json:"version"`
}

// NodeState describes node i for a log line: dead, frozen, or what
// sys/health reports.
func (c *Cluster) NodeState(i int) string {
	switch {
	case !c.Alive(i):
		return "dead"
	case c.frozen(i):
		return "frozen"
	}
	var h clusterHealth
	status, err := probe(c.Nodes[i], "sys/health", &h)
	if err != nil {
		return fmt.Sprintf("HTTP %d: %v", status, err)
	}
	switch {
	case h.Sealed:
		return "sealed"
	case h.Standby:
		return "standby"
	default:
		return "active"
	}
}

// StartClusterT starts an n-node cluster for t and closes it when t ends.
// If the cluster cannot start, t fails when the CI environment variable is
// set and is skipped otherwise. Every node's log tail is logged if t failed.
func StartClusterT(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := StartCluster(n)
	if err != nil {
		pamtest.Need(t, "testvault: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs:\n%s", c.LogTails())
		}
		c.Close()
	})
	return c
}
