package testvault

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// maxResponse bounds how much of a response body Do reads.
const maxResponse = 8 << 20

// Error is a non-2xx answer from Vault.
type Error struct {
	Method     string
	Path       string
	StatusCode int
	// Errors is Vault's "errors" array, if the body had one.
	Errors []string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("vault %s /v1/%s: HTTP %d: %s", e.Method, e.Path, e.StatusCode, strings.Join(e.Errors, "; "))
}

// newClient returns an HTTP client that uses no proxy and, when caFile is
// set, trusts only the CAs in it.
func newClient(caFile string) (*http.Client, error) {
	tr := &http.Transport{
		Proxy:               nil, // never HTTP_PROXY and friends
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read vault CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read vault CA %s: no certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// Do sends a request with the root token to s.Addr+"/v1/"+path. A non-nil
// body is sent as JSON; a non-nil out receives the decoded JSON answer. A
// non-2xx answer is returned as an *Error carrying the status and Vault's
// errors.
func (s *Server) Do(method, path string, body, out any) error {
	return s.DoWithToken(s.RootToken, method, path, body, out)
}

// DoWithToken is Do with token, "" for none, instead of the root token.
func (s *Server) DoWithToken(token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("vault %s /v1/%s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.Addr+"/v1/"+path, rd)
	if err != nil {
		return fmt.Errorf("vault %s /v1/%s: %w", method, path, err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("vault %s /v1/%s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("vault %s /v1/%s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Method: method, Path: path, StatusCode: resp.StatusCode}
		var eb struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(data, &eb) == nil && len(eb.Errors) > 0 {
			e.Errors = eb.Errors
		} else if len(data) > 0 {
			e.Errors = []string{strings.TrimSpace(string(data[:min(len(data), 512)]))}
		}
		return e
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("vault %s /v1/%s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// IsStatus reports whether err is an *Error with the given HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == status
}
