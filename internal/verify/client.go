package verify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"pam_vault/internal/config"
)

// MaxAnswer bounds the body read from one Vault answer. A verify answer is a
// few hundred bytes; anything near the bound is not Vault.
const MaxAnswer = 64 << 10

// Client sends requests to the Vault servers of one configuration.
type Client struct {
	bases     []*url.URL // vault_addr's addresses, in the order tried
	mount     string
	totpMount string
	namespace string
	socket    string        // the Vault Proxy socket every request goes to, if any
	timeout   time.Duration // bounds a request whose context has no deadline
	token     string        // sent as X-Vault-Token when set (WithToken)
	http      *http.Client
	early     *early // the connection Preconnect opens; shared by copies
}

// NewClient builds a client from cfg alone. It reads the CA files named by
// cfg but nothing from the environment, and the HTTP transport it uses has
// no proxy and its own TLS settings. When vault_addr is a unix socket, the
// transport connects to it and nowhere else, after holding it to the config
// file's rules (config.CheckSocket); a socket that does not exist yet is
// left to the connection to report.
func NewClient(cfg *config.Config) (*Client, error) {
	var bases []*url.URL
	for _, addr := range cfg.VaultAddrs {
		u, err := url.Parse(addr)
		if err != nil {
			return nil, fmt.Errorf("%w: vault_addr: %w", ErrConfig, err)
		}
		bases = append(bases, u)
	}
	if len(bases) == 0 {
		return nil, fmt.Errorf("%w: vault_addr holds no address", ErrConfig)
	}
	tlsConf, err := transportTLS(cfg, bases)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: -1}
	dial := dialer.DialContext
	socket := cfg.SocketPath()
	if socket != "" {
		if err := config.CheckSocket(socket); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: vault_addr: %w", ErrConfig, err)
		}
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socket)
		}
	}
	// For https the client does the TLS handshake itself, with tlsConf and
	// bounded by the timeout, so that the connection Preconnect opens and
	// the transport's are made alike; tlsConf stays on the transport for
	// PeerCertificates.
	dialTLS := tlsDialer(dial, tlsConf, cfg.Timeout)
	e := &early{base: bases[0], dial: dial, addr: transportAddr(bases[0]), timeout: cfg.Timeout, maxAge: EarlyMaxAge}
	if bases[0].Scheme == "https" {
		e.dial = dialTLS
	}
	// A request on the connection Preconnect opened is sent by the client
	// itself (doOn); the transport carries the others.
	transport := &http.Transport{
		Proxy:                  nil, // never HTTP_PROXY and friends
		DialContext:            dial,
		DialTLSContext:         dialTLS,
		TLSClientConfig:        tlsConf,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: MaxAnswer,
		DisableCompression:     true,
		DisableKeepAlives:      true,
	}
	return &Client{
		bases:     bases,
		mount:     cfg.SSHMountPoint,
		totpMount: cfg.TOTPMountPoint,
		namespace: cfg.Namespace,
		socket:    socket,
		timeout:   cfg.Timeout,
		early:     e,
		http: &http.Client{
			Transport: transport,
			// A redirect would carry the OTP to an address the operator did
			// not configure.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// transportTLS returns the TLS settings of the client's transport. Reading a
// CA bundle is most of an http login's own CPU time, so when no address uses
// https (dev) none is read, and the transport gets a configuration that
// trusts nothing; the CA keys are then ignored, as vault-ssh-helper's -dev
// ignored them.
func transportTLS(cfg *config.Config, bases []*url.URL) (*tls.Config, error) {
	for _, b := range bases {
		if b.Scheme == "https" {
			return TLSConfig(cfg)
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool()}, nil
}

// Addrs returns the addresses the client tries, in order.
func (c *Client) Addrs() []string {
	addrs := make([]string, len(c.bases))
	for i, b := range c.bases {
		addrs[i] = b.Redacted()
	}
	return addrs
}

// Pinned returns a client that talks to the i-th address only, for checks
// that report on each server.
func (c *Client) Pinned(i int) *Client {
	p := *c
	p.bases = c.bases[i : i+1]
	return &p
}

// WithToken returns a client that sends token as X-Vault-Token with every
// request. The OTP check needs none: Vault's verify endpoint is
// unauthenticated.
func (c *Client) WithToken(token string) *Client {
	p := *c
	p.token = token
	return &p
}

// Send sends one request for path, relative to /v1/, with payload encoded
// as its JSON body unless payload is nil, and returns Vault's HTTP status and
// body for the caller to read. Addresses are tried as for every request of
// the client (see send).
func (c *Client) Send(ctx context.Context, method, path string, payload any) (int, []byte, error) {
	var body []byte
	if payload != nil {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return 0, nil, fmt.Errorf("encoding request: %w", err)
		}
	}
	return c.send(ctx, method, path, body)
}

// Answer is what Vault says about a valid OTP: whom and where it was issued
// for, and under which role. Vault deletes the OTP when it answers this.
type Answer struct {
	Username string
	IP       string
	Role     string
}

// Verify asks Vault whether otp is valid. The caller must have checked the
// shape with IsOTP. The error wraps ErrRejected ("OTP rejected: …") when
// Vault says the OTP is not valid and ErrUnavailable when Vault gave no
// usable answer.
func (c *Client) Verify(ctx context.Context, otp string) (Answer, error) {
	status, body, err := c.put(ctx, c.mount+"/verify", map[string]string{"otp": otp})
	if err != nil {
		return Answer{}, err
	}
	return decodeVerify(status, body)
}

// echoRequest is the OTP value that Vault answers with echoResponse without
// looking anything up: a harmless probe of reachability, mount and namespace.
const (
	echoRequest  = "verify-echo-request"
	echoResponse = "verify-echo-response"
)

// Echo sends Vault's echo request to the verify endpoint. Success proves that
// the server is reachable, trusted, unsealed and has an SSH secrets engine at
// the configured mount in the configured namespace. It consumes nothing.
func (c *Client) Echo(ctx context.Context) error {
	status, body, err := c.put(ctx, c.mount+"/verify", map[string]string{"otp": echoRequest})
	if err != nil {
		return err
	}
	return decodeEcho(status, body)
}

// Health is the state Vault reports at sys/health.
type Health struct {
	Initialized bool   `json:"initialized"`
	Sealed      bool   `json:"sealed"`
	Standby     bool   `json:"standby"`
	Version     string `json:"version"`
	Enterprise  bool   `json:"enterprise"`
}

// Health reads sys/health, which needs no token.
func (c *Client) Health(ctx context.Context) (Health, error) {
	_, body, err := c.send(ctx, http.MethodGet, "sys/health?standbyok=true&perfstandbyok=true", nil)
	if err != nil {
		return Health{}, err
	}
	var h Health
	if err := json.Unmarshal(body, &h); err != nil {
		return Health{}, fmt.Errorf("%w: sys/health answer is not JSON: %w", ErrUnavailable, err)
	}
	return h, nil
}

// PeerCertificates connects to Vault with TLS and returns the chain the
// server presented. It fails for an http address.
func (c *Client) PeerCertificates(ctx context.Context) (*tls.ConnectionState, error) {
	base := c.bases[0]
	if base.Scheme != "https" {
		return nil, fmt.Errorf("%s does not use TLS", base.Redacted())
	}
	t := c.http.Transport.(*http.Transport)
	host := base.Host
	if base.Port() == "" {
		host = net.JoinHostPort(base.Hostname(), "443")
	}
	conf := t.TLSClientConfig.Clone()
	if conf.ServerName == "" {
		conf.ServerName = base.Hostname()
	}
	dialer := &tls.Dialer{NetDialer: &net.Dialer{}, Config: conf}
	conn, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("%w: TLS connection to %s: %w", ErrUnavailable, host, err)
	}
	defer conn.Close()
	state := conn.(*tls.Conn).ConnectionState()
	return &state, nil
}

func (c *Client) put(ctx context.Context, path string, payload any) (int, []byte, error) {
	buf, err := json.Marshal(payload)
	if err != nil {
		return 0, nil, fmt.Errorf("encoding request: %w", err)
	}
	return c.send(ctx, http.MethodPut, path, buf)
}

// send sends one request to the first address that answers it. The next
// address is tried only when one cannot answer: it is unreachable, times
// out, fails TLS, redirects, or answers 5xx. Any other answer is final,
// because it may be Vault's word on the OTP, which it has then deleted.
// Each attempt gets an equal share of what is left of ctx's deadline, so a
// server that hangs leaves time for the others.
func (c *Client) send(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var failures []error
	for i, base := range c.bases {
		attemptCtx, cancel := shareDeadline(ctx, len(c.bases)-i)
		status, answer, err := c.sendTo(attemptCtx, base, method, path, body)
		cancel()
		if err == nil && !retryable(status) {
			return status, answer, nil
		}
		if err == nil {
			_, err = decodeEnvelope(status, answer)
			err = fmt.Errorf("%s: %w", base.Redacted(), err)
		}
		failures = append(failures, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(failures) == 1 {
		return 0, nil, failures[0]
	}
	msgs := make([]string, len(failures))
	for i, f := range failures {
		msgs[i] = strings.TrimPrefix(f.Error(), ErrUnavailable.Error()+": ")
	}
	return 0, nil, fmt.Errorf("%w: no address answered: %s", ErrUnavailable, strings.Join(msgs, "; "))
}

// retryable reports whether an answer with status leaves the question open.
func retryable(status int) bool {
	return status >= 500 || (status >= 300 && status < 400)
}

// shareDeadline returns a context whose deadline is 1/n of what is left of
// ctx's.
func shareDeadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(deadline)/time.Duration(n))
}

func (c *Client) sendTo(ctx context.Context, base *url.URL, method, path string, body []byte) (int, []byte, error) {
	req, err := c.newRequest(ctx, base, method, path, body)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if conn := c.early.take(ctx, base); conn != nil {
		return c.doOn(ctx, conn, req)
	}
	return c.do(req)
}

func (c *Client) newRequest(ctx context.Context, base *url.URL, method, path string, body []byte) (*http.Request, error) {
	if base.Scheme == "unix" {
		// The transport dials the socket whatever the URL's host is.
		base = &url.URL{Scheme: "http", Host: "localhost"}
	}
	u := base.JoinPath("v1")
	rel, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("%w: request path %q: %w", ErrConfig, path, err)
	}
	u = u.JoinPath(rel.Path)
	u.RawQuery = rel.RawQuery
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: building request: %w", ErrConfig, err)
	}
	// Vault refuses API requests without this header on some listeners;
	// it marks the request as coming from an API client, not a browser.
	req.Header.Set("X-Vault-Request", "true")
	if c.namespace != "" {
		req.Header.Set("X-Vault-Namespace", c.namespace)
	}
	if c.token != "" {
		req.Header.Set("X-Vault-Token", c.token)
	}
	return req, nil
}

