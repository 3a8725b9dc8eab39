package leak

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

// sanitizerFlags are the flags `make asan` builds build/asan/ with; the
// canary module is built with them too.
var sanitizerFlags = []string{
	"-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all", "-O1", "-g",
}

// The exit statuses the sanitizers are told to use, so that a report can
// never pass for an ordinary failure.
const (
	asanExit  = 86
	ubsanExit = 87
)

// sanitizerReport matches what the sanitizer runtimes print: every line of
// AddressSanitizer and LeakSanitizer starts with ==pid==, and UBSan's with
// file:line: runtime error.
var sanitizerReport = regexp.MustCompile(`==\d+==|runtime error:`)

// sanitized is the environment for a run under the sanitizers: the ASan
// runtime preloaded first (pamtester and libpam are not instrumented),
// pam_wrapper after it, and options that make any report fatal.
type sanitized struct {
	build      string // a copy of build/asan
	serviceDir pamtest.ServiceDir
	env        []string
}

// newSanitized checks for build/asan/ and the ASan runtime and prepares a
// PAM service directory.
func newSanitized(t *testing.T) *sanitized {
	t.Helper()
	s := &sanitized{build: pamtest.Stage(t, "asan", "pam_vault.so", "pam_vault_go.so", "pam-vault-check", "forkharness")}
	if err := pamtest.Tools("pamtester"); err != nil {
		pamtest.Need(t, "%v", err)
	}
	out, err := exec.Command("gcc", "-print-file-name=libasan.so").Output()
	libasan := strings.TrimSpace(string(out))
	if err != nil || !filepath.IsAbs(libasan) {
		pamtest.Need(t, "gcc does not know where libasan.so is (%q, %v); install gcc and libasan (make deps)", libasan, err)
	}
	if s.serviceDir, err = pamtest.NewServiceDir(filepath.Join(t.TempDir(), "pam.d")); err != nil {
		t.Fatal(err)
	}
	s.env = append(pamtest.WrapperEnv(s.serviceDir, 2, libasan),
		fmt.Sprintf("ASAN_OPTIONS=halt_on_error=1:exitcode=%d:detect_leaks=1:detect_stack_use_after_return=1:"+
			"check_initialization_order=1:strict_string_checks=1:detect_invalid_pointer_pairs=1", asanExit),
		fmt.Sprintf("UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=%d", ubsanExit),
	)
	return s
}

// service writes a PAM service whose one auth line is line.
func (s *sanitized) service(t *testing.T, name, line string) string {
	t.Helper()
	if _, err := s.serviceDir.Write(name, line); err != nil {
		t.Fatal(err)
	}
	return name
}

// run runs name with args under the sanitizers, stdin as its input and
// extra variables added, bounded by a minute. It returns the exit status
// and everything printed.
func (s *sanitized) run(t *testing.T, stdin string, extra []string, name string, args ...string) (int, string) {
	t.Helper()
	o := pamtest.Exec(t, time.Minute, append(append([]string{}, s.env...), extra...), stdin, name, args...)
	return o.ExitCode, o.Output
}

// clean fails t if output holds a sanitizer report or the status is one
// the sanitizers exit with.
func clean(t *testing.T, what string, code int, output string) {
	t.Helper()
	if sanitizerReport.MatchString(output) || code == asanExit || code == ubsanExit || code < 0 {
		t.Fatalf("%s: sanitizer report (exit %d):\n%s", what, code, output)
	}
}

