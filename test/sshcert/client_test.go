package sshcert

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/sshdtest"
	"pam_vault/internal/testvault"
)

const (
	// loginTimeout bounds one whole login: connect, authenticate, run a
	// command. Only a hang comes near it.
	loginTimeout = 60 * time.Second
	// remoteCommand is what every login runs; it prints the user's name.
	remoteCommand = "id -un"
	// codePrompt is the prompt of pam_vault's TOTP mode.
	codePrompt = "Verification code: "
)

// identity is what a user logs in with: a key, and the certificate a CA
// signed for it, if any.
type identity struct {
	signer  ssh.Signer
	keyFile string // the private key, OpenSSH format, mode 0600
	cert    *ssh.Certificate
	// certFile is keyFile+"-cert.pub", where ssh looks for it; "" without
	// a certificate.
	certFile string
}

// newIdentity generates an Ed25519 key in a new directory of t.
func newIdentity(t *testing.T) *identity {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	id := &identity{signer: signer, keyFile: filepath.Join(t.TempDir(), "id_ed25519")}
	if err := os.WriteFile(id.keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

// authorizedKey is the public key, in authorized_keys format.
func (id *identity) authorizedKey() string {
	return string(ssh.MarshalAuthorizedKey(id.signer.PublicKey()))
}

// withCert attaches the certificate line (authorized_keys format) to id.
func (id *identity) withCert(t *testing.T, line string) *identity {
	t.Helper()
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatalf("certificate %q: %v", line, err)
	}
	cert, ok := key.(*ssh.Certificate)
	if !ok {
		t.Fatalf("%q is a %T, not a certificate", line, key)
	}
	id.cert = cert
	id.certFile = id.keyFile + "-cert.pub"
	if err := os.WriteFile(id.certFile, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return id
}

// vaultIdentity is a new key that Vault's user role signed for principals,
// with the given TTL ("" for the role's).
func (e *env) vaultIdentity(t *testing.T, ttl string, principals ...string) *identity {
	t.Helper()
	id := newIdentity(t)
	line, err := e.vault.SignSSHKey(caMount, userRole, testvault.SSHSignRequest{
		PublicKey: id.authorizedKey(), CertType: "user", Principals: principals, TTL: ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id.withCert(t, line)
}

// attempt is one login: as user, offering id (nil: no key at all), and
// answering every keyboard-interactive prompt with code.
type attempt struct {
	user string
	id   *identity
	code string
}

// result is what one login attempt showed.
type result struct {
	output string // what remoteCommand printed
	// asked are the prompts the client was shown and answered.
	asked []string
	// refused: the server refused authentication cleanly.
	refused bool
	// hostRefused: the client refused the server's host key.
	hostRefused bool
	// knownHostsChanged: the OpenSSH client wrote to known_hosts.
	knownHostsChanged bool
	err               error // nil after a login
}

func (r result) String() string {
	switch {
	case r.err == nil:
		return fmt.Sprintf("logged in, command printed %q, prompts %q", r.output, r.asked)
	case r.refused:
		return fmt.Sprintf("refused (prompts %q): %v", r.asked, r.err)
	case r.hostRefused:
		return fmt.Sprintf("host key refused: %v", r.err)
	default:
		return "broken: " + r.err.Error()
	}
}

// client logs in to one sshd; hostCA is the only key it trusts to sign
// host certificates.
type client struct {
	name  string
	login func(s *server, hostCA ssh.PublicKey, a attempt) result
}

// clients are the two clients every case runs with.
var clients = []client{{"go", goLogin}, {"openssh", opensshLogin}}

// login makes attempt a with c, recording the code for the leak check.
func (e *env) login(c client, s *server, a attempt) result {
	e.typedCode(a.code)
	return c.login(s, e.ca, a)
}

// goLogin logs in with golang.org/x/crypto/ssh: the key or certificate
// first, then keyboard-interactive, and runs remoteCommand. It checks the
// host as hostName, accepting only a certificate hostCA signed for it.
func goLogin(s *server, hostCA ssh.PublicKey, a attempt) result {
	return goLoginWatched(s, hostCA, a, nil)
}

// goLoginWatched is goLogin, noting the connection's processes with w
// (when not nil) while the first question waits for its answer.
func goLoginWatched(s *server, hostCA ssh.PublicKey, a attempt, w *sshdtest.Watch) result {
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	var (
		mu    sync.Mutex
		asked []string
	)
	prompts := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), asked...)
	}
	var methods []ssh.AuthMethod
	if a.id != nil {
		signer := a.id.signer
		if a.id.cert != nil {
			var err error
			if signer, err = ssh.NewCertSigner(a.id.cert, a.id.signer); err != nil {
				return result{err: err}
			}
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	methods = append(methods, ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
		if w != nil && len(questions) > 0 {
			w.Note()
		}
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, questions...)
		answers := make([]string, len(questions))
		for i := range answers {
			answers[i] = a.code
		}
		return answers, nil
	}))
	checker := &ssh.CertChecker{IsHostAuthority: func(auth ssh.PublicKey, _ string) bool {
		return bytes.Equal(auth.Marshal(), hostCA.Marshal())
	}}

	addr := s.sshd.Addr("127.0.0.1")
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return result{err: fmt.Errorf("connect to %s: %w", addr, err)}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// The name the host certificate must carry: the client checks the
	// host part of this address against the certificate's principals.
	name := net.JoinHostPort(hostName, strconv.Itoa(s.sshd.Port))
	cc, chans, reqs, err := ssh.NewClientConn(conn, name, &ssh.ClientConfig{
		User:            a.user,
		Auth:            methods,
		HostKeyCallback: checker.CheckHostKey,
	})
	if err != nil {
		r := result{asked: prompts(), err: fmt.Errorf("ssh to %s as %s: %w", addr, name, err)}
		// x/crypto/ssh's words for "every method was tried and refused",
		// and for a host key the callback refused.
		r.refused = strings.Contains(err.Error(), "unable to authenticate")
		r.hostRefused = strings.Contains(err.Error(), "host key")
		return r
	}
	c := ssh.NewClient(cc, chans, reqs)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		return result{asked: prompts(), err: fmt.Errorf("ssh to %s: open a session after authenticating: %w", addr, err)}
	}
	defer sess.Close()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	out, err := sess.Output(remoteCommand)
	if err != nil {
		return result{output: string(out), asked: prompts(), err: fmt.Errorf("ssh to %s: %s: %w: %s", addr, remoteCommand, err, stderr.String())}
	}
	return result{output: string(out), asked: prompts()}
}