// do sends req through the transport and reads at most MaxAnswer bytes of
// the answer.
func (c *Client) do(req *http.Request) (int, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, req.Method, redactedURL(req.URL), unwrapURLError(err))
	}
	return readAnswer(req, resp)
}

// errHeaderTooLarge is an answer whose header alone passes MaxAnswer bytes,
// which the transport refuses too (MaxResponseHeaderBytes), in its words.
var errHeaderTooLarge = fmt.Errorf("server response headers exceeded %d bytes; aborted", MaxAnswer)

// doOn sends req on conn, the connection Preconnect opened, from the
// calling goroutine and reads the answer as do does, then closes conn. The
// transport would hand the request to goroutines of its own for writing
// and reading, and those handoffs between threads cost more than the
// request itself on a near server; one request on a connection that is
// closed afterwards needs none of the transport's pooling. ctx bounds all
// of it, through conn's deadline.
func (c *Client) doOn(ctx context.Context, conn net.Conn, req *http.Request) (int, []byte, error) {
	defer conn.Close()
	fail := func(err error) (int, []byte, error) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if cerr := ctx.Err(); cerr != nil {
				err = cerr
			}
			err = fmt.Errorf("timed out: %w", err)
		}
		return 0, nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, req.Method, redactedURL(req.URL), err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return fail(err)
		}
	}
	// A cancel before the deadline ends the exchange as the deadline would.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// As the transport does with DisableKeepAlives: the server closes
	// after answering, since nothing else will come on conn.
	req.Close = true
	w := bufio.NewWriter(conn)
	if err := req.Write(w); err != nil {
		return fail(err)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	// The header is bounded as the transport bounds it; the body then by
	// readAnswer.
	limit := &io.LimitedReader{R: conn, N: MaxAnswer}
	br := bufio.NewReader(limit)
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(br, req); err != nil {
			if limit.N <= 0 {
				err = errHeaderTooLarge
			}
			return fail(err)
		}
		// An interim answer (100 Continue, 103 Early Hints) comes before
		// the answer, as the transport also reads past it; its header
		// counts towards the bound.
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	limit.N = MaxAnswer + 1
	return readAnswer(req, resp)
}

