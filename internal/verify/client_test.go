package verify

// These tests run the client against httptest servers only for what a real
// Vault never does: oversized answers, redirects, silence, and proxies. What
// a real Vault answers is the integration suite's business. They also check
// the request the client sends.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testOTP is an OTP-shaped token.
const testOTP = "0d2c6a3e-5f4b-4c1d-9e8f-7a6b5c4d3e2f"

// validAnswer is what Vault answers for a valid OTP.
const validAnswer = `{"data":{"username":"alice","ip":"127.0.0.1","role_name":"otp"}}`

// newTestClient returns a client for a config with vault_addr set to addr
// plus lines. Unless lines set ca_cert, it trusts a CA of its own, so that
// the tests do not depend on the host's CA bundle.
func newTestClient(t *testing.T, addr string, lines ...string) *Client {
	t.Helper()
	all := append([]string{"vault_addr = " + strconv.Quote(addr)}, lines...)
	if !strings.Contains(strings.Join(lines, "\n"), "ca_cert") {
		pemPath := writeFile(t, t.TempDir(), "ca.pem", newCA(t, "test CA").pem)
		all = append(all, "ca_cert = "+strconv.Quote(pemPath))
	}
	c, err := NewClient(parseConfig(t, all...))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// forEachPath runs f once with requests sent through the transport and
// once, with early set, after Preconnect, so that the first request goes
// on the early connection (doOn): both must behave alike.
func forEachPath(t *testing.T, f func(t *testing.T, early bool)) {
	for _, early := range []bool{false, true} {
		t.Run("early="+strconv.FormatBool(early), func(t *testing.T) { f(t, early) })
	}
}

// preconnect calls c.Preconnect when early is set, and closes c at the
// end of the test.
func preconnect(t *testing.T, c *Client, early bool) {
	if early {
		c.Preconnect()
		t.Cleanup(c.Close)
	}
}

// verifyOn sends testOTP's verify request to a test server of h, through
// the transport or, with early set, on the connection Preconnect opened.
func verifyOn(t *testing.T, h http.Handler, early bool) (Answer, error) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL)
	preconnect(t, c, early)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Verify(ctx, testOTP)
}

// verifyWithin calls c.Verify with ctx and fails t when it has not
// returned within limit: the bound, far above any deadline under test,
// tells a hang from an answer, not speed.
func verifyWithin(t *testing.T, ctx context.Context, c *Client, limit time.Duration) (Answer, error) {
	t.Helper()
	type result struct {
		a   Answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := c.Verify(ctx, testOTP)
		done <- result{a, err}
	}()
	select {
	case r := <-done:
		return r.a, r.err
	case <-time.After(limit):
		t.Fatalf("Verify did not return within %v", limit)
		return Answer{}, nil
	}
}

// serverCAFile writes the certificate of the TLS server srv to a PEM file.
func serverCAFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	block := &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}
	return writeFile(t, t.TempDir(), "server.pem", pem.EncodeToMemory(block))
}

