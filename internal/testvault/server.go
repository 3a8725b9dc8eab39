package testvault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// startTimeout bounds the wait for a new server to answer health checks.
	startTimeout = 30 * time.Second
	// stopTimeout bounds the wait after SIGTERM before SIGKILL.
	stopTimeout = 10 * time.Second
	// startAttempts is how often Start retries when the port was taken.
	startAttempts = 3
)

// Options selects how a Server is started.
type Options struct {
	// TLS starts the server with -dev-tls; its CA is then in Server.CACert.
	TLS bool
}

// Server is a running Vault dev server.
type Server struct {
	// Addr is the server's base URL, e.g. http://127.0.0.1:8200.
	Addr string
	// RootToken is the dev server's root token.
	RootToken string
	// CACert is the PEM file of the CA that signed the server's certificate,
	// or "" without TLS.
	CACert string
	// Dir is the temporary directory holding the log, HOME and TLS files;
	// Close removes it.
	Dir string

	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has been reaped
	client  *http.Client

	stopOnce  sync.Once
	closeOnce sync.Once

	mu       sync.Mutex
	auditLog string
}

// Start starts a Vault dev server on a free loopback port and waits until it
// reports healthy. On failure the process is killed and the error includes
// the tail of its log.
func Start(opts Options) (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range startAttempts {
		s, err := start(bin, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func start(bin string, opts Options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pam_vault-testvault-")
	if err != nil {
		return nil, fmt.Errorf("start vault: %w", err)
	}
	s := &Server{
		Dir:       dir,
		RootToken: "root-" + rand.Text(),
		logPath:   filepath.Join(dir, "vault.log"),
	}
	if err := s.launch(bin, port, opts); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitHealthy(); err != nil {
		s.Stop()
		err = fmt.Errorf("%w\n--- tail of %s ---\n%s", err, s.logPath, s.LogTail())
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// launch prepares the directories and starts the process.
func (s *Server) launch(bin string, port int, opts Options) error {
	home := filepath.Join(s.Dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return fmt.Errorf("start vault: %w", err)
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{
		"server", "-dev",
		"-dev-root-token-id=" + s.RootToken,
		"-dev-listen-address=" + listen,
	}
	s.Addr = "http://" + listen
	if opts.TLS {
		certDir := filepath.Join(s.Dir, "tls")
		if err := os.Mkdir(certDir, 0o700); err != nil {
			return fmt.Errorf("start vault: %w", err)
		}
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+certDir)
		s.Addr = "https://" + listen
		s.CACert = filepath.Join(certDir, "vault-ca.pem")
	}
	cmd, done, err := spawn(bin, s.Dir, s.logPath, []string{"HOME=" + home, "PATH=" + childPath()}, args...)
	if err != nil {
		return fmt.Errorf("start vault: %w", err)
	}
	s.cmd, s.done = cmd, done
	return nil
}

// spawn starts bin with args in dir, with environment env, its output
// appended to logPath, in a process group of its own (so that stopGroup
// ends whatever it starts) and killed if the test binary dies. done is
// closed once it has been reaped.
func spawn(bin, dir, logPath string, env []string, args ...string) (cmd *exec.Cmd, done chan struct{}, err error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close() // the child holds its own copy

	cmd = exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Do not outlive a test binary that dies without running cleanups.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", bin, err)
	}
	done = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return cmd, done, nil
}

// childPath is the PATH given to the server.
func childPath() string {
	if p := os.Getenv("PATH"); p != "" {
		return p
	}
	return "/usr/local/bin:/usr/bin:/bin"
}

// freePort returns a loopback TCP port that was free a moment ago, with the
// next port (Vault's dev cluster listener) free as well.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pick a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		next, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		l.Close()
		if err != nil {
			continue
		}
		next.Close()
		return port, nil
	}
	return 0, errors.New("pick a free port: no pair of adjacent free loopback ports found")
}

// waitHealthy polls sys/health until it answers 200, the process exits, or
// startTimeout passes.
func (s *Server) waitHealthy() error {
	deadline := time.Now().Add(startTimeout)
	var lastErr error = errors.New("no answer yet")
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("vault exited during start-up: %s", s.cmd.ProcessState)
		default:
		}
		if s.client == nil {
			c, err := newClient(s.CACert)
			if err != nil {
				lastErr = err // the CA file is not written yet
			} else {
				s.client = c
			}
		}
		if s.client != nil {
			lastErr = s.healthy()
			if lastErr == nil {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("vault not healthy after %s: %w", startTimeout, lastErr)
}

// healthy performs one sys/health probe.
func (s *Server) healthy() error {
	resp, err := s.client.Get(s.Addr + "/v1/sys/health")
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: HTTP %d", resp.StatusCode)
	}
	return nil
}
