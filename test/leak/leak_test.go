package leak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
)

// The SSH secrets engine the tests configure on their Vault.
const (
	mount = "ssh"
	role  = "otp_key_role"
	user  = "alice"
)

// compile builds testdata/<name>.c into dir with cc and extra flags, linked
// with libpam, and returns the binary's path.
func compile(t *testing.T, dir, name string, flags ...string) string {
	t.Helper()
	if err := pamtest.Tools("cc"); err != nil {
		pamtest.Need(t, "no C compiler: %v", err)
	}
	out := filepath.Join(dir, name)
	src := filepath.Join("testdata", name+".c")
	// With cc present, a failure is the driver's own fault, never a skip.
	if err := pamtest.CompileC(out, src, append([]string{"-O2", "-g"}, flags...)...); err != nil {
		t.Fatalf("%v (is libpam0g-dev installed? make deps)", err)
	}
	return out
}

// vault is the Vault dev server the package's tests share.
type vault struct {
	*testvault.Server
	mu sync.Mutex
}

var (
	sharedVault    *vault
	sharedVaultErr error
	sharedOnce     sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedVault != nil {
		sharedVault.Close()
	}
	os.Exit(code)
}

// startVault returns the package's Vault dev server, with the SSH secrets
// engine and an OTP role for loopback, starting it on first use.
func startVault(t *testing.T) *vault {
	t.Helper()
	sharedOnce.Do(func() {
		s, err := testvault.Start(testvault.Options{})
		if err != nil {
			sharedVaultErr = err
			return
		}
		if err := s.EnableSSH(mount); err != nil {
			sharedVaultErr = err
		} else if err := s.WriteOTPRole(mount, role, user, "127.0.0.0/8"); err != nil {
			sharedVaultErr = err
		}
		if sharedVaultErr != nil {
			s.Close()
			return
		}
		sharedVault = &vault{Server: s}
	})
	if sharedVaultErr != nil {
		pamtest.Need(t, "testvault: %v", sharedVaultErr)
	}
	return sharedVault
}

// otps issues n OTPs for user at 127.0.0.1 and writes them, one per line,
// to a file in dir.
func (v *vault) otps(t *testing.T, dir string, n int) string {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	for range n {
		otp, err := v.IssueOTP(mount, role, user, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(otp + "\n")
	}
	path := filepath.Join(dir, fmt.Sprintf("otps-%d", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// stack writes, in a new directory under dir, a config for v and a PAM
// service "vault" whose one auth line is module with that config, the dev
// argument and args, and a service "vault-totp" that runs the same line in
// TOTP mode, for conversations that are abandoned. It returns the
// directory, for pam_start_confdir.
func (v *vault) stack(t *testing.T, dir, module string, args ...string) string {
	t.Helper()
	confdir, err := os.MkdirTemp(dir, "pam.d-")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pamtest.WriteConfig(dir, filepath.Base(confdir), pamtest.ConfigText(v.Addr, mount, role, "5s"))
	if err != nil {
		t.Fatal(err)
	}
	services, err := pamtest.NewServiceDir(confdir)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(append([]string{"auth requisite", module, "config=" + cfg, "dev"}, args...), " ")
	if _, err := services.Write("vault", line); err != nil {
		t.Fatal(err)
	}
	// The token file is read only once a code has come, which never
	// happens on this service.
	totp, err := pamtest.WriteConfig(dir, filepath.Base(confdir)+"-totp",
		pamtest.ConfigText(v.Addr, mount, role, "5s", `token_file = "/nonexistent/token"`))
	if err != nil {
		t.Fatal(err)
	}
	line = strings.Join(append([]string{"auth requisite", module, "config=" + totp, "dev", "totp"}, args...), " ")
	if _, err := services.Write("vault-totp", line); err != nil {
		t.Fatal(err)
	}
	return confdir
}

// sample is one line of the cycles program's report.
type sample struct {
	cycle    int
	fds      int
	rssKB    int
	threads  int
	children int
}

// summary is the cycles program's last line.
type summary struct {
	cycles, success, authErr, unexpected, logs, debugLogs, otherLogs int
	convErr, incomplete                                              int
}

// runCycles runs the cycles program and parses its report. The run is
// bounded by limit; only a hang reaches it.
func runCycles(t *testing.T, bin string, env []string, limit time.Duration, args ...string) ([]sample, summary) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s ran for %s", filepath.Base(bin), time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s\n%s%s", bin, limit, stdout.String(), tail(stderr.String()))
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", bin, err, stdout.String(), tail(stderr.String()))
	}
	var samples []sample
	var sum summary
	done := false
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 10 && f[0] == "cycle":
			samples = append(samples, sample{cycle: atoi(t, f[1]), fds: atoi(t, f[3]), rssKB: atoi(t, f[5]),
				threads: atoi(t, f[7]), children: atoi(t, f[9])})
		case len(f) == 19 && f[0] == "done":
			sum = summary{cycles: atoi(t, f[2]), success: atoi(t, f[4]), authErr: atoi(t, f[6]),
				unexpected: atoi(t, f[8]), logs: atoi(t, f[10]), debugLogs: atoi(t, f[12]), otherLogs: atoi(t, f[14]),
				convErr: atoi(t, f[16]), incomplete: atoi(t, f[18])}
			done = true
		}
	}
	if !done {
		t.Fatalf("%s printed no summary\n%s%s", bin, stdout.String(), tail(stderr.String()))
	}
	if stderr.Len() > 0 {
		t.Logf("stderr:\n%s", tail(stderr.String()))
	}
	return samples, sum
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("report field %q: %v", s, err)
	}
	return n
}

