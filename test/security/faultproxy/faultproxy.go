// Package faultproxy is an HTTP proxy for tests that sits in front of a real
// Vault server and fails on purpose: it forwards requests, rewrites Vault's
// answers, answers by itself, stalls, streams without end, or swallows
// connections. It records every connection and request it gets, so a test
// can also show who was never asked.
package faultproxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one request the proxy received.
type Request struct {
	Method string
	Path   string
	Header http.Header
}

// Proxy listens on a loopback port and answers with its current Fault.
type Proxy struct {
	// URL is the proxy's base address, http://127.0.0.1:port.
	URL string

	upstream *httputil.ReverseProxy
	ln       net.Listener
	srv      *http.Server
	closed   chan struct{}

	mu       sync.Mutex
	fault    Fault
	requests []Request
	conns    int
	held     []net.Conn

	streamed atomic.Int64 // bytes of endless answers accepted by the kernel
}

// New starts a proxy in front of upstream (a base URL such as Vault's
// http://127.0.0.1:8200) that forwards every request until SetFault.
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: upstream: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{Proxy: nil, DisableKeepAlives: true}
	p := &Proxy{
		URL:      "http://" + ln.Addr().String(),
		upstream: rp,
		closed:   make(chan struct{}),
		fault:    Forward(),
	}
	p.ln = &listener{Listener: ln, p: p}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(p.ln)
	return p, nil
}

// SetFault makes f answer every request from now on.
func (p *Proxy) SetFault(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// Reset forgets the recorded connections and requests and the streamed count.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests, p.conns = nil, 0
	p.streamed.Store(0)
}

// Requests returns the requests received since New or Reset.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Conns returns how many connections were accepted since New or Reset,
// including those a Blackhole swallowed.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// Streamed returns how many bytes of endless answers were written to clients
// since New or Reset.
func (p *Proxy) Streamed() int64 { return p.streamed.Load() }

// Close stops the proxy, ends every handler and closes held connections.
func (p *Proxy) Close() {
	select {
	case <-p.closed:
		return
	default:
	}
	close(p.closed)
	p.srv.Close()
	p.mu.Lock()
	for _, c := range p.held {
		c.Close()
	}
	p.held = nil
	p.mu.Unlock()
}

// ServeHTTP records r and answers it with the current fault.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	f := p.fault
	p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()})
	p.mu.Unlock()
	f.serve(p, w, r)
}

// hijack takes over the connection of w and holds it, so that Close closes
// it even while a fault writes to it.
func (p *Proxy) hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	p.held = append(p.held, conn)
	p.mu.Unlock()
	return conn, buf, nil
}

// listener counts accepted connections and hands those a Blackhole fault
// claims to the proxy to hold, unread, until Close.
type listener struct {
	net.Listener
	p *Proxy
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p := l.p
		p.mu.Lock()
		p.conns++
		if !p.fault.blackhole {
			p.mu.Unlock()
			return c, nil
		}
		p.held = append(p.held, c)
		p.mu.Unlock()
	}
}

// RefusedAddr returns an http:// address on loopback where nothing listens:
// a port that was free a moment ago, so connecting to it is refused.
func RefusedAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("faultproxy: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr, nil
}
