package testvault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// A token holder is what keeps a Vault token on a host so that pam_vault
// never needs one of its own: Vault Agent, which writes it to a file sink,
// or Vault Proxy, which adds it to every request sent to its listener. Both
// are the test server's own binary, authenticated with AppRole auto-auth.

// HolderOptions selects the AppRole role a holder logs in with.
type HolderOptions struct {
	// Role names the AppRole role, created if missing.
	Role string
	// Policies are the policies of the role's tokens.
	Policies []string
	// TokenTTL is the life of the role's tokens (token_ttl); Vault Agent
	// renews a token at about two thirds of it, and logs in again when a
	// renewal fails, as it does for a revoked token.
	TokenTTL time.Duration
	// SocketMode, for Vault Proxy, is the listener's socket_mode, set
	// with socket_user and socket_group "0" (Vault applies the mode only
	// with both); "" leaves the socket as the listener makes it.
	SocketMode string
}

// Holder is a running Vault Agent or Vault Proxy.
type Holder struct {
	// Dir is the holder's directory: config, AppRole credentials, log, and
	// the sink or socket. Close removes it.
	Dir string
	// Sink is the file Vault Agent's file sink writes the token to (mode
	// 0600), for token_file; "" for Vault Proxy.
	Sink string
	// Socket is Vault Proxy's unix listener, for vault_addr =
	// "unix://<Socket>"; "" for Vault Agent.
	Socket string

	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	once    sync.Once
}

// holderUp bounds the wait for a holder's first token.
const holderUp = 30 * time.Second

// StartAgent starts Vault Agent with AppRole auto-auth and a file sink of
// mode 0600, and waits until the sink holds a token.
func (s *Server) StartAgent(opts HolderOptions) (*Holder, error) {
	h, auth, err := s.newHolder("agent", opts)
	if err != nil {
		return nil, err
	}
	h.Sink = filepath.Join(h.Dir, "token")
	conf := fmt.Sprintf(`vault { address = %q }
auto_auth {
%s
  sink "file" {
    config = {
      path = %q
      mode = 0600
    }
  }
}
`, s.Addr, auth, h.Sink)
	if err := h.start("agent", conf); err != nil {
		return nil, err
	}
	err = h.waitFor(func() error {
		b, err := os.ReadFile(h.Sink)
		if err == nil && len(b) == 0 {
			err = errors.New("the sink is empty")
		}
		return err
	})
	if err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// StartProxy starts Vault Proxy with AppRole auto-auth, api_proxy
// use_auto_auth_token = "force" and a unix listener, and waits until a
// request through the socket carries its token.
func (s *Server) StartProxy(opts HolderOptions) (*Holder, error) {
	h, auth, err := s.newHolder("proxy", opts)
	if err != nil {
		return nil, err
	}
	h.Socket = filepath.Join(h.Dir, "proxy.sock")
	mode := ""
	if opts.SocketMode != "" {
		mode = fmt.Sprintf("  socket_mode  = %q\n  socket_user  = \"0\"\n  socket_group = \"0\"\n", opts.SocketMode)
	}
	conf := fmt.Sprintf(`vault { address = %q }
auto_auth {
%s
}
api_proxy { use_auto_auth_token = "force" }
listener "unix" {
  address     = %q
  tls_disable = true
%s}
`, s.Addr, auth, h.Socket, mode)
	if err := h.start("proxy", conf); err != nil {
		return nil, err
	}
	if err := h.waitFor(func() error { return h.Do(http.MethodGet, "auth/token/lookup-self", nil, nil) }); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// newHolder makes a holder's directory, the AppRole role and its
// credential files, and returns the auto_auth method block that reads them.
func (s *Server) newHolder(kind string, opts HolderOptions) (*Holder, string, error) {
	if err := s.Do(http.MethodPost, "sys/auth/approle", map[string]string{"type": "approle"}, nil); err != nil &&
		!strings.Contains(err.Error(), "path is already in use") {
		return nil, "", fmt.Errorf("start %s: enable approle: %w", kind, err)
	}
	role := map[string]any{
		"token_policies": opts.Policies,
		"token_ttl":      opts.TokenTTL.String(),
		"token_max_ttl":  "1h",
	}
	if err := s.Do(http.MethodPost, "auth/approle/role/"+opts.Role, role, nil); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", kind, err)
	}
	var roleID, secretID struct {
		Data struct {
			RoleID   string `json:"role_id"`
			SecretID string `json:"secret_id"`
		} `json:"data"`
	}
	if err := s.Do(http.MethodGet, "auth/approle/role/"+opts.Role+"/role-id", nil, &roleID); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", kind, err)
	}
	if err := s.Do(http.MethodPost, "auth/approle/role/"+opts.Role+"/secret-id", nil, &secretID); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", kind, err)
	}
	// Short: a unix socket's path holds at most 107 bytes.
	dir, err := os.MkdirTemp("", "pv-"+kind+"-")
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", kind, err)
	}
	h := &Holder{Dir: dir, logPath: filepath.Join(dir, kind+".log")}
	roleIDFile, secretIDFile := filepath.Join(dir, "role_id"), filepath.Join(dir, "secret_id")
	for path, v := range map[string]string{roleIDFile: roleID.Data.RoleID, secretIDFile: secretID.Data.SecretID} {
		if err := os.WriteFile(path, []byte(v), 0o600); err != nil {
			h.Close()
			return nil, "", fmt.Errorf("start %s: %w", kind, err)
		}
	}
	auth := fmt.Sprintf(`  method "approle" {
    config = {
      role_id_file_path                   = %q
      secret_id_file_path                 = %q
      remove_secret_id_file_after_reading = false
    }
  }`, roleIDFile, secretIDFile)
	return h, auth, nil
}

