package sshd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
)

const (
	// startWait bounds the wait for sshd to report that it listens.
	startWait = 15 * time.Second
	// stopWait bounds the wait for sshd and its children to exit.
	stopWait = 10 * time.Second
	// startAttempts is how often a loopback sshd is tried on a new port
	// when the one picked was taken meanwhile.
	startAttempts = 3
)

// serverOptions describes one sshd.
type serverOptions struct {
	netns      string   // network namespace to run in; "" for the test's own
	listen     []string // addresses to listen on; default 127.0.0.1
	port       int      // port; 0 picks a free loopback port
	password   bool     // PasswordAuthentication yes, besides keyboard-interactive
	methods    string   // AuthenticationMethods; default keyboard-interactive, or any with password
	config     string   // the text of pam_vault's config.hcl
	moduleArgs []string // pam_vault arguments besides config=
	control    string   // the auth line's control; default requisite
	authLine   string   // replaces the pam_vault auth line (for a baseline stack)
}

// server is a running sshd with its own PAM service and syslog.
type server struct {
	opts    serverOptions
	dir     string
	port    int
	hostKey ssh.PublicKey
	syslog  *pamtest.SyslogSink
	log     *pamtest.LogBook[logText] // sshd's own log (-e: stderr)

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has been reaped
	logDone chan struct{} // closed when every sshd process closed the log
	mntNS   string        // the mount namespace sshd runs in

	mu    sync.Mutex
	typed []string // every token a client typed, for the leak check
}

// logText is one line of sshd's log.
type logText string

func (l logText) String() string { return string(l) }

// startServer starts sshd with pam_vault as the only auth module of its
// "sshd" PAM service; t's clean-up stops it and checks its logs.
func (e *env) startServer(t *testing.T, opts serverOptions) *server {
	t.Helper()
	if len(opts.listen) == 0 {
		opts.listen = []string{"127.0.0.1"}
	}
	var lastErr error
	for range startAttempts {
		s, err := e.tryStart(opts)
		if err == nil {
			t.Cleanup(func() { s.close(t) })
			return s
		}
		lastErr = err
		if opts.port != 0 || !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatalf("start sshd: %v", lastErr)
	return nil
}

// tryStart makes one attempt; on failure nothing is left running.
func (e *env) tryStart(opts serverOptions) (*server, error) {
	dir, err := os.MkdirTemp("", "pv-sshd-")
	if err != nil {
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	s := &server{opts: opts, dir: dir, port: opts.port, log: pamtest.NewLogBook[logText](),
		done: make(chan struct{}), logDone: make(chan struct{})}
	if s.port == 0 {
		if s.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := s.writeFiles(e); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if s.syslog, err = pamtest.NewSyslogSink(filepath.Join(dir, "log.sock")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.launch(e); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n--- sshd log ---\n%s", err, pamtest.FormatLines(s.log.Since(0)))
	}
	return s, nil
}

// command is how sshd is started: in a private mount namespace with the
// test's pam.d as /etc/pam.d, inside s.opts.netns when set.
func (s *server) command() []string {
	ns := pamtest.Mounts{
		Dir:    s.dir,
		Syslog: s.syslog.Path,
		Binds:  []pamtest.Bind{{Source: filepath.Join(s.dir, "pam.d"), Target: "/etc/pam.d"}},
	}
	args := ns.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"), "-p", strconv.Itoa(s.port))
	if s.opts.netns != "" {
		args = append([]string{"ip", "netns", "exec", s.opts.netns}, args...)
	}
	return args
}

// launch starts sshd and waits until it listens on every address.
func (s *server) launch(e *env) error {
	args := s.command()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.dir
	// Nothing from the test's environment: pam_vault would see it.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	// sshd's log goes to a pipe that every sshd process inherits, so it
	// reaches EOF only when the last of them is gone; the process is
	// reaped independently of that.
	logR, logW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sshd log pipe: %w", err)
	}
	cmd.Stdout = nil
	cmd.Stderr = logW
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Do not outlive a test binary that dies without its clean-ups.
		Pdeathsig: syscall.SIGKILL,
	}
	err = cmd.Start()
	logW.Close()
	if err != nil {
		logR.Close()
		return fmt.Errorf("start %s: %w", strings.Join(args, " "), err)
	}
	s.cmd = cmd
	go func() {
		defer close(s.logDone)
		defer logR.Close()
		s.readLog(logR)
	}()
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	return s.waitListening()
}

// readLog keeps sshd's log lines.
func (s *server) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		s.log.Add(logText(sc.Text()))
	}
}

// waitListening waits until sshd says it listens on every address, then
// records its mount namespace.
func (s *server) waitListening() error {
	ctx, cancel := context.WithTimeoutCause(context.Background(), startWait,
		fmt.Errorf("sshd did not listen on %v within %s", s.opts.listen, startWait))
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-stop:
		}
	}()
	_, err := s.log.WaitCtx(ctx, 0, "listening sshd", func(lines []logText) bool {
		return pamtest.CountLines(lines, "Server listening on", "port "+strconv.Itoa(s.port)) >= len(s.opts.listen)
	})
	select {
	case <-s.done:
		return fmt.Errorf("sshd exited during start-up: %v", s.cmd.ProcessState)
	default:
	}
	if err != nil {
		return err
	}
	ns, err := pamtest.MountNS(s.cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("sshd: %w", err)
	}
	s.mntNS = ns
	return nil
}

// addr is host:port of sshd on listen address a.
func (s *server) addr(a string) string { return net.JoinHostPort(a, strconv.Itoa(s.port)) }

// typedToken records a token a client sends, for the leak check in close.
func (s *server) typedToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.typed = append(s.typed, tok)
}
