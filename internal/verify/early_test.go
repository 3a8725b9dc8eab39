package verify

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// connCounter counts, by http.Server.ConnState, the connections a test
// server accepted and closed, and the requests it served.
type connCounter struct {
	mu       sync.Mutex
	accepted int
	requests int
	protos   []string      // each request's protocol
	closed   chan struct{} // gets a value for each closed connection
}

func newConnCounter() *connCounter { return &connCounter{closed: make(chan struct{}, 16)} }

func (c *connCounter) state(_ net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case http.StateNew:
		c.accepted++
	case http.StateClosed, http.StateHijacked:
		c.closed <- struct{}{}
	}
}

func (c *connCounter) counts() (accepted, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepted, c.requests
}

// verifyServer starts a test server, TLS or not, that answers every
// request as Vault answers a valid OTP and counts what it sees.
func verifyServer(t *testing.T, useTLS bool) (*httptest.Server, *connCounter) {
	t.Helper()
	cc := newConnCounter()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc.mu.Lock()
		cc.requests++
		cc.protos = append(cc.protos, r.Proto)
		cc.mu.Unlock()
		w.Write([]byte(validAnswer))
	}))
	srv.Config.ConnState = cc.state
	// The client must not take it up on HTTP/2: the engine is built
	// without it (nethttpomithttp2).
	srv.EnableHTTP2 = true
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, cc
}

// earlyClient returns a client for srv, trusting its certificate.
func earlyClient(t *testing.T, srv *httptest.Server) *Client {
	t.Helper()
	if srv.TLS != nil {
		return newTestClient(t, srv.URL, "ca_cert = "+strconv.Quote(serverCAFile(t, srv)))
	}
	return newTestClient(t, srv.URL)
}

// waitDialed waits until Preconnect's dialing has ended.
func waitDialed(t *testing.T, c *Client) {
	t.Helper()
	select {
	case <-c.early.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Preconnect did not finish dialing")
	}
}

// TestPreconnectCarriesTheRequest: the connection Preconnect opens, over
// http and https, stays silent until the request, and then carries it:
// the server accepts one connection for the whole login.
func TestPreconnectCarriesTheRequest(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run("tls="+strconv.FormatBool(useTLS), func(t *testing.T) {
			srv, cc := verifyServer(t, useTLS)
			c := earlyClient(t, srv)
			c.Preconnect()
			waitDialed(t, c)
			if c.early.conn == nil {
				t.Fatal("Preconnect opened no connection")
			}
			if _, requests := cc.counts(); requests != 0 {
				t.Fatalf("the server saw %d requests before the token was known", requests)
			}
			a, err := c.Verify(context.Background(), testOTP)
			c.Close()
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if a.Username != "alice" {
				t.Fatalf("answer %+v", a)
			}
			if accepted, requests := cc.counts(); accepted != 1 || requests != 1 {
				t.Fatalf("the server accepted %d connections for %d requests, want 1 for 1", accepted, requests)
			}
			if cc.protos[0] != "HTTP/1.1" {
				t.Fatalf("the request came as %s, want HTTP/1.1", cc.protos[0])
			}
		})
	}
}

// TestPreconnectUnixSocket: with a Vault Proxy socket as vault_addr, the
// early connection is to the socket and carries the request.
func TestPreconnectUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "proxy.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	cc := newConnCounter()
	srv := &http.Server{ConnState: cc.state, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc.mu.Lock()
		cc.requests++
		cc.mu.Unlock()
		w.Write([]byte(validAnswer))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := newTestClient(t, "unix://"+sock)
	c.Preconnect()
	waitDialed(t, c)
	if _, err := c.Verify(context.Background(), testOTP); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	c.Close()
	if accepted, requests := cc.counts(); accepted != 1 || requests != 1 {
		t.Fatalf("the socket accepted %d connections for %d requests, want 1 for 1", accepted, requests)
	}
}