// start writes conf and runs `vault <kind> -config=<it>`.
func (h *Holder) start(kind, conf string) error {
	bin, err := Bin()
	if err != nil {
		h.Close()
		return err
	}
	confPath := filepath.Join(h.Dir, kind+".hcl")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		h.Close()
		return fmt.Errorf("start %s: %w", kind, err)
	}
	home := filepath.Join(h.Dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		h.Close()
		return fmt.Errorf("start %s: %w", kind, err)
	}
	h.cmd, h.done, err = spawn(bin, h.Dir, h.logPath, []string{"HOME=" + home, "PATH=" + childPath()}, kind, "-config="+confPath)
	if err != nil {
		h.Close()
		return fmt.Errorf("start %s: %w", kind, err)
	}
	return nil
}

// waitFor polls ready until it succeeds, the holder exits, or holderUp
// passes.
func (h *Holder) waitFor(ready func() error) error {
	deadline := time.Now().Add(holderUp)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-h.done:
			return fmt.Errorf("%s exited during start-up: %s\n%s", filepath.Base(h.logPath), h.cmd.ProcessState, h.LogTail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w\n%s", holderUp, err, h.LogTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Token returns what the sink holds now (Vault Agent).
func (h *Holder) Token() (string, error) {
	b, err := os.ReadFile(h.Sink)
	if err != nil {
		return "", fmt.Errorf("agent sink: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// WaitNewToken waits until the sink holds a token other than old, as Vault
// Agent writes once it has logged in again.
func (h *Holder) WaitNewToken(old string) (string, error) {
	var tok string
	err := h.waitFor(func() error {
		var err error
		if tok, err = h.Token(); err == nil && (tok == old || tok == "") {
			err = errors.New("the sink still holds the old token")
		}
		return err
	})
	return tok, err
}

// Do sends a request through Vault Proxy's socket, without a token of its
// own, as Vault's API: a non-nil body is sent as JSON, a non-nil out
// receives the answer, and a non-2xx answer is an *Error.
func (h *Holder) Do(method, path string, body, out any) error {
	c := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", h.Socket)
			},
		},
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://localhost/v1/"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("vault proxy %s /v1/%s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Method: method, Path: path, StatusCode: resp.StatusCode}
		var eb struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(data, &eb) == nil {
			e.Errors = eb.Errors
		}
		return e
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// LogTail returns up to the last 4 KiB of the holder's log.
func (h *Holder) LogTail() string { return tail(h.logPath) }

// Close stops the holder and removes Dir. Close may be called more than
// once.
func (h *Holder) Close() {
	h.once.Do(func() {
		stopGroup(h.cmd, h.done)
		os.RemoveAll(h.Dir)
	})
}
