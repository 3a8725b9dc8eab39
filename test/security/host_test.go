package security

import (
	"crypto/tls"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"pam_vault/internal/pamtest"
)

var hostDriver struct {
	once sync.Once
	path string
	err  error
}

// host runs testdata/host.c, a PAM application that changes its own
// process state before it authenticates, with args, under pam_wrapper with
// extraEnv added, and records its attempts in the journal.
func (e *env) host(t *testing.T, attempts int, tokens, extraEnv []string, args ...string) run {
	t.Helper()
	hostDriver.once.Do(func() {
		hostDriver.path = filepath.Join(e.dir, "host")
		hostDriver.err = pamtest.CompileC(hostDriver.path, "testdata/host.c")
	})
	if hostDriver.err != nil {
		t.Fatal(hostDriver.err)
	}
	r := e.exec(t, append(e.wrapperEnv(), extraEnv...), "", hostDriver.path, args...)
	if !r.OK {
		t.Fatalf("host %s: exit status %d\n%s", strings.Join(args, " "), r.ExitCode, r.Output)
	}
	journal.Record(t, attempts, tokens, r.Syslog)
	for _, line := range strings.Split(r.Output, "\n") {
		if code, ok := strings.CutPrefix(line, "code "); ok {
			r.code = pamCodes[code]
		}
	}
	return r
}

// TestEmptiedEnvironmentStillUsesTheHelper: a c-shared Go runtime reads
// the environment the process started with, not environ, so a host that
// empties its environment before authenticating (polkit's setuid helper
// calls clearenv) must not let GODEBUG and its kind through to an engine
// loaded in process. GODEBUG=inittrace=1 makes a runtime that read it say
// so on standard error.
func TestEmptiedEnvironmentStillUsesTheHelper(t *testing.T) {
	e := setup(t)
	svc, _ := e.service(t, "emptied-env", config(e.vault.Addr, "3s"))
	for _, how := range []string{"clearenv", "environ-null", "unsetenv"} {
		t.Run(how, func(t *testing.T) {
			for _, tc := range []struct{ token, want string }{
				{forgedOTP, "PAM_AUTH_ERR"},
				{e.otp(t), "PAM_SUCCESS"},
			} {
				r := e.host(t, 1, []string{tc.token}, []string{"GODEBUG=inittrace=1"},
					"env", how, svc, testUser, tc.token)
				expect(t, r, tc.want)
				logged(t, r.SyslogTexts(),
					"GODEBUG is set in the environment the process started with; verifying in a helper process")
				if strings.Contains(r.Output, "init runtime @") {
					t.Fatalf("a Go runtime in the host read GODEBUG:\n%s", r.Output)
				}
			}
		})
	}
}

// TestHostSignalStateIsKept: a host that blocks SIGCHLD to reap its
// children through a signalfd, ignores SIGPIPE and has a handler of its own
// must find all of that as it was after authenticating. The Go runtime's
// threads never block SIGCHLD, SIGURG or SIGPROF and would take them from
// the host, so such a host gets the helper; when the engine is already
// loaded, the calling thread's mask and SIGPIPE are restored, and only what
// cannot be undone remains.
func TestHostSignalStateIsKept(t *testing.T) {
	e := setup(t)
	svc, _ := e.service(t, "signals", config(e.vault.Addr, "3s"))

	otp := e.otp(t)
	r := e.host(t, 1, []string{otp}, nil, "signals", svc, testUser, otp)
	expect(t, r, "PAM_SUCCESS")
	logged(t, r.SyslogTexts(), "SIGCHLD is blocked, and the engine's threads would take it; verifying in a helper process")
	if strings.Contains(r.Output, "changed:") {
		t.Errorf("the host's signal state changed:\n%s", r.Output)
	}
	for _, want := range []string{"exec'd child: SIGPIPE ignored: yes", "sigchld received"} {
		if !strings.Contains(r.Output, want) {
			t.Errorf("want %q:\n%s", want, r.Output)
		}
	}

	// The engine loaded by a thread that blocks nothing; then the main
	// thread, which blocks those signals, verifies in process too.
	otp = e.otp(t)
	r = e.host(t, 2, []string{otp}, nil, "signals-loaded", svc, testUser, otp)
	if !strings.Contains(r.Output, "first code 0\n") || r.code != "PAM_AUTH_ERR" {
		t.Fatalf("want success, then PAM_AUTH_ERR for the used OTP:\n%s", r.Output)
	}
	checkSignalsLoaded(t, r)
}