// TestSanitizers runs real logins through the adapter and the fork harness
// built with AddressSanitizer and UndefinedBehaviorSanitizer (make asan),
// against a real Vault: the engine in process (itself built with go build
// -asan), the helper process, Vault down, a broken config, a failed
// conversation, and the fork harness's in-process child and helper paths,
// with forks during the conversation among them. Any sanitizer report fails
// the test. A canary module with deliberate faults shows that this setup
// does report them.
func TestSanitizers(t *testing.T) {
	s := newSanitized(t)
	v := startVault(t)
	dir := t.TempDir()

	writeConfig := func(name, addr string, extra ...string) string {
		path, err := pamtest.WriteConfig(dir, name, pamtest.ConfigText(addr, mount, role, "5s", extra...))
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	module := filepath.Join(s.build, "pam_vault.so")
	good := writeConfig("good", v.Addr)
	down := writeConfig("down", "http://127.0.0.1:1")
	broken := writeConfig("broken", v.Addr, "bogus_key = 1")
	line := func(cfg string, args ...string) string {
		return strings.Join(append([]string{"auth requisite", module, "config=" + cfg, "dev", "debug"}, args...), " ")
	}
	// pamtester and the fork harness are not sshd: in_process makes
	// them load the engine as sshd would.
	inProcess := s.service(t, "asan", line(good, "in_process"))
	helper := s.service(t, "asan-helper", line(good, "helper"))
	downSvc := s.service(t, "asan-down", line(down, "in_process"))
	downHelper := s.service(t, "asan-down-helper", line(down, "helper"))
	brokenSvc := s.service(t, "asan-broken", line(broken, "in_process"))

	otp := func(t *testing.T) string {
		t.Helper()
		v.mu.Lock()
		defer v.mu.Unlock()
		key, err := v.IssueOTP(mount, role, user, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	const unknown = "88b0fc03-44e3-718f-b712-50ee585f1a0e"

	t.Run("pamtester", func(t *testing.T) {
		used := otp(t)
		for _, tc := range []struct {
			name, service, token string
			env                  []string
			want, path           string
		}{
			{"valid OTP in process", inProcess, used, nil, "successfully authenticated", "verifying in process"},
			{"used OTP in process", inProcess, used, nil, "Authentication failure", "verifying in process"},
			{"not an OTP in process", inProcess, "hunter2", nil, "Authentication failure", "verifying in process"},
			{"valid OTP through the helper", helper, otp(t), nil, "successfully authenticated", "verifying in a helper process"},
			{"unknown OTP through the helper", helper, unknown, nil, "Authentication failure", "verifying in a helper process"},
			{"GODEBUG set: helper, engine never loaded", inProcess, otp(t), []string{"GODEBUG=madvdontneed=1"},
				"successfully authenticated", "GODEBUG is set"},
			{"Vault down in process", downSvc, unknown, nil, "Authentication service cannot retrieve authentication info", "verifying in process"},
			{"Vault down through the helper", downHelper, unknown, nil, "Authentication service cannot retrieve authentication info", "helper"},
			{"broken config", brokenSvc, unknown, nil, "Error in service module", "verifying in process"},
		} {
			code, out := s.run(t, tc.token+"\n", tc.env, "pamtester", "-v", tc.service, user, "authenticate")
			clean(t, tc.name, code, out)
			if got := pamtest.Result(out); got != tc.want || !strings.Contains(out, tc.path) {
				t.Fatalf("%s: got %q, want %q by a line holding %q\n%s", tc.name, got, tc.want, tc.path, out)
			}
			t.Logf("%s: %s, no sanitizer report", tc.name, tc.want)
		}
	})

	t.Run("fork harness", func(t *testing.T) {
		harness := filepath.Join(s.build, "forkharness")
		for _, tc := range []struct {
			name          string
			child, parent string
			want          []string
			path          string
		}{
			{"child loads the engine", otp(t), "", []string{"child 0"}, "verifying in process"},
			{"child refused", unknown, "", []string{"child 7"}, "verifying in process"},
			{"parent loaded the engine: child uses the helper", otp(t), otp(t), []string{"parent 0", "child 0"},
				"verifying in a helper process"},
			{"helper refuses", unknown, otp(t), []string{"parent 0", "child 7"}, "verifying in a helper process"},
		} {
			args := []string{inProcess, user, tc.child}
			if tc.parent != "" {
				args = append(args, tc.parent)
			}
			code, out := s.run(t, "", []string{"PAM_WRAPPER_DEBUGLEVEL=3"}, harness, args...)
			clean(t, tc.name, code, out)
			if code != 0 || !strings.Contains(out, tc.path) {
				t.Fatalf("%s: exit %d, want 0 and a line holding %q\n%s", tc.name, code, tc.path, out)
			}
			for _, w := range tc.want {
				if !regexp.MustCompile(`(?m)^` + w + `$`).MatchString(out) {
					t.Fatalf("%s: no line %q\n%s", tc.name, w, out)
				}
			}
			t.Logf("%s: %s, no sanitizer report", tc.name, strings.Join(tc.want, ", "))
		}
	})

	t.Run("fork during the conversation", func(t *testing.T) {
		harness := filepath.Join(s.build, "forkharness")
		for _, tc := range []struct {
			name, service, first string
			delay                string // microseconds
		}{
			{"in process, connection under way", inProcess, "-", "0"},
			{"in process, connection open", inProcess, "-", "300000"},
			{"helper, starting", helper, "-", "0"},
			{"engine loaded by an ancestor", inProcess, "hunter2", "0"},
		} {
			code, out := s.run(t, "", nil, harness, "-conv", tc.delay, tc.first, tc.service, user, otp(t), otp(t))
			clean(t, tc.name, code, out)
			for _, w := range []string{"parent 0", "child 0"} {
				if !regexp.MustCompile(`(?m)^` + w + `$`).MatchString(out) {
					t.Fatalf("%s: exit %d, no line %q\n%s", tc.name, code, w, out)
				}
			}
			t.Logf("%s: parent 0, child 0, no sanitizer report", tc.name)
		}
	})

	t.Run("conversation fails", func(t *testing.T) {
		// pamtester's conversation fails at the end of its input: the
		// early work is cancelled.
		for _, svc := range []string{inProcess, helper} {
			code, out := s.run(t, "", nil, "pamtester", "-v", svc, user, "authenticate")
			clean(t, svc, code, out)
			if !strings.Contains(out, "cannot obtain the one-time password") {
				t.Fatalf("%s: the conversation did not fail:\n%s", svc, out)
			}
			t.Logf("%s: conversation failed, no sanitizer report", svc)
		}
	})

	t.Run("canary", func(t *testing.T) {
		canary := compile(t, dir, "canary", append([]string{"-shared", "-fPIC"}, sanitizerFlags...)...)
		so := canary + ".so"
		if err := os.Rename(canary, so); err != nil {
			t.Fatal(err)
		}
		// pam_vault runs first, so the Go engine is loaded when the
		// canary's fault happens: the reports must survive its runtime.
		svc := s.service(t, "canary", "auth optional "+module+" config="+good+" dev debug in_process\nauth required "+so)
		for _, tc := range []struct {
			user, report string
			exit         int
		}{
			{"heap-overflow", "AddressSanitizer: heap-buffer-overflow", asanExit},
			{"signed-overflow", "runtime error: signed integer overflow", ubsanExit},
			{"leak", "LeakSanitizer: detected memory leaks", asanExit},
		} {
			code, out := s.run(t, unknown+"\n", nil, "pamtester", svc, tc.user, "authenticate")
			if !strings.Contains(out, "verifying in process") {
				t.Fatalf("canary %s: the engine was not loaded first:\n%s", tc.user, out)
			}
			if !strings.Contains(out, tc.report) || code != tc.exit {
				t.Fatalf("canary %s: exit %d, want %d with %q:\n%s", tc.user, code, tc.exit, tc.report, out)
			}
			t.Logf("canary %s, engine loaded: exit %d with %q", tc.user, code, tc.report)
		}
		code, out := s.run(t, unknown+"\n", nil, "pamtester", svc, "nobody", "authenticate")
		clean(t, "canary without a fault", code, out)
	})
}
