package sshd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	// loginTimeout bounds one whole login: connect, authenticate, run a
	// command. Only a hang comes near it.
	loginTimeout = 60 * time.Second
	// remoteCommand is what every login runs; it prints the user's name.
	remoteCommand = "id -un"
	// sshpassWrongPassword is sshpass's exit status when ssh asked for the
	// password a second time: the first one was refused.
	sshpassWrongPassword = 5
)

// loginResult is what one login attempt showed.
type loginResult struct {
	output  string // what remoteCommand printed
	refused bool   // authentication failed cleanly: the server said no
	err     error  // the failure, refused or not; nil after a login
}

func (r loginResult) String() string {
	switch {
	case r.err == nil:
		return fmt.Sprintf("logged in, command printed %q", r.output)
	case r.refused:
		return "refused: " + r.err.Error()
	default:
		return "broken: " + r.err.Error()
	}
}

// client logs in to one sshd with one token.
type client struct {
	name  string
	login func(ctx context.Context, s *server, host, user, token string) loginResult
}

// clients are the two clients every login case runs with.
var clients = []client{
	{"go", func(ctx context.Context, s *server, host, user, token string) loginResult {
		s.typedToken(token)
		return goLogin(ctx, s, host, user, ssh.KeyboardInteractive(answerWith(token)))
	}},
	{"openssh", func(ctx context.Context, s *server, host, user, token string) loginResult {
		s.typedToken(token)
		return opensshLogin(ctx, s, host, user, token, "keyboard-interactive")
	}},
}

// answerWith answers every keyboard-interactive prompt with token; a round
// without prompts (a message from PAM) gets no answers.
func answerWith(token string) ssh.KeyboardInteractiveChallenge {
	return func(_, _ string, questions []string, _ []bool) ([]string, error) {
		answers := make([]string, len(questions))
		for i := range answers {
			answers[i] = token
		}
		return answers, nil
	}
}

// goLogin logs in with golang.org/x/crypto/ssh, trying methods in order, and
// runs remoteCommand. Everything is bounded by ctx and loginTimeout.
func goLogin(ctx context.Context, s *server, host, user string, methods ...ssh.AuthMethod) loginResult {
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	addr := s.addr(host)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return loginResult{err: fmt.Errorf("connect to %s: %w", addr, err)}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	defer context.AfterFunc(ctx, func() { conn.Close() })()

	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:            user,
		Auth:            methods,
		HostKeyCallback: ssh.FixedHostKey(s.hostKey),
	})
	if err != nil {
		// x/crypto/ssh's words for "every method was tried and refused";
		// a dropped connection shows as EOF or a reset instead.
		refused := strings.Contains(err.Error(), "unable to authenticate")
		return loginResult{refused: refused, err: fmt.Errorf("ssh to %s: %w", addr, err)}
	}
	c := ssh.NewClient(cc, chans, reqs)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		return loginResult{err: fmt.Errorf("ssh to %s: open a session after authenticating: %w", addr, err)}
	}
	defer sess.Close()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	out, err := sess.Output(remoteCommand)
	if err != nil {
		return loginResult{output: string(out), err: fmt.Errorf("ssh to %s: %s: %w: %s", addr, remoteCommand, err, stderr.String())}
	}
	return loginResult{output: string(out)}
}

// opensshLogin logs in with the OpenSSH client under sshpass, offering only
// the given methods (PreferredAuthentications), and runs remoteCommand.
// sshpass types token at every password prompt; it gives up with status 5
// when asked a second time, which is how a refusal shows.
func opensshLogin(ctx context.Context, s *server, host, user, token, methods string) loginResult {
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	home, err := os.MkdirTemp("", "pv-ssh-client-")
	if err != nil {
		return loginResult{err: err}
	}
	defer os.RemoveAll(home)
	cmd := exec.CommandContext(ctx, "sshpass", "-e",
		"ssh", "-F", "none",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications="+methods,
		"-o", "PubkeyAuthentication=no", "-o", "GSSAPIAuthentication=no",
		"-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=10",
		"-o", "LogLevel=ERROR",
		"-p", strconv.Itoa(s.port), "-l", user, host, remoteCommand)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "SSHPASS=" + token}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := loginResult{output: stdout.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		r.err = fmt.Errorf("sshpass ssh %s: no answer within %s: %w", s.addr(host), loginTimeout, ctx.Err())
	case errors.As(err, &exit) && exit.ExitCode() == sshpassWrongPassword:
		r.refused = true
		r.err = fmt.Errorf("sshpass ssh %s: password refused (exit %d): %s", s.addr(host), sshpassWrongPassword, stderr.String())
	default:
		r.err = fmt.Errorf("sshpass ssh %s: %w: %s", s.addr(host), err, stderr.String())
	}
	return r
}
