package verify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// EarlyMaxAge is how long a connection Preconnect opened is kept for the
// request. Vault closes a connection on which no request header has come
// within 10 s (http_read_header_timeout), and a proxy in front of it may
// close one sooner; an older connection is closed, and the request
// connects anew, as it would have without Preconnect.
const EarlyMaxAge = 5 * time.Second

// dialFunc opens a connection as net.Dialer.DialContext does.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// early is the connection Preconnect opens to the client's first address
// while the token is not yet known. Nothing is written on it before the
// client takes it for a request to that address (doOn).
type early struct {
	base    *url.URL // the client's first address, the only one served
	dial    dialFunc // TCP or the Vault Proxy socket, then for https the TLS handshake
	addr    string   // what dial is given for base
	timeout time.Duration
	maxAge  time.Duration // EarlyMaxAge; tests shorten it

	mu      sync.Mutex
	started bool
	taken   bool // a request has claimed the connection
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when dialing has ended
	conn    net.Conn      // the open connection, until taken, expired or closed
	opened  time.Time
	expiry  *time.Timer
}

// Preconnect starts opening a connection to the first of the client's
// addresses: TCP, and for https the TLS handshake, with the client's own
// dialer and TLS settings and within its timeout. The first request to
// that address then uses it if it is still open, younger than EarlyMaxAge
// and silent; otherwise the request dials as it always does. Close ends
// what Preconnect started. Calls after the first do nothing.
func (c *Client) Preconnect() {
	e := c.early
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.closed {
		return
	}
	e.started = true
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	e.cancel = cancel
	e.done = make(chan struct{})
	go e.open(ctx)
}

// open dials for Preconnect and keeps the connection.
func (e *early) open(ctx context.Context) {
	defer close(e.done)
	defer e.cancel()
	conn, err := e.dial(ctx, "tcp", e.addr)
	if err != nil {
		return // the request dials again, and reports what fails
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		conn.Close()
		return
	}
	e.conn, e.opened = conn, time.Now()
	e.expiry = time.AfterFunc(e.maxAge, e.expire)
}

// expire closes a connection no request took in time.
func (e *early) expire() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
}

// Close closes the connection Preconnect opened unless a request took it,
// and stops one still being opened. It waits for the dialing to end, which
// a canceled dial or handshake does at once.
func (c *Client) Close() {
	e := c.early
	if e == nil {
		return
	}
	e.mu.Lock()
	e.closed = true
	started := e.started
	if e.cancel != nil {
		e.cancel()
	}
	e.mu.Unlock()
	if !started {
		return
	}
	<-e.done
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.expiry != nil {
		e.expiry.Stop()
	}
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
}

// take returns the early connection for a request to base, or nil when the
// request must go through the transport, which dials: there is none for
// base, it failed, it was taken already, or it is too old, closed by the
// server or not silent. Only the first request may wait for it, and not
// beyond ctx.
func (e *early) take(ctx context.Context, base *url.URL) net.Conn {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	if !e.started || e.taken || e.closed || base != e.base {
		e.mu.Unlock()
		return nil
	}
	e.taken = true
	e.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	conn := e.conn
	e.conn = nil
	if e.expiry != nil {
		e.expiry.Stop()
	}
	if conn == nil {
		return nil
	}
	if time.Since(e.opened) >= e.maxAge || !silent(conn) {
		conn.Close()
		return nil
	}
	return conn
}

// errHandshakeTimeout is a TLS handshake that did not end within the
// client's timeout.
type errHandshakeTimeout struct{}

func (errHandshakeTimeout) Error() string   { return "TLS handshake timeout" }
func (errHandshakeTimeout) Timeout() bool   { return true }
func (errHandshakeTimeout) Temporary() bool { return true }

// tlsDialer returns a dialer that connects with dial and does the TLS
// handshake with conf as net/http's transport does: the host of addr as
// the server name unless conf names one, the handshake bounded by timeout.
func tlsDialer(dial dialFunc, conf *tls.Config, timeout time.Duration) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := conf.Clone()
		if c.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				c.ServerName = host
			}
		}
		tc := tls.Client(raw, c)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return nil, errHandshakeTimeout{}
			}
			return nil, err
		}
		return tc, nil
	}
}

// transportAddr is the address net/http's transport dials for a request
// to base: host and port, the scheme's port when base names none. Requests
// to a unix socket go to http://localhost (see newRequest).
func transportAddr(base *url.URL) string {
	switch {
	case base.Scheme == "unix":
		return "localhost:80"
	case base.Port() != "":
		return net.JoinHostPort(base.Hostname(), base.Port())
	case base.Scheme == "https":
		return net.JoinHostPort(base.Hostname(), "443")
	default:
		return net.JoinHostPort(base.Hostname(), "80")
	}
}

// silent reports whether conn is still open with nothing to read: a server
// never speaks first on HTTP, so anything readable is a close or an error.
// Over TLS the server may have sent session tickets after the handshake,
// so there the TCP state must still be ESTABLISHED: a close moves it on
// even when data is waiting.
func silent(conn net.Conn) bool {
	tc, isTLS := conn.(*tls.Conn)
	if isTLS {
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN:
			open = true
		case err == nil && n > 0 && isTLS:
			info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			open = err == nil && info.State == unix.BPF_TCP_ESTABLISHED
		}
	})
	return err == nil && open
}

// Warm runs, once and with nothing sent, the code a verify request and its
// answer go through: building the request and decoding a valid answer. In
// a process that has just loaded the engine, the first run of that code
// costs page faults and first-use set-up that would otherwise fall after
// the token came; Preconnect's caller runs it while the user types.
func (c *Client) Warm() {
	body, err := json.Marshal(map[string]string{"otp": echoRequest})
	if err != nil {
		return
	}
	if req, err := c.newRequest(context.Background(), c.bases[0], http.MethodPut, c.mount+"/verify", body); err == nil {
		req.Header.Set("Content-Type", "application/json")
		_ = req.Write(io.Discard)
	}
	_, _ = decodeVerify(http.StatusOK, []byte(`{"data":{"username":"u","ip":"127.0.0.1","role_name":"r"}}`))
}