// TestPreconnectNotUsedWhenStale: an early connection the server closed,
// or one older than the client keeps them, is not used; the request
// connects anew and succeeds.
func TestPreconnectNotUsedWhenStale(t *testing.T) {
	t.Run("too old", func(t *testing.T) {
		srv, cc := verifyServer(t, false)
		c := earlyClient(t, srv)
		c.early.maxAge = 0
		c.Preconnect()
		waitDialed(t, c)
		if _, err := c.Verify(context.Background(), testOTP); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		c.Close()
		if accepted, requests := cc.counts(); accepted != 2 || requests != 1 {
			t.Fatalf("the server accepted %d connections for %d requests, want 2 for 1", accepted, requests)
		}
	})
	for _, useTLS := range []bool{false, true} {
		t.Run("closed by the server, tls="+strconv.FormatBool(useTLS), func(t *testing.T) {
			url, lines, accepted := closingServer(t, useTLS)
			c := newTestClient(t, url, lines...)
			c.Preconnect()
			waitDialed(t, c)
			if c.early.conn == nil {
				t.Fatal("Preconnect opened no connection")
			}
			// Wait until this side sees the close.
			for i := 0; silent(c.early.conn); i++ {
				if i > 1000 {
					t.Fatal("the server's close never arrived")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := c.Verify(context.Background(), testOTP); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			c.Close()
			if n := accepted(); n != 2 {
				t.Fatalf("the server accepted %d connections, want 2", n)
			}
		})
	}
}

// TestPreconnectClosedWithoutRequest: a login that ends without a token
// closes its early connection, and the server sees no request.
func TestPreconnectClosedWithoutRequest(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run("tls="+strconv.FormatBool(useTLS), func(t *testing.T) {
			srv, cc := verifyServer(t, useTLS)
			c := earlyClient(t, srv)
			c.Preconnect()
			waitDialed(t, c)
			c.Close()
			select {
			case <-cc.closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the server never saw the early connection close")
			}
			if accepted, requests := cc.counts(); accepted != 1 || requests != 0 {
				t.Fatalf("the server accepted %d connections and saw %d requests, want 1 and 0", accepted, requests)
			}
		})
	}
}

// hungHandshake returns a client, with a 30 s timeout, whose Preconnect
// is under way to an https address whose TLS handshake never ends: a
// listener whose backlog is never accepted from still completes TCP
// handshakes, and TLS then waits for a server that never answers.
func hungHandshake(t *testing.T) *Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := newTestClient(t, "https://"+ln.Addr().String(), `timeout = "30s"`)
	c.Preconnect()
	return c
}

// TestPreconnectCloseStopsDialing: Close while the connection is still
// being opened stops it and returns.
func TestPreconnectCloseStopsDialing(t *testing.T) {
	c := hungHandshake(t)
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop a TLS handshake in progress")
	}
	if c.early.conn != nil {
		t.Fatal("a connection was kept after Close")
	}
}

// TestPreconnectHungHandshakeKeepsTheDeadline: a request made while the
// early TLS handshake is still waiting on a server that never answers
// waits for it no longer than its own context allows (the login's
// deadline), not for the dial's longer timeout, and reports Vault
// unavailable. The bound checked is far above the context's and far below
// the dial's: it tells a hang from an answer, not speed.
func TestPreconnectHungHandshakeKeepsTheDeadline(t *testing.T) {
	c := hungHandshake(t)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := verifyWithin(t, ctx, c, 15*time.Second); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Verify = %v, want an error wrapping ErrUnavailable", err)
	}
}

// TestPreconnectCanceled: a request on the early connection to a server
// that never answers ends when its context is canceled, before any
// deadline, and closes the connection.
func TestPreconnectCanceled(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run("tls="+strconv.FormatBool(useTLS), func(t *testing.T) {
			closed := make(chan struct{})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Once the body is read, the server watches the
				// connection and cancels the context when it closes.
				io.ReadAll(r.Body)
				<-r.Context().Done()
				close(closed)
			}))
			if useTLS {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			c := earlyClient(t, srv)
			c.Preconnect()
			waitDialed(t, c)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, err := c.Verify(ctx, testOTP)
			c.Close()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Verify error %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Verify returned %v after the cancel", d)
			}
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the server never saw the connection close")
			}
		})
	}
}

// TestPreconnectSameErrors: against an address where nothing listens, a
// request after Preconnect fails as one without it.
func TestPreconnectSameErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			plain := newTestClient(t, scheme+"://"+addr)
			_, want := plain.Verify(context.Background(), testOTP)
			early := newTestClient(t, scheme+"://"+addr)
			early.Preconnect()
			_, got := early.Verify(context.Background(), testOTP)
			early.Close()
			if want == nil || got == nil || got.Error() != want.Error() || !errors.Is(got, ErrUnavailable) {
				t.Fatalf("with Preconnect: %v; without: %v", got, want)
			}
		})
	}
}

// closingServer accepts connections on loopback: the first it closes at
// once (after the TLS handshake when useTLS, so that the client holds a
// finished handshake, maybe session tickets, and a close), the others it
// serves as Vault answers a valid OTP. It returns the server's URL, the
// config lines that make a client trust it, and a count of accepted
// connections.
func closingServer(t *testing.T, useTLS bool) (string, []string, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	var lines []string
	if useTLS {
		// httptest's certificate, valid for 127.0.0.1.
		donor := httptest.NewTLSServer(http.NotFoundHandler())
		lines = append(lines, "ca_cert = "+strconv.Quote(serverCAFile(t, donor)))
		ln = tls.NewListener(ln, donor.TLS.Clone())
		donor.Close()
		url = "https://" + ln.Addr().String()
	}
	var mu sync.Mutex
	n := 0
	count := func() { mu.Lock(); n++; mu.Unlock() }
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(validAnswer))
	})}
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		count()
		if tc, ok := conn.(*tls.Conn); ok {
			tc.Handshake()
		}
		conn.Close()
		srv.Serve(countingListener{ln, count})
	}()
	t.Cleanup(func() { ln.Close(); srv.Close() })
	return url, lines, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// countingListener calls accepted for each connection it accepts.
type countingListener struct {
	net.Listener
	accepted func()
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted()
	}
	return c, err
}