// TestSIGCHLDAroundForkIsKept starts a child as sudo starts its command:
// every signal blocked on the calling thread around fork(), the child
// exits at once, and only then is the SIGCHLD handler installed and the
// mask restored, which delivers the signal the kernel held. The host is not
// sshd, so by default the module verifies in the helper process, the Go
// runtime never enters the host, and the handler sees the child's exit.
// With in_process on the line the engine's threads, which never block
// SIGCHLD, take the signal before the handler is installed, and it is
// lost: what made the real sudo hang (test/localsvc).
func TestSIGCHLDAroundForkIsKept(t *testing.T) {
	e := setup(t)
	_, cfg := e.service(t, "fork-blocked", config(e.vault.Addr, "3s"))
	module := filepath.Join(e.build, "pam_vault.so")
	for _, tc := range []struct {
		name, args, path, want string
	}{
		{"default", "", "process host is not sshd and in_process is not given; verifying in a helper process", "sigchld handled"},
		{"in_process", " in_process", "verifying in process (in_process argument given)", "sigchld lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := "fork-blocked-" + tc.name
			if _, err := e.serviceDir.Write(svc, "auth requisite "+module+" config="+cfg+" dev debug"+tc.args); err != nil {
				t.Fatal(err)
			}
			otp := e.otp(t)
			r := e.host(t, 1, []string{otp}, nil, "fork-blocked", svc, testUser, otp)
			expect(t, r, "PAM_SUCCESS")
			logged(t, r.SyslogTexts(), tc.path)
			if !strings.Contains(r.Output, tc.want+"\n") {
				t.Errorf("want %q:\n%s", tc.want, r.Output)
			}
		})
	}
}

// checkSignalsLoaded fails t unless r, a run of host signals-loaded, kept
// the calling thread's mask and SIGPIPE ignored, verified in process, and
// changed only what the Go runtime's loading cannot have undone: SA_ONSTACK
// on the host's handlers and Go's own handler for SIGURG.
func checkSignalsLoaded(t *testing.T, r run) {
	t.Helper()
	if n := strings.Count(strings.Join(r.SyslogTexts(), "\n"), "verifying in process"); n != 2 {
		t.Errorf("%d logins verified in process, want 2:\n%s", n, r.Output)
	}
	allowed := map[string]bool{
		"changed: URG disposition SIG_DFL -> another handler": true,
		"changed: URG handler flags gained SA_ONSTACK":        true,
		"changed: USR1 handler flags gained SA_ONSTACK":       true,
	}
	for _, line := range strings.Split(r.Output, "\n") {
		if strings.HasPrefix(line, "changed:") && !allowed[line] {
			t.Errorf("the host's signal state changed: %s\n%s", line, r.Output)
		}
	}
	if !strings.Contains(r.Output, "exec'd child: SIGPIPE ignored: yes") {
		t.Errorf("a program the host execs no longer starts with SIGPIPE ignored:\n%s", r.Output)
	}
}

// TestEngineWorksWithSIGPIPEIgnored: with SIGPIPE ignored again after the
// engine loaded, the Go runtime's handler no longer sees it, and a write of
// the engine to a connection the server has reset must fail as an error,
// not end the host. The server reads the request and resets the
// connection; the engine's read then fails, and its TLS close_notify write
// gets EPIPE (strace shows write(...) = -1 EPIPE and the SIGPIPE raised).
func TestEngineWorksWithSIGPIPEIgnored(t *testing.T) {
	e := setup(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*tls.Conn); ok {
			if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
				// A reset, without TLS's close_notify first.
				tcp.SetLinger(0)
				tcp.Close()
				return
			}
		}
		conn.Close()
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "reset-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	svc, _ := e.service(t, "reset", config(srv.URL, "3s", `ca_cert = "`+ca+`"`))
	r := e.host(t, 2, []string{forgedOTP}, nil, "signals-loaded", svc, testUser, forgedOTP)
	if !strings.Contains(r.Output, "first code 9\n") || r.code != "PAM_AUTHINFO_UNAVAIL" {
		t.Fatalf("want PAM_AUTHINFO_UNAVAIL twice:\n%s", r.Output)
	}
	logged(t, r.SyslogTexts(), "Vault unavailable", "connection reset by peer")
	checkSignalsLoaded(t, r)
}