// seenRequest is what a test server saw of one request.
type seenRequest struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// TestClientRequest checks the request the client sends: PUT to
// /v1/<mount>/verify, the API header, the namespace only when configured, no
// token, and a JSON body with the OTP alone. Hostile VAULT_* variables in the
// environment change none of it.
func TestClientRequest(t *testing.T) {
	for k, v := range map[string]string{
		"VAULT_TOKEN":      "hostile-token",
		"VAULT_NAMESPACE":  "hostile-ns",
		"VAULT_HEADERS":    `{"X-Hostile":"1"}`,
		"VAULT_ADDR":       "http://127.0.0.1:1",
		"VAULT_AGENT_ADDR": "http://127.0.0.1:1",
	} {
		t.Setenv(k, v)
	}
	tests := []struct {
		name      string
		tls       bool
		lines     []string
		wantPath  string
		namespace string // "" for no header
	}{
		{name: "default mount", wantPath: "/v1/ssh/verify"},
		{name: "nested mount", lines: []string{`ssh_mount_point = "team/ssh"`}, wantPath: "/v1/team/ssh/verify"},
		{name: "nested mount with slashes", lines: []string{`ssh_mount_point = "/team/ssh/"`}, wantPath: "/v1/team/ssh/verify"},
		{name: "namespace", lines: []string{`namespace = "team-a"`}, wantPath: "/v1/ssh/verify", namespace: "team-a"},
		{name: "nested namespace", lines: []string{`namespace = "org/team-a/"`}, wantPath: "/v1/ssh/verify", namespace: "org/team-a/"},
		{name: "https, nested mount and namespace", tls: true,
			lines:    []string{`ssh_mount_point = "team/ssh"`, `namespace = "team-a"`},
			wantPath: "/v1/team/ssh/verify", namespace: "team-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T, early bool) {
				var (
					mu   sync.Mutex
					seen []seenRequest
				)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					mu.Lock()
					seen = append(seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
					mu.Unlock()
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, `{"errors":["OTP not found"]}`)
				})
				var srv *httptest.Server
				lines := tt.lines
				if tt.tls {
					srv = httptest.NewTLSServer(h)
					lines = append(lines, "ca_cert = "+strconv.Quote(serverCAFile(t, srv)))
				} else {
					srv = httptest.NewServer(h)
				}
				defer srv.Close()
				c := newTestClient(t, srv.URL, lines...)
				preconnect(t, c, early)

				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c.Verify(ctx, testOTP)
				c.Echo(ctx)

				mu.Lock()
				defer mu.Unlock()
				if len(seen) != 2 {
					t.Fatalf("server saw %d requests, want 2 (verify, echo)", len(seen))
				}
				for i, wantOTP := range []string{testOTP, echoRequest} {
					r := seen[i]
					if r.method != http.MethodPut {
						t.Errorf("request %d: method %s, want PUT", i, r.method)
					}
					if r.path != tt.wantPath || r.query != "" {
						t.Errorf("request %d: path %q query %q, want %q and none", i, r.path, r.query, tt.wantPath)
					}
					if got := r.header.Get("X-Vault-Request"); got != "true" {
						t.Errorf("request %d: X-Vault-Request = %q, want true", i, got)
					}
					if got, ok := r.header["X-Vault-Namespace"]; tt.namespace == "" && ok {
						t.Errorf("request %d: X-Vault-Namespace %q sent without a namespace configured", i, got)
					} else if tt.namespace != "" && (len(got) != 1 || got[0] != tt.namespace) {
						t.Errorf("request %d: X-Vault-Namespace = %q, want %q", i, got, tt.namespace)
					}
					if got, ok := r.header["X-Vault-Token"]; ok {
						t.Errorf("request %d: X-Vault-Token %q sent", i, got)
					}
					if got, ok := r.header["X-Hostile"]; ok {
						t.Errorf("request %d: header from VAULT_HEADERS sent: %q", i, got)
					}
					if got := r.header.Get("Authorization"); got != "" {
						t.Errorf("request %d: Authorization %q sent", i, got)
					}
					if got := r.header.Get("Content-Type"); got != "application/json" {
						t.Errorf("request %d: Content-Type = %q, want application/json", i, got)
					}
					var body map[string]any
					if err := json.Unmarshal(r.body, &body); err != nil {
						t.Errorf("request %d: body %q is not a JSON object: %v", i, r.body, err)
						continue
					}
					if len(body) != 1 || body["otp"] != wantOTP {
						t.Errorf("request %d: body %s, want {\"otp\":%q} alone", i, r.body, wantOTP)
					}
				}
			})
		})
	}
}

