package sshd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/sshdtest"
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
	logLevel   string   // sshd's LogLevel; default VERBOSE
	// penalties are the sshd_config lines about PerSourcePenalties; nil
	// turns them off where sshd has them (sshdtest.Version.TestConfig),
	// and opensshDefaults leaves OpenSSH's defaults on.
	penalties []string
}

// opensshDefaults, as serverOptions.penalties, leaves PerSourcePenalties
// as OpenSSH sets them, saying so in the generated sshd_config.
var opensshDefaults = []string{"# PerSourcePenalties: OpenSSH's defaults"}

// server is a running sshd with its own PAM service and syslog.
type server struct {
	opts    serverOptions
	version sshdtest.Version
	dir     string
	port    int
	hostKey ssh.PublicKey
	syslog  *pamtest.SyslogSink
	log     *pamtest.LogBook[logText] // sshd's own log (-e: stderr)
	sshd    *sshdtest.Server

	mu    sync.Mutex
	typed []string // every token a client typed, for the leak check
}

// logText is one line of sshd's log.
type logText = sshdtest.LogLine

// startServer starts sshd with pam_vault as the only auth module of its
// "sshd" PAM service; t's clean-up stops it and checks its logs.
func (e *env) startServer(t *testing.T, opts serverOptions) *server {
	t.Helper()
	if len(opts.listen) == 0 {
		opts.listen = []string{"127.0.0.1"}
	}
	s, err := e.newServer(opts)
	if err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() { s.close(t) })
	return s
}

// newServer writes the server's files and starts it; on failure nothing is
// left running.
func (e *env) newServer(opts serverOptions) (*server, error) {
	dir, err := os.MkdirTemp("", "pv-sshd-")
	if err != nil {
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	s := &server{opts: opts, version: e.version, dir: dir, log: pamtest.NewLogBook[logText]()}
	if err := s.writeFiles(e); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if s.syslog, err = pamtest.NewSyslogSink(filepath.Join(dir, "log.sock")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.sshd, err = sshdtest.Start(sshdtest.Options{
		Dir:    dir,
		Config: filepath.Join(dir, "sshd_config"),
		PAMDir: filepath.Join(dir, "pam.d"),
		Syslog: s.syslog.Path,
		Port:   opts.port,
		Listen: opts.listen,
		NetNS:  opts.netns,
		Log:    s.log,
	})
	if err != nil {
		s.syslog.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	s.port = s.sshd.Port
	return s, nil
}

// addr is host:port of sshd on listen address a.
func (s *server) addr(a string) string { return net.JoinHostPort(a, strconv.Itoa(s.port)) }

// typedToken records a token a client sends, for the leak check in close.
func (s *server) typedToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.typed = append(s.typed, tok)
}