// askpass is the SSH_ASKPASS program of the OpenSSH client: it notes the
// prompt it was shown in $HOME/asked and answers with $PV_CODE. ssh runs
// it for every keyboard-interactive prompt when SSH_ASKPASS_REQUIRE=force,
// with no terminal needed.
const askpass = `#!/bin/sh
printf '%s\n' "$1" >>"$HOME/asked"
printf '%s\n' "$PV_CODE"
`

// opensshLogin logs in with the OpenSSH client, offering the key and its
// certificate (or no key: PubkeyAuthentication=no), then the code through
// askpass, and runs remoteCommand. The client knows the host only through
// an @cert-authority line for hostCA and checks strictly, under the name
// hostName (HostKeyAlias), so it never asks to trust a key.
func opensshLogin(s *server, hostCA ssh.PublicKey, a attempt) result {
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	home, err := os.MkdirTemp("", "pv-ssh-client-")
	if err != nil {
		return result{err: err}
	}
	defer os.RemoveAll(home)
	knownHosts := filepath.Join(home, "known_hosts")
	trusted := "@cert-authority *." + hostDomain + " " + string(ssh.MarshalAuthorizedKey(hostCA))
	files := map[string]string{"known_hosts": trusted, "askpass": askpass}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(home, name), []byte(text), 0o700); err != nil {
			return result{err: err}
		}
	}
	args := []string{"-F", "none",
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "HostKeyAlias=" + hostName, "-o", "UpdateHostKeys=no",
		"-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "PreferredAuthentications=publickey,keyboard-interactive",
		"-o", "PasswordAuthentication=no", "-o", "GSSAPIAuthentication=no",
		"-o", "NumberOfPasswordPrompts=1",
		"-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=10", "-o", "LogLevel=ERROR",
	}
	if a.id == nil {
		args = append(args, "-o", "PubkeyAuthentication=no")
	} else {
		args = append(args, "-o", "IdentityFile="+a.id.keyFile)
		if a.id.certFile != "" {
			args = append(args, "-o", "CertificateFile="+a.id.certFile)
		}
	}
	args = append(args, "-p", strconv.Itoa(s.sshd.Port), "-l", a.user, "127.0.0.1", remoteCommand)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home,
		"SSH_ASKPASS=" + filepath.Join(home, "askpass"), "SSH_ASKPASS_REQUIRE=force", "PV_CODE=" + a.code}
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()

	r := result{output: stdout.String()}
	if b, rerr := os.ReadFile(filepath.Join(home, "asked")); rerr == nil {
		r.asked = strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
		for i := range r.asked {
			r.asked[i] = strings.TrimSuffix(r.asked[i], "\n")
		}
	}
	if b, rerr := os.ReadFile(knownHosts); rerr != nil || string(b) != trusted {
		r.knownHostsChanged = true
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		r.err = fmt.Errorf("ssh %s: no answer within %s: %w", s.sshd.Addr("127.0.0.1"), loginTimeout, ctx.Err())
	case errors.As(err, &exit):
		r.err = fmt.Errorf("ssh %s: %w: %s", s.sshd.Addr("127.0.0.1"), err, strings.TrimSpace(stderr.String()))
		r.refused = strings.Contains(stderr.String(), "Permission denied")
		r.hostRefused = strings.Contains(stderr.String(), "Host key verification failed")
	default:
		r.err = fmt.Errorf("ssh %s: %w", s.sshd.Addr("127.0.0.1"), err)
	}
	return r
}