// tail keeps the last 4 KiB of s.
func tail(s string) string {
	const max = 4 << 10
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// growth is one leak run's parameters and bounds.
type growth struct {
	cycles, every, report int
	// failEvery makes every failEvery-th cycle that is not a valid one
	// fail its conversation (PAM_CONV_ERR and, abandoned on the TOTP
	// service, PAM_INCOMPLETE, in turn); 0 for none.
	failEvery int
	// warm is the cycle after which nothing may grow any more.
	warm int
	// maxRSSGrowthKB bounds VmRSS growth from cycle warm to the end.
	maxRSSGrowthKB int
}

// failures returns how many cycles of g fail their conversation with
// PAM_CONV_ERR and with PAM_CONV_AGAIN, as the cycles program chooses them.
func (g growth) failures() (convErr, incomplete int) {
	for i := 1; g.failEvery > 0 && i <= g.cycles; i++ {
		if i%g.every != 0 && i%g.failEvery == 0 {
			if (i/g.failEvery)%2 == 1 {
				convErr++
			} else {
				incomplete++
			}
		}
	}
	return convErr, incomplete
}

// check logs every sample and fails t when the verdicts were not all as
// expected, when the module did not log exactly one line per attempt
// (none for an abandoned one), when a child process was left unreaped,
// when the open descriptors after warm-up differ from their count at
// cycle warm, when the threads grew after it, or when resident memory grew
// more than g allows.
func (g growth) check(t *testing.T, samples []sample, sum summary) {
	t.Helper()
	var base *sample
	for i, s := range samples {
		t.Logf("cycle %6d: %3d open fds, VmRSS %6d kB, %3d threads, %d children", s.cycle, s.fds, s.rssKB, s.threads, s.children)
		if s.cycle == g.warm {
			base = &samples[i]
		}
		if s.children != 0 {
			t.Errorf("cycle %d: %d child processes left", s.cycle, s.children)
		}
	}
	convErr, incomplete := g.failures()
	t.Logf("%d cycles: %d PAM_SUCCESS, %d PAM_AUTH_ERR, %d PAM_CONV_ERR, %d PAM_INCOMPLETE, %d unexpected; %d log lines above LOG_DEBUG",
		sum.cycles, sum.success, sum.authErr, sum.convErr, sum.incomplete, sum.unexpected, sum.logs)
	if want := g.cycles / g.every; sum.cycles != g.cycles || sum.success != want ||
		sum.convErr != convErr || sum.incomplete != incomplete ||
		sum.authErr != g.cycles-want-convErr-incomplete || sum.unexpected != 0 {
		t.Errorf("verdicts: %+v; want %d cycles, %d successes, %d PAM_CONV_ERR, %d PAM_INCOMPLETE, the rest PAM_AUTH_ERR",
			sum, g.cycles, want, convErr, incomplete)
	}
	if want := g.cycles - incomplete; sum.logs != want {
		t.Errorf("%d log lines above LOG_DEBUG for %d attempts that ended (%d abandoned), want exactly one each", sum.logs, want, incomplete)
	}
	if sum.otherLogs != 0 {
		t.Errorf("libpam logged %d lines of its own; run the cycles program with CYCLES_VERBOSE=1 to see them", sum.otherLogs)
	}
	if len(samples) != g.cycles/g.report || base == nil {
		t.Fatalf("%d samples, none at the end of warm-up (cycle %d)", len(samples), g.warm)
	}
	last := samples[len(samples)-1]
	for _, s := range samples {
		if s.cycle > g.warm && s.fds != base.fds {
			t.Errorf("open descriptors: %d at cycle %d, %d after warm-up at cycle %d", s.fds, s.cycle, base.fds, g.warm)
		}
	}
	grew := last.rssKB - base.rssKB
	t.Logf("after warm-up (cycles %d to %d): open fds %d -> %d, VmRSS %d kB -> %d kB (%+d kB, bound %d kB)",
		g.warm, last.cycle, base.fds, last.fds, base.rssKB, last.rssKB, grew, g.maxRSSGrowthKB)
	if grew > g.maxRSSGrowthKB {
		t.Errorf("VmRSS grew %d kB from cycle %d to %d, more than %d kB", grew, g.warm, last.cycle, g.maxRSSGrowthKB)
	}
}

// maxThreadGrowth bounds how many threads a process may gain after
// warm-up.
const maxThreadGrowth = 4

// TestTenThousandLogins runs 10,000 pam_start/pam_authenticate/pam_end
// cycles in one process through real libpam against a real Vault, with the
// engine loaded in process (in_process): every 100th answers with a valid OTP, the rest
// with well-formed OTPs Vault never issued (each still a round trip to
// Vault), and every 10th of the others fails or abandons its conversation
// while the module's early work is connecting to Vault, or after, which
// must cancel it. After 2,000 cycles of warm-up the open descriptors must
// not change, the threads must not grow, no child process may be left,
// and resident memory must grow less than 16 MiB.
func TestTenThousandLogins(t *testing.T) {
	build := pamtest.Stage(t, "", "pam_vault.so", "pam_vault_go.so", "pam-vault-check")
	v := startVault(t)
	dir := t.TempDir()
	bin := compile(t, dir, "cycles")
	g := growth{cycles: 10000, every: 100, report: 1000, warm: 2000, failEvery: 10, maxRSSGrowthKB: 16 << 10}
	confdir := v.stack(t, dir, filepath.Join(build, "pam_vault.so"), "in_process")
	otps := v.otps(t, dir, g.cycles/g.every)
	samples, sum := runCycles(t, bin, nil, 10*time.Minute, confdir, "vault", user,
		strconv.Itoa(g.cycles), strconv.Itoa(g.every), otps, strconv.Itoa(g.report), strconv.Itoa(g.failEvery), "vault-totp")
	g.check(t, samples, sum)
}

// TestHelperPathLogins runs 1,000 cycles with the helper argument, so that
// each verdict comes from a pam-vault-check helper process: the socket
// pair, the child and its reaping must not leak, nor a helper whose
// conversation failed (every 10th other cycle). The engine is never loaded
// into this process, which stays small: after 200 cycles of warm-up the
// open descriptors and threads must not change, no child process may be
// left, and resident memory must grow less than 1 MiB.
func TestHelperPathLogins(t *testing.T) {
	build := pamtest.Stage(t, "", "pam_vault.so", "pam-vault-check")
	v := startVault(t)
	dir := t.TempDir()
	bin := compile(t, dir, "cycles")
	g := growth{cycles: 1000, every: 100, report: 100, warm: 200, failEvery: 10, maxRSSGrowthKB: 1 << 10}
	confdir := v.stack(t, dir, filepath.Join(build, "pam_vault.so"), "helper")
	otps := v.otps(t, dir, g.cycles/g.every)
	samples, sum := runCycles(t, bin, nil, 10*time.Minute, confdir, "vault", user,
		strconv.Itoa(g.cycles), strconv.Itoa(g.every), otps, strconv.Itoa(g.report), strconv.Itoa(g.failEvery), "vault-totp")
	g.check(t, samples, sum)
}
