package security

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pam_vault/test/security/faultproxy"
)

const (
	// memoryBound is the peak resident memory a process may reach while the
	// module reads an endless answer.
	memoryBound = 100 << 20
	// endlessProof is how much the endless fault must be able to stream to
	// a reader that does not stop, to show that the bound means something.
	endlessProof = 4 * memoryBound
	// takenBound is how much of the endless body the module may take:
	// its 64 KiB cap plus what the kernel's socket buffers hold.
	takenBound = 64 << 20
)

// TestEndlessBodyMemory serves an endless verify answer (body, then
// headers). A reader without a cap streams far past memoryBound;
// pam-vault-check login and pamtester, which run the module's engine, must
// end in PAM_AUTHINFO_UNAVAIL with a peak resident memory under
// memoryBound, having taken little of the stream.
func TestEndlessBodyMemory(t *testing.T) {
	e := setup(t)
	proxy, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.SetFault(faultproxy.Endless())

	streamed, took := drain(t, proxy.URL, endlessProof)
	if streamed < endlessProof {
		t.Fatalf("the endless fault streamed only %d bytes to a reader that kept reading", streamed)
	}
	t.Logf("a reader without a cap got %d MiB in %s", streamed>>20, took.Round(time.Millisecond))

	svc, cfg := e.service(t, "endless", config(proxy.URL, faultTimeout.String()))
	check := filepath.Join(e.build, "pam-vault-check")
	runners := []struct {
		name string
		run  func() run
	}{
		{"pam-vault-check login", func() run {
			r := e.exec(t, []string{"PATH=/usr/bin:/bin"}, e.otp(t)+"\n",
				check, "login", "-user="+testUser, "-config="+cfg, "-dev")
			if strings.Contains(r.Output, "verdict: PAM_AUTHINFO_UNAVAIL") {
				r.code = "PAM_AUTHINFO_UNAVAIL"
			}
			return r
		}},
		{"pamtester", func() run { return e.pamtester(t, svc, e.otp(t), nil) }},
	}
	for _, f := range []struct {
		fault  faultproxy.Fault
		reason string
	}{
		{faultproxy.Endless(), "is larger than"},
		{faultproxy.EndlessHeaders(), "headers exceeded"},
	} {
		for _, runner := range runners {
			t.Run(f.fault.Name+"/"+runner.name, func(t *testing.T) {
				proxy.SetFault(f.fault)
				proxy.Reset()
				r := runner.run()
				expect(t, r, "PAM_AUTHINFO_UNAVAIL")
				withinDeadline(t, r)
				if !strings.Contains(r.Output, f.reason) {
					t.Errorf("the reason is not %q:\n%s", f.reason, r.Output)
				}
				t.Logf("peak RSS %d MiB; the proxy streamed %d KiB to it; %s",
					r.MaxRSS>>20, proxy.Streamed()>>10, r.Elapsed.Round(time.Millisecond))
				if r.MaxRSS == 0 || r.MaxRSS > memoryBound {
					t.Errorf("peak RSS %d bytes; want above 0 and under %d", r.MaxRSS, memoryBound)
				}
				if proxy.Streamed() > takenBound {
					t.Errorf("the module took %d bytes of the endless answer; want under %d", proxy.Streamed(), takenBound)
				}
			})
		}
	}
}

// drain reads a verify answer from the endless fault at url without a cap,
// until it has want bytes or a minute has passed.
func drain(t *testing.T, url string, want int64) (int64, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url+"/v1/"+mount+"/verify", nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, want))
	return n, time.Since(start)
}
