package faultproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// Fault is one way of answering, or not answering, a request.
type Fault struct {
	// Name says what the fault does, for test names and failure messages.
	Name      string
	blackhole bool
	serve     func(p *Proxy, w http.ResponseWriter, r *http.Request)
}

// Named returns f under another name, to tell apart faults of one kind.
func (f Fault) Named(name string) Fault {
	f.Name = name
	return f
}

// Forward passes every request to the upstream server and its answer back.
func Forward() Fault {
	return Fault{Name: "forward", serve: func(p *Proxy, w http.ResponseWriter, r *http.Request) {
		p.upstream.ServeHTTP(w, r)
	}}
}

// Blackhole accepts connections and never reads from or writes to them.
func Blackhole() Fault {
	return Fault{Name: "accept and never answer", blackhole: true}
}

// Respond answers every request with status and body as JSON, without
// asking upstream.
func Respond(status int, body string) Fault {
	return Fault{Name: "respond " + http.StatusText(status), serve: func(_ *Proxy, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}}
}

// Echo answers every request with status and Vault's error envelope
// holding the request's own body, as only a server that is not Vault
// would: a client that logged Vault's errors would log what it sent.
func Echo(status int) Fault {
	return Fault{Name: "echo the request", serve: func(_ *Proxy, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		answer, _ := json.Marshal(map[string][]string{"errors": {"you sent " + string(body)}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(answer)
	}}
}

// Redirect answers every request with a 307 to location, which keeps the
// method and body: a client that followed it would carry the OTP there.
func Redirect(location string) Fault {
	return Fault{Name: "redirect", serve: func(_ *Proxy, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, location+r.URL.Path, http.StatusTemporaryRedirect)
	}}
}

// StallBody sends 200 headers that promise a JSON body and the body's first
// byte, then nothing more until the client goes away.
func StallBody() Fault {
	return Fault{Name: "headers then stall", serve: func(p *Proxy, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "{")
		w.(http.Flusher).Flush()
		p.wait(r, 0)
	}}
}

// Drip answers 200 and then a JSON body one byte every interval, without end.
func Drip(interval time.Duration) Fault {
	return Fault{Name: "drip body", serve: func(p *Proxy, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"data":{"username":"`)
		for p.wait(r, interval) {
			if _, err := io.WriteString(w, "a"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}}
}

// Endless answers 200 and a JSON body that never ends: a string value that
// goes on for as long as the client reads, as fast as it reads.
func Endless() Fault {
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	return Fault{Name: "endless body", serve: func(p *Proxy, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"data":{"username":"`)
		for p.wait(r, -1) {
			n, err := w.Write(chunk)
			p.streamed.Add(int64(n))
			if err != nil {
				return
			}
		}
	}}
}

// EndlessHeaders answers 200 and header lines without end.
func EndlessHeaders() Fault {
	return Fault{Name: "endless headers", serve: func(p *Proxy, w http.ResponseWriter, r *http.Request) {
		conn, buf, err := p.hijack(w)
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		for p.wait(r, -1) {
			n, err := buf.WriteString(line)
			p.streamed.Add(int64(n))
			if err != nil || buf.Flush() != nil {
				return
			}
		}
	}}
}

// EndlessInformational answers with 100 Continue responses without end, a
// final answer that never comes.
func EndlessInformational() Fault {
	return Fault{Name: "endless 1xx", serve: func(p *Proxy, w http.ResponseWriter, r *http.Request) {
		conn, buf, err := p.hijack(w)
		if err != nil {
			return
		}
		defer conn.Close()
		for p.wait(r, -1) {
			n, err := buf.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			p.streamed.Add(int64(n))
			if err != nil || buf.Flush() != nil {
				return
			}
		}
	}}
}

// Rewrite forwards the request to upstream and, when upstream answers 200
// with a JSON object, lets edit change that object before it is sent back.
// A verify answer of the real Vault, for a real OTP, can so lose or change
// fields of its data.
func Rewrite(name string, edit func(answer map[string]any)) Fault {
	return Fault{Name: name, serve: func(p *Proxy, w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		p.upstream.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var answer map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &answer) == nil {
			edit(answer)
			body, _ = json.Marshal(answer)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(body)
	}}
}

// RewriteBody forwards the request to upstream and, when upstream answers
// 200, lets edit change the bytes of the answer before they are sent back:
// for what a JSON object cannot hold, such as a key given twice.
func RewriteBody(name string, edit func(body []byte) []byte) Fault {
	return Fault{Name: name, serve: func(p *Proxy, w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		p.upstream.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			body = edit(body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(body)
	}}
}

// wait returns false once the client or the proxy is gone. A positive d
// first sleeps d; zero waits until then; a negative d only checks.
func (p *Proxy) wait(r *http.Request, d time.Duration) bool {
	var tick <-chan time.Time
	switch {
	case d > 0:
		t := time.NewTimer(d)
		defer t.Stop()
		tick = t.C
	case d < 0:
		c := make(chan time.Time)
		close(c)
		tick = c
	}
	select {
	case <-r.Context().Done():
		return false
	case <-p.closed:
		return false
	case <-tick:
		return true
	}
}