// TestClientOversizedAnswer checks that the client reads at most MaxAnswer
// bytes of an answer and gives up on a larger one.
func TestClientOversizedAnswer(t *testing.T) {
	exact := []byte(`{"errors":["OTP not found"],"pad":"`)
	exact = append(exact, bytes.Repeat([]byte("a"), MaxAnswer-len(exact)-2)...)
	exact = append(exact, `"}`...)
	if len(exact) != MaxAnswer {
		t.Fatalf("exact answer is %d bytes, want %d", len(exact), MaxAnswer)
	}
	var endlessWritten atomic.Int64
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr error
		size    bool // the error names MaxAnswer
	}{
		{
			name: "one byte over, with Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request) {
				body := append([]byte(validAnswer), bytes.Repeat([]byte(" "), MaxAnswer+1-len(validAnswer))...)
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.Write(body)
			},
			wantErr: ErrUnavailable, size: true,
		},
		{
			name: "four times over, chunked",
			handler: func(w http.ResponseWriter, r *http.Request) {
				chunk := bytes.Repeat([]byte(" "), 4096)
				w.Write([]byte(validAnswer))
				for range 4 * MaxAnswer / len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					w.(http.Flusher).Flush()
				}
			},
			wantErr: ErrUnavailable, size: true,
		},
		{
			name: "endless",
			handler: func(w http.ResponseWriter, r *http.Request) {
				chunk := bytes.Repeat([]byte("x"), 4096)
				for r.Context().Err() == nil && endlessWritten.Load() < 1<<30 {
					n, err := w.Write(chunk)
					endlessWritten.Add(int64(n))
					if err != nil {
						return
					}
				}
			},
			wantErr: ErrUnavailable, size: true,
		},
		{
			name: "headers over MaxAnswer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Padding", strings.Repeat("a", MaxAnswer+1))
				io.WriteString(w, validAnswer)
			},
			wantErr: ErrUnavailable, size: true,
		},
		{
			name: "exactly MaxAnswer is read",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				w.Write(exact)
			},
			wantErr: ErrRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T, early bool) {
				a, err := verifyOn(t, tt.handler, early)
				if err == nil {
					t.Fatalf("Verify = %+v, want an error wrapping %v", a, tt.wantErr)
				}
				if kind := errKind(t, err); kind != tt.wantErr {
					t.Fatalf("Verify error %q wraps %v, want %v", err, kind, tt.wantErr)
				}
				if tt.size && !strings.Contains(err.Error(), strconv.Itoa(MaxAnswer)) {
					t.Errorf("Verify error %q does not mention the size bound %d", err, MaxAnswer)
				}
			})
		})
	}
	if n := endlessWritten.Load(); n >= 1<<30 {
		t.Errorf("the endless server wrote %d bytes before the client stopped reading", n)
	}
}

// TestClientRedirect checks that a redirect is not followed: it would carry
// the OTP to an address the operator did not configure.
func TestClientRedirect(t *testing.T) {
	var hits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, validAnswer)
	}))
	defer elsewhere.Close()
	for _, code := range []int{
		http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
	} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			forEachPath(t, func(t *testing.T, early bool) {
				hits.Store(0)
				a, err := verifyOn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, elsewhere.URL+r.URL.Path, code)
				}), early)
				if err == nil {
					t.Fatalf("Verify through a %d redirect = %+v, want an error", code, a)
				}
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("Verify error %q does not wrap ErrUnavailable", err)
				}
				if n := hits.Load(); n != 0 {
					t.Errorf("the redirect target received %d requests", n)
				}
			})
		})
	}
}

// silentServer listens on loopback and accepts connections it never answers.
// With reply set, it reads the request head and then writes reply, and says
// nothing more. It returns the address.
func silentServer(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			if reply != "" {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 4096)
					var head []byte
					for !bytes.Contains(head, []byte("\r\n\r\n")) {
						n, err := conn.Read(buf)
						if err != nil {
							return
						}
						head = append(head, buf[:n]...)
					}
					io.WriteString(conn, reply)
				}()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestClientSilentServer checks that a server that never answers costs one
