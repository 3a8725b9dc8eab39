// Package sshdtest runs Debian's OpenSSH server (/usr/sbin/sshd) for
// pam_vault's end-to-end suites (test/sshd, test/sshcert): one sshd per
// test, started as `sshd -D -e -f CONFIG -p PORT` in a private mount
// namespace whose /etc/pam.d and /dev/log are the test's (pamtest.Mounts),
// optionally inside a network namespace. Its log (-e: stderr) is kept line
// by line in a pamtest.LogBook, and Stop ends every process it started,
// however deep their sessions go.
//
// The suite writes sshd_config, the PAM service directory and the keys; this
// package only runs the server. It needs root.
package sshdtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pam_vault/internal/pamtest"
)

const (
	// Path is the OpenSSH server the suites run.
	Path = "/usr/sbin/sshd"
	// startWait bounds the wait for sshd to report that it listens.
	startWait = 15 * time.Second
	// stopWait bounds the wait for sshd and its children to exit.
	stopWait = 10 * time.Second
	// startAttempts is how often a loopback sshd is tried on a new port
	// when the one picked was taken meanwhile.
	startAttempts = 3
	// privsepDir is the directory Debian's sshd insists on at start-up.
	privsepDir = "/run/sshd"
)

// LogLine is one line of sshd's log.
type LogLine string

func (l LogLine) String() string { return string(l) }

// Options describes one sshd.
type Options struct {
	// Dir is the test's directory for this sshd; the private /dev is
	// built in it (see pamtest.Mounts).
	Dir string
	// Config is the path of the sshd_config to run with.
	Config string
	// PAMDir is the service directory mounted over /etc/pam.d.
	PAMDir string
	// Syslog is the socket that becomes /dev/log: a pamtest.SyslogSink's
	// Path. The caller closes the sink after Stop.
	Syslog string
	// Port is the port to listen on; 0 picks a free loopback port, and a
	// new one when the first was taken meanwhile.
	Port int
	// Listen are the addresses sshd_config's ListenAddress lines name,
	// awaited at start-up; default 127.0.0.1.
	Listen []string
	// NetNS is the network namespace to run in; "" for the caller's own.
	NetNS string
	// Log receives sshd's log lines; nil makes a new LogBook. It keeps the
	// lines of a failed start too.
	Log *pamtest.LogBook[LogLine]
}

// Server is a running sshd.
type Server struct {
	// Port is the port sshd listens on.
	Port int
	// Log holds sshd's log lines.
	Log *pamtest.LogBook[LogLine]

	opts    Options
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has been reaped
	logDone chan struct{} // closed when every sshd process closed the log
	mntNS   string        // the mount namespace sshd runs in
}

// Start starts sshd and waits until it listens on every address of
// opts.Listen. On failure nothing is left running, and the error holds
// sshd's log.
func Start(opts Options) (*Server, error) {
	if len(opts.Listen) == 0 {
		opts.Listen = []string{"127.0.0.1"}
	}
	if opts.Log == nil {
		opts.Log = pamtest.NewLogBook[LogLine]()
	}
	if err := makePrivsepDir(); err != nil {
		return nil, err
	}
	var lastErr error
	for range startAttempts {
		s := &Server{Port: opts.Port, Log: opts.Log, opts: opts}
		if s.Port == 0 {
			port, err := FreePort()
			if err != nil {
				return nil, err
			}
			s.Port = port
		}
		mark := s.Log.Mark()
		err := s.launch()
		if err == nil {
			return s, nil
		}
		if serr := s.Stop(); serr != nil {
			err = fmt.Errorf("%w (and stopping it: %v)", err, serr)
		}
		lastErr = fmt.Errorf("start sshd: %w\n--- sshd log ---\n%s", err, pamtest.FormatLines(s.Log.Since(mark)))
		if opts.Port != 0 || pamtest.CountLines(s.Log.Since(mark), "Address already in use") == 0 {
			break
		}
	}
	return nil, lastErr
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is host:port of sshd on listen address a.
func (s *Server) Addr(a string) string { return net.JoinHostPort(a, strconv.Itoa(s.Port)) }

// makePrivsepDir creates /run/sshd (mode 0755) when it is missing, as
// Debian's service start-up does. It is left in place: another sshd may
// need it by then, and /run is emptied at boot.
func makePrivsepDir() error {
	if _, err := os.Stat(privsepDir); err == nil {
		return nil
	}
	if err := os.Mkdir(privsepDir, 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create sshd's privilege separation directory: %w", err)
	}
	return nil
}

// command is how sshd is started: in a private mount namespace with the
// test's service directory as /etc/pam.d, inside opts.NetNS when set.
func (s *Server) command() []string {
	ns := pamtest.Mounts{
		Dir:    s.opts.Dir,
		Syslog: s.opts.Syslog,
		Binds:  []pamtest.Bind{{Source: s.opts.PAMDir, Target: "/etc/pam.d"}},
	}
	args := ns.Command(Path, "-D", "-e", "-f", s.opts.Config, "-p", strconv.Itoa(s.Port))
	if s.opts.NetNS != "" {
		args = append([]string{"ip", "netns", "exec", s.opts.NetNS}, args...)
	}
	return args
}

// launch starts sshd and waits until it listens on every address.
func (s *Server) launch() error {
	args := s.command()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.opts.Dir
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
	s.done, s.logDone = make(chan struct{}), make(chan struct{})
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
func (s *Server) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		s.Log.Add(LogLine(sc.Text()))
	}
}

// waitListening waits until sshd says it listens on every address, then
// records its mount namespace.
func (s *Server) waitListening() error {
	ctx, cancel := context.WithTimeoutCause(context.Background(), startWait,
		fmt.Errorf("sshd did not listen on %v within %s", s.opts.Listen, startWait))
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
	mark := s.Log.Mark()
	_, err := s.Log.WaitCtx(ctx, mark, "listening sshd", func(lines []LogLine) bool {
		return pamtest.CountLines(lines, "Server listening on", "port "+strconv.Itoa(s.Port)) >= len(s.opts.Listen)
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

// Stop ends sshd (SIGTERM, then SIGKILL to its process group after 10 s),
// then every process left in its mount namespace: the per-connection sshd
// processes, which run in sessions of their own, and anything they
// started. It returns once sshd's log is closed.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(stopWait):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	if err := pamtest.KillMountNS(s.mntNS, stopWait); err != nil {
		return err
	}
	select {
	case <-s.logDone:
		return nil
	case <-time.After(stopWait):
		return errors.New("sshd's log stayed open " + stopWait.String() + " after its processes were killed")
	}
}
