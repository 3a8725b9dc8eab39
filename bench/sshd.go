package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshdClients are the numbers of concurrent clients measured.
var sshdClients = []int{1, 8, 32}

// sshdResult is one sshd measurement.
type sshdResult struct {
	transport string // "" for the baseline
	module    string // engine, helper, or permit
	clients   int
	logins    int
	elapsed   time.Duration
	p50, p99  time.Duration // per login, connect to authenticated
	max       time.Duration
}

// rate is logins per second.
func (r sshdResult) rate() float64 { return float64(r.logins) / r.elapsed.Seconds() }

// sshdHarness is an sshd on loopback whose PAM service "sshd" has pam_vault
// as its only auth module, run in a private mount namespace where a
// temporary directory is bind-mounted over /etc/pam.d, so that the machine's
// /etc/pam.d/sshd is never changed. The user it logs in is created for the
// run and removed when the harness stops.
type sshdHarness struct {
	dir     string
	addr    string
	hostKey ssh.PublicKey
	cmd     *exec.Cmd
	log     string
	done    chan struct{}
	syslog  *net.UnixConn // the /dev/log sshd and the module write to, or nil
	// removeUser deletes the benchmark's user.
	removeUser func()
	stopOnce   sync.Once
	reused     string // the piece of test/sshd used, if any
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// drain reads and drops syslog datagrams until the socket is closed.
func drain(c *net.UnixConn) {
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Read(buf); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// startSSHD starts the harness; the caller stops it.
func startSSHD(l *lab) (_ *sshdHarness, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("sshd needs root (for its privilege separation and the mount namespace)")
	}
	for _, tool := range []string{"/usr/sbin/sshd", "unshare", "ssh-keygen", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed: %w", tool, err)
		}
	}
	h := &sshdHarness{dir: filepath.Join(l.tmp, "sshd"), done: make(chan struct{})}
	defer func() {
		if err != nil {
			h.stop()
		}
	}()
	pamd := filepath.Join(h.dir, "pam.d")
	if err := os.MkdirAll(pamd, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(pamd, "other"), []byte("auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\npassword required pam_deny.so\n"), 0o644); err != nil {
		return nil, err
	}
	if err := h.usePAM(l.transports[0], "engine", l.tools.adapter); err != nil {
		return nil, err
	}
	if h.removeUser, err = createUser(); err != nil {
		return nil, err
	}
	key := filepath.Join(h.dir, "host_ed25519_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pam_vault-bench", "-f", key).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ssh-keygen: %w\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		return nil, err
	}
	if h.hostKey, _, _, _, err = ssh.ParseAuthorizedKey(pub); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	h.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conf := filepath.Join(h.dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"Port " + strconv.Itoa(port),
		"ListenAddress 127.0.0.1",
		"HostKey " + key,
		"PidFile " + filepath.Join(h.dir, "sshd.pid"),
		"UsePAM yes",
		"KbdInteractiveAuthentication yes",
		"PasswordAuthentication no",
		"PubkeyAuthentication no",
		"AuthenticationMethods keyboard-interactive",
		"AuthorizedKeysFile none",
		"PermitRootLogin no",
		"StrictModes no",
		"UseDNS no",
		"MaxStartups 512",
		"MaxAuthTries 3",
		"LoginGraceTime 60",
		"LogLevel ERROR",
		"",
	}, "\n")), 0o600); err != nil {
		return nil, err
	}
	// test/sshd's pamns.sh, when the end-to-end suite is there, also
	// gives sshd a /dev/log (our sink) so that syslog costs what it costs on
	// a real host; without it /etc/pam.d alone is replaced.
	// sshd -t first, so that a config it refuses is reported from its log.
	sshd := "/usr/sbin/sshd -D -e -f " + conf
	test := "/usr/sbin/sshd -t -f " + conf + "\n"
	var script string
	if pamns := filepath.Join(l.root, "test", "sshd", "testdata", "pamns.sh"); fileExists(pamns) {
		if err := os.Mkdir(filepath.Join(h.dir, "dev"), 0o755); err != nil {
			return nil, err
		}
		if h.syslog, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(h.dir, "log.sock"), Net: "unixgram"}); err != nil {
			return nil, err
		}
		go drain(h.syslog)
		h.reused = "test/sshd/testdata/pamns.sh"
		script = "exec sh " + pamns + " " + h.dir + " " + sshd
	} else {
		script = "mount --bind " + pamd + " /etc/pam.d\nexec " + sshd
	}
	// sshd's privilege separation directory, on a tmpfs over /run that only
	// this namespace sees: the machine's /run/sshd may be missing (it is
	// made at boot) or be removed by another sshd's clean-up meanwhile.
	script = "set -e\nmount -t tmpfs -o mode=0755,nosuid,nodev,size=1m pam_vault-bench-run /run\n" +
		"mkdir -m 0755 /run/sshd\n" + test + script
	h.log = filepath.Join(h.dir, "sshd.log")
	logf, err := os.Create(h.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	h.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	h.cmd.Env = l.env
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { h.cmd.Wait(); close(h.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", h.addr, time.Second); err == nil {
			banner, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(banner, "SSH-2.0-") {
				return h, nil
			}
		}
		select {
		case <-h.done:
			return nil, fmt.Errorf("sshd exited: %s", h.logTail())
		default:
		}
		if time.Now().After(deadline) {
			h.stop()
			return nil, fmt.Errorf("sshd did not answer on %s: %s", h.addr, h.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// userComment marks the account as the benchmark's, so that one left by a
// killed run is recognised and replaced.
const userComment = "pam_vault benchmark user"

// createUser adds the benchmark's user: no home, /bin/sh, password field "*"
// (no password, not locked). It must exist on the machine, not only in
// sshd's mount namespace: a file bind-mounted over /etc/passwd there is
// detached as soon as anyone runs useradd, which renames a new file over it.
func createUser() (remove func(), err error) {
	run := func(name string, args ...string) (string, error) {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return string(out), nil
	}
	// sshd's per-connection processes run in sessions of their own and may
	// still be exiting as the user's; userdel refuses until they are gone.
	remove = func() {
		for range 50 {
			if _, err := run("userdel", benchUser); err == nil {
				return
			}
			if _, err := run("getent", "passwd", benchUser); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := run("userdel", "--force", benchUser); err != nil {
			fmt.Fprintln(os.Stderr, "bench: WARNING: could not remove user", benchUser+":", err)
		}
	}
	if entry, err := run("getent", "passwd", benchUser); err == nil {
		if !strings.Contains(entry, userComment) {
			return nil, fmt.Errorf("a user %s exists that the benchmark did not create", benchUser)
		}
		remove()
	}
	if _, err := run("useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh",
		"--comment", userComment, "--password", "*", "--user-group", benchUser); err != nil {
		return nil, err
	}
	return remove, nil
}

// usePAM makes module (engine, helper, or permit for the baseline without
// pam_vault) with tr's config the only auth module of the service sshd uses;
// libpam reads the file at every pam_start, so a running sshd picks it up
// with the next connection.
func (h *sshdHarness) usePAM(tr *transport, module string, adapter string) error {
	line := "auth required " + adapter + " " + strings.Join(tr.args, " ")
	switch module {
	case "helper":
		line += " helper"
	case "permit":
		line = "auth required pam_permit.so"
	}
	text := line + "\naccount required pam_permit.so\nsession required pam_permit.so\npassword required pam_deny.so\n"
	tmp := filepath.Join(h.dir, "pam.d", ".sshd.new")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(h.dir, "pam.d", "sshd"))
}

// logTail is the end of sshd's log, for error messages.
func (h *sshdHarness) logTail() string {
	b, _ := os.ReadFile(h.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// stop stops sshd and removes the user, once.
func (h *sshdHarness) stop() { h.stopOnce.Do(h.doStop) }

// doStop is stop's work.
func (h *sshdHarness) doStop() {
	if h.syslog != nil {
		defer h.syslog.Close()
	}
	if h.removeUser != nil {
		defer h.removeUser()
	}
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	syscall.Kill(-h.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
		<-h.done
	}
}

// login authenticates once with keyboard-interactive, answering every
// prompt with otp, and disconnects. It returns once sshd has accepted the
// login.
func (h *sshdHarness) login(otp string) error {
	conf := &ssh.ClientConfig{
		User: benchUser,
		Auth: []ssh.AuthMethod{ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			answers := make([]string, len(qs))
			for i := range answers {
				answers[i] = otp
			}
			return answers, nil
		})},
		HostKeyCallback:   ssh.FixedHostKey(h.hostKey),
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           loginTimeout,
	}
	c, err := ssh.Dial("tcp", h.addr, conf)
	if err != nil {
		return err
	}
	return c.Close()
}

// sshdChunks is how many pieces each measurement is cut into; the pieces of
// all configurations run interleaved, so that noise from other work on the
// machine falls on all of them alike.
const sshdChunks = 4

// sshdConfig is one auth stack measured through sshd.
type sshdConfig struct {
	tr     *transport
	module string // permit, engine, helper
}

// transport is the Vault transport the configuration uses, "" for none.
func (c sshdConfig) transport() string {
	if c.module == "permit" {
		return ""
	}
	return c.tr.name
}

// measureSSHD measures logins per second through sshd: a pam_permit
// baseline, and for each transport the in-process engine and the helper, at
// each client count. A harness that cannot start is reported in the note,
// not as an error: the table then says why there are no numbers. A login
// that fails is an error.
func measureSSHD(l *lab, o options, c *cleanup) ([]sshdResult, string) {
	h, err := startSSHD(l)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: WARNING: no sshd measurements:", err)
		return nil, "not measured: " + err.Error()
	}
	c.add(h.stop)
	defer h.stop()
	out, err := h.measure(l, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: sshd:", err)
		return nil, "failed: " + err.Error()
	}
	note := "own harness (bench/sshd.go)"
	if h.reused != "" {
		note += " with " + h.reused
	}
	return out, note
}

// measure runs every configuration at every client count, interleaved.
func (h *sshdHarness) measure(l *lab, o options) ([]sshdResult, error) {
	configs := []sshdConfig{{l.transports[0], "permit"}}
	for _, tr := range l.transports {
		configs = append(configs, sshdConfig{tr, "engine"}, sshdConfig{tr, "helper"})
	}
	// One login through each configuration first, not counted.
	for _, cf := range configs {
		if err := h.usePAM(cf.tr, cf.module, l.tools.adapter); err != nil {
			return nil, err
		}
		if _, err := h.run(cf, 1, h.tokens(cf, 1), o.sshdTimeout); err != nil {
			return nil, err
		}
	}
	var out []sshdResult
	for _, clients := range sshdClients {
		chunk := max(o.sshdLogins/sshdChunks, 3*clients)
		tokens := make([][]string, len(configs))
		for i, cf := range configs {
			tokens[i] = h.tokens(cf, chunk*sshdChunks)
			if tokens[i] == nil {
				return nil, fmt.Errorf("issuing OTPs from the %s Vault failed", cf.tr.name)
			}
		}
		results := make([]sshdResult, len(configs))
		for i, cf := range configs {
			results[i] = sshdResult{transport: cf.transport(), module: cf.module, clients: clients}
		}
		var lat = make([][]time.Duration, len(configs))
		for k := range sshdChunks {
			for i, cf := range configs {
				if err := h.usePAM(cf.tr, cf.module, l.tools.adapter); err != nil {
					return nil, err
				}
				r, err := h.run(cf, clients, tokens[i][k*chunk:(k+1)*chunk], o.sshdTimeout)
				if err != nil {
					return nil, err
				}
				results[i].elapsed += r.elapsed
				lat[i] = append(lat[i], r.latencies...)
			}
		}
		for i := range configs {
			results[i].logins = len(lat[i])
			results[i].p50, results[i].p99, results[i].max = quantile(lat[i], 0.5), quantile(lat[i], 0.99), quantile(lat[i], 1)
			step(fmt.Sprintf("sshd %-6s %-4s %2d clients: %.1f logins/s; per login p50 %s, p99 %s, max %s ms", results[i].module, results[i].transport,
				clients, results[i].rate(), ms(results[i].p50), ms(results[i].p99), ms(results[i].max)))
		}
		out = append(out, results...)
	}
	// The table lists each configuration's client counts together.
	slices.SortStableFunc(out, func(a, b sshdResult) int {
		return slices.IndexFunc(configs, func(c sshdConfig) bool { return c.module == a.module && c.transport() == a.transport }) -
			slices.IndexFunc(configs, func(c sshdConfig) bool { return c.module == b.module && c.transport() == b.transport })
	})
	return out, nil
}

// tokens returns n tokens for cf: OTPs from its Vault, or placeholders for
// pam_permit, which asks nothing. It returns nil when Vault fails.
func (h *sshdHarness) tokens(cf sshdConfig, n int) []string {
	if cf.module == "permit" {
		return make([]string, n)
	}
	otps, err := issue(cf.tr.vault, benchUser, n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: sshd:", err)
		return nil
	}
	return otps
}

// chunkResult is one timed piece of an sshd measurement.
type chunkResult struct {
	elapsed   time.Duration
	latencies []time.Duration
}

// run logs in once per token with clients concurrent clients, through the
// service as it is now, and stops early when timeout passes.
func (h *sshdHarness) run(cf sshdConfig, clients int, tokens []string, timeout time.Duration) (chunkResult, error) {
	next := make(chan string, len(tokens))
	for _, t := range tokens {
		next <- t
	}
	close(next)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	lat := make([][]time.Duration, clients)
	deadline := time.Now().Add(timeout)
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			for otp := range next {
				if time.Now().After(deadline) {
					return
				}
				t := time.Now()
				if err := h.login(otp); err != nil {
					errs <- err
					return
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	r := chunkResult{elapsed: time.Since(start)}
	close(errs)
	if err := <-errs; err != nil {
		return r, fmt.Errorf("%s, %d clients: login failed: %w\nsshd log: %s",
			strings.TrimSpace(cf.module+" "+cf.transport()), clients, err, h.logTail())
	}
	for _, l := range lat {
		r.latencies = append(r.latencies, l...)
	}
	return r, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