// deadline and gives ErrUnavailable.
func TestClientSilentServer(t *testing.T) {
	tests := []struct {
		name  string
		url   func(addr string) string
		reply string
		ctx   bool     // bound the call with a 300 ms context
		lines []string // extra config
	}{
		{name: "no answer", url: httpURL, ctx: true},
		{name: "headers, then no body", url: httpURL, ctx: true,
			reply: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"data\":"},
		{name: "half a status line", url: httpURL, ctx: true, reply: "HTTP/1.1 2"},
		{name: "no TLS handshake", url: httpsURL, ctx: true},
		{name: "no answer, config timeout only", url: httpURL, lines: []string{`timeout = "300ms"`}},
		{name: "no TLS handshake, config timeout only", url: httpsURL, lines: []string{`timeout = "300ms"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T, early bool) {
				c := newTestClient(t, tt.url(silentServer(t, tt.reply)), tt.lines...)
				preconnect(t, c, early)
				ctx := context.Background()
				if tt.ctx {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
					defer cancel()
				}
				a, err := verifyWithin(t, ctx, c, 10*time.Second)
				if err == nil {
					t.Fatalf("Verify = %+v, want an error", a)
				}
				if kind := errKind(t, err); kind != ErrUnavailable {
					t.Errorf("Verify error %q wraps %v, want ErrUnavailable", err, kind)
				}
			})
		})
	}
}

func httpURL(addr string) string  { return "http://" + addr }
func httpsURL(addr string) string { return "https://" + addr }

// proxyRecorder is an HTTP proxy that counts what reaches it and answers
// nothing useful.
func proxyRecorder(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestProxyRecorder checks the fixture of TestClientIgnoresProxyEnv: a
// transport told to use it does reach it.
func TestProxyRecorder(t *testing.T) {
	proxy, hits := proxyRecorder(t)
	u, _ := url.Parse(proxy.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
	resp, err := client.Get("http://192.0.2.1:8200/v1/sys/health")
	if err == nil {
		resp.Body.Close()
	}
	if hits.Load() != 1 {
		t.Fatalf("proxy saw %d requests, want 1", hits.Load())
	}
}

// TestClientIgnoresProxyEnv checks that HTTP_PROXY and friends from the
// caller's environment are not used.
func TestClientIgnoresProxyEnv(t *testing.T) {
	proxy, hits := proxyRecorder(t)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	var direct atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		direct.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":["OTP not found"]}`)
	}))
	defer target.Close()

	tests := []struct {
		name       string
		addr       string
		wantDirect int32
	}{
		// Not loopback, which net/http would exempt from the proxy anyway.
		{"http, TEST-NET address", "http://192.0.2.1:8200", 0},
		{"https, TEST-NET address", "https://192.0.2.1:8200", 0},
		{"http, name", "http://vault.invalid:8200", 0},
		{"http, loopback", target.URL, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			direct.Store(0)
			c := newTestClient(t, tt.addr)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if _, err := verifyWithin(t, ctx, c, 10*time.Second); err == nil {
				t.Error("Verify succeeded, want an error")
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the proxy from the environment saw %d requests", n)
			}
			if n := direct.Load(); n != tt.wantDirect {
				t.Errorf("the server saw %d requests, want %d", n, tt.wantDirect)
			}
		})
	}
}

// TestClientWithToken checks that a client from WithToken sends its token
// with Send's requests, that the client it was made from still sends none,
// and that Send sends a body only when given a payload.
func TestClientWithToken(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "hostile-token")
	var (
		mu   sync.Mutex
		seen []seenRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		mu.Unlock()
		io.WriteString(w, `{"data":{}}`)
	}))
	defer srv.Close()
	plain := newTestClient(t, srv.URL, `namespace = "team-a"`)
	withToken := plain.WithToken("operator-token")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, send := range []struct {
		c       *Client
		method  string
		payload any
	}{
		{withToken, http.MethodGet, nil},
		{withToken, http.MethodPut, map[string]any{"generate": true}},
		{plain, http.MethodGet, nil},
	} {
		status, body, err := send.c.Send(ctx, send.method, "totp/keys/alice", send.payload)
		if err != nil || status != http.StatusOK || string(body) != `{"data":{}}` {
			t.Fatalf("Send: %d %q %v", status, body, err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	for i, want := range []struct {
		method, token, contentType, body string
	}{
		{http.MethodGet, "operator-token", "", ""},
		{http.MethodPut, "operator-token", "application/json", `{"generate":true}`},
		{http.MethodGet, "", "", ""},
	} {
		r := seen[i]
		if r.method != want.method || r.path != "/v1/totp/keys/alice" {
			t.Errorf("request %d: %s %s, want %s /v1/totp/keys/alice", i, r.method, r.path, want.method)
		}
		if got := r.header.Values("X-Vault-Token"); want.token == "" && len(got) != 0 || want.token != "" && (len(got) != 1 || got[0] != want.token) {
			t.Errorf("request %d: X-Vault-Token %q, want %q", i, got, want.token)
		}
		if got := r.header.Get("X-Vault-Namespace"); got != "team-a" {
			t.Errorf("request %d: X-Vault-Namespace %q, want team-a", i, got)
		}
		if got := r.header.Get("Content-Type"); got != want.contentType {
			t.Errorf("request %d: Content-Type %q, want %q", i, got, want.contentType)
		}
		if string(r.body) != want.body {
			t.Errorf("request %d: body %q, want %q", i, r.body, want.body)
		}
	}
}

// TestInterimAnswer: an interim answer before Vault's (103 Early Hints
// from a proxy in front of it) is read past on both paths, as the
// transport does, so that the verdict is Vault's answer and not
// "unavailable" for an OTP the request has already used up.
func TestInterimAnswer(t *testing.T) {
	forEachPath(t, func(t *testing.T, early bool) {
		a, err := verifyOn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</v1/sys/health>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, validAnswer)
		}), early)
		if err != nil || a.Username != "alice" {
			t.Fatalf("Verify = %+v, %v; want alice's answer", a, err)
		}
	})
}