// readAnswer reads at most MaxAnswer bytes of the answer to req and closes
// it.
func readAnswer(req *http.Request, resp *http.Response) (int, []byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: reading answer of %s: %w", ErrUnavailable, redactedURL(req.URL), err)
	}
	if len(body) > MaxAnswer {
		return 0, nil, fmt.Errorf("%w: answer of %s is larger than %d bytes", ErrUnavailable, redactedURL(req.URL), MaxAnswer)
	}
	return resp.StatusCode, body, nil
}

func redactedURL(u *url.URL) string {
	v := *u
	v.RawQuery = ""
	return v.Redacted()
}

// unwrapURLError drops the *url.Error layer, whose text repeats the method
// and address already in the message.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timed out: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

func decodeVerify(status int, body []byte) (Answer, error) {
	var a Answer
	if err := DecodeData(status, body, "verify answer",
		Field{"username", &a.Username}, Field{"ip", &a.IP}, Field{"role_name", &a.Role}); err != nil {
		return Answer{}, named("OTP", err)
	}
	for _, f := range []struct{ name, v string }{{"username", a.Username}, {"ip", a.IP}, {"role_name", a.Role}} {
		if f.v == "" {
			return Answer{}, fmt.Errorf("%w: verify answer's data.%s is empty", ErrUnavailable, f.name)
		}
	}
	return a, nil
}

func decodeEcho(status int, body []byte) error {
	var message string
	err := named("OTP", DecodeData(status, body, "echo answer", Field{"message", &message}))
	switch {
	case err != nil && status == http.StatusOK:
		return fmt.Errorf("echo answer is not %q: %w", echoResponse, err)
	case err != nil:
		return err
	case message != echoResponse:
		return fmt.Errorf("%w: echo answer is not %q: %s", ErrUnavailable, echoResponse, truncate(message))
	}
	return nil
}

// truncate keeps a message from Vault short enough for one log line.
func truncate(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
