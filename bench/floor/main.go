// Command floor is the benchmark's network floor: the bare verify request
// pam_vault sends for a login, and nothing else. For each line of standard
// input (a one-time password) it sends PUT /v1/<mount>/verify to Vault over
// the same transport as the engine (no proxy, TLS 1.2 or newer trusting only
// -ca, a new connection per request unless -keepalive) and prints
//
//	floor STATUS NANOSECONDS
//
// Started with one line it is the floor of a fresh process per login; fed
// line by line it is the warm floor.
//
// With -totp-mount it is TOTP mode's floor instead: each line is "USER
// CODE", and the request is PUT /v1/<totp-mount>/code/USER with the code,
// sent with the token that -token-file holds, as the engine sends it.
//
// With -pause, each request waits on an open, idle connection first, as
// pam_vault's request waits for the user: an untimed GET /v1/sys/health
// opens the connection (or finds it open), the program sleeps for the
// pause, and then the timed verify request goes out on that connection.
// Back to back requests find Vault's threads and the CPUs still awake; a
// user's request never does.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "", "Vault base URL")
	mount := flag.String("mount", "ssh", "SSH secrets engine mount")
	ca := flag.String("ca", "", "PEM file of the CA to trust (https only)")
	keepalive := flag.Bool("keepalive", false, "reuse one connection across requests")
	pause := flag.Duration("pause", 0, "open the connection first and leave it idle this long before each request (implies -keepalive)")
	totpMount := flag.String("totp-mount", "", "check \"USER CODE\" lines at this TOTP engine mount instead of OTPs")
	tokenFile := flag.String("token-file", "", "file holding the Vault token for -totp-mount")
	flag.Parse()
	var token string
	if *totpMount != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		token = strings.TrimSpace(string(b))
	}
	client, err := newClient(*ca, *keepalive || *pause > 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		if *pause > 0 {
			if err := open(client, *addr+"/v1/sys/health"); err != nil {
				fmt.Fprintln(os.Stderr, "floor:", err)
				os.Exit(1)
			}
			time.Sleep(*pause)
		}
		url, body := *addr+"/v1/"+*mount+"/verify", map[string]string{"otp": in.Text()}
		if *totpMount != "" {
			user, code, _ := strings.Cut(in.Text(), " ")
			url, body = *addr+"/v1/"+*totpMount+"/code/"+user, map[string]string{"code": code}
		}
		start := time.Now()
		status, err := verify(client, url, token, body)
		elapsed := time.Since(start)
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		fmt.Fprintf(out, "floor %d %d\n", status, elapsed.Nanoseconds())
		out.Flush()
	}
}

// newClient builds the HTTP client once per process, as the engine does per
// login.
func newClient(caFile string, keepalive bool) (*http.Client, error) {
	tr := &http.Transport{
		Proxy:              nil,
		DialContext:        (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}).DialContext,
		DisableCompression: true,
		DisableKeepAlives:  !keepalive,
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, nil
}

// verify sends one request, with token as X-Vault-Token unless it is
// empty, and reads the whole answer.
func verify(client *http.Client, url, token string, payload map[string]string) (int, error) {
	body, _ := json.Marshal(payload)
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Vault-Request", "true")
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// open leaves an idle keep-alive connection to Vault in client's pool: it
// sends a GET to url and reads the whole answer, whatever its status.
func open(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
