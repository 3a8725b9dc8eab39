package security

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// canaryVar, when set, makes the test binary a canary: an ordinary Go HTTP
// client that honours the environment as net/http and crypto/x509 do by
// default. Its value is the space-separated URLs to PUT a verify request to.
const canaryVar = "PAM_VAULT_SECURITY_CANARY"

// runCanary PUTs a verify request to each URL with http.DefaultClient and
// prints one line per URL. It returns 0 when every URL answered 200.
func runCanary(urls string) int {
	code := 0
	for _, u := range strings.Fields(urls) {
		resp, err := http.DefaultClient.Do(mustRequest(u))
		if err != nil {
			fmt.Printf("%s: %v\n", u, err)
			code = 1
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: HTTP %d\n", u, resp.StatusCode)
		if resp.StatusCode != http.StatusOK {
			code = 1
		}
	}
	return code
}

func mustRequest(u string) *http.Request {
	req, err := http.NewRequest(http.MethodPut, u+"/v1/"+mount+"/verify",
		bytes.NewReader([]byte(`{"otp":"`+forgedOTP+`"}`)))
	if err != nil {
		panic(err)
	}
	return req
}

// TestHostileEnvironmentIsLive shows that the traps of the hostile tests
// work: an ordinary Go client under the same environment sends the trap
// addresses to the impostor through HTTP_PROXY and HTTPS_PROXY, and trusts
// the TLS impostor through SSL_CERT_FILE. Without this, "the impostor was
// never asked" could hold only because the trap was broken.
func TestHostileEnvironmentIsLive(t *testing.T) {
	e := setup(t)
	h := newHostile(t, e)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	urls := strings.Join([]string{trapHTTP, h.tls.URL}, " ")
	r := e.exec(t, append(h.vars(), canaryVar+"="+urls), "", self)
	if !strings.Contains(r.Output, trapHTTP+": HTTP 200") || !strings.Contains(r.Output, h.tls.URL+": HTTP 200") {
		t.Fatalf("a default Go client under the hostile environment did not reach the impostors:\n%s", r.Output)
	}
	if len(h.plain.requests()) != 1 || len(h.tls.requests()) != 1 {
		t.Fatalf("impostors saw %q and %q; want one request each", h.plain.requests(), h.tls.requests())
	}
	// HTTPS_PROXY: the https trap makes a default client send CONNECT to
	// the impostor, which is request enough for checkUntouched.
	r = e.exec(t, append(h.vars(), canaryVar+"="+trapHTTPS), "", self)
	if seen := h.plain.requests(); len(seen) != 2 || !strings.HasPrefix(seen[1], "CONNECT vault.invalid:8443") {
		t.Fatalf("the https trap did not reach the impostor as CONNECT: %q\n%s", seen, r.Output)
	}
}
