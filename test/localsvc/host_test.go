package localsvc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pam_vault/internal/pamtest"
)

const (
	// runLimit bounds one run of sudo, su or login: more than the module's
	// helper deadline (35 s), so only a hang comes near it.
	runLimit = 60 * time.Second
	// killWait bounds the wait for a killed run's processes to go.
	killWait = 10 * time.Second
	// utmpPath is glibc's utmp (_PATH_UTMP).
	utmpPath = "/var/run/utmp"
)

// hostOptions describes the /etc a run sees.
type hostOptions struct {
	vaultAddr  string   // the config's vault_addr; default the shared Vault
	sudoers    []string // lines added to the sudoers file
	moduleArgs []string // added to every pam_vault line
}

// host is a private /etc for sudo, su and login: PAM services whose only
// auth module is the built pam_vault, a sudoers file, pam_vault's config,
// a socket for /dev/log, and a /var/log (and utmp) for the login records
// su and login write. Runs see it in mount namespaces of their own; the
// machine's files are never written.
type host struct {
	e      *env
	dir    string
	syslog *pamtest.SyslogSink
	mounts pamtest.Mounts
}

// newHost writes a host's files; t's clean-up closes its socket and shows
// what was logged if t failed.
func (e *env) newHost(t *testing.T, opts hostOptions) *host {
	t.Helper()
	if opts.vaultAddr == "" {
		opts.vaultAddr = e.vault.Addr
	}
	dir := t.TempDir()
	h := &host{e: e, dir: dir}
	config := filepath.Join(dir, "config.hcl")
	// README's lines, with no argument that chooses where the verdict
	// is made: the module's default must be safe in sudo and su.
	auth := strings.Join(append([]string{"auth requisite", filepath.Join(e.build, "pam_vault.so"),
		"config=" + config, "dev", "debug"}, opts.moduleArgs...), " ")
	rest := "account required pam_unix.so\nsession required pam_unix.so\npassword required pam_deny.so\n"
	files := []struct {
		name string
		mode os.FileMode
		text string
	}{
		{"config.hcl", 0o600, pamtest.ConfigText(opts.vaultAddr, mount, role, timeout)},
		// As Debian's, with pam_vault in place of common-auth: sudo-i
		// (sudo -i) has its own auth lines, su-l (su -l) includes su's;
		// su keeps pam_rootok, which lets root through and nobody else.
		// login's has none of Debian's optional modules: no
		// pam_faildelay (a refusal would wait 3 s), pam_nologin (a
		// container may hold /run/nologin), pam_securetty, pam_motd,
		// pam_mail, pam_lastlog, pam_loginuid, pam_limits, pam_env,
		// pam_group, pam_keyinit or pam_selinux; none of them reads the
		// token, and pam_unix's account and session lines are what
		// every service here has.
		{"pam.d/sudo", 0o644, auth + "\n" + rest},
		{"pam.d/sudo-i", 0o644, auth + "\n" + rest},
		{"pam.d/su", 0o644, "auth sufficient pam_rootok.so\n" + auth + "\n" + rest},
		{"pam.d/su-l", 0o644, "auth include su\naccount include su\npassword include su\nsession include su\n"},
		{"pam.d/login", 0o644, auth + "\n" + rest},
		{"pam.d/other", 0o644, "auth required pam_deny.so\naccount required pam_deny.so\n" +
			"session required pam_deny.so\npassword required pam_deny.so\n"},
		{"sudoers", 0o440, sudoers(dir, opts.sudoers)},
		// The login records, as Debian makes them, that would
		// otherwise reach the machine's: util-linux su writes a failed
		// authentication to btmp, Debian 12's login (shadow) a login to
		// utmp and wtmp, util-linux login built with lastlog support
		// to lastlog too. Debian 13 builds login without any. Neither
		// creates a missing one.
		{"log/wtmp", 0o664, ""},
		{"log/btmp", 0o660, ""},
		{"log/lastlog", 0o664, ""},
		{"utmp", 0o664, ""},
	}
	for _, sub := range []string{"pam.d", "log"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.text), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if h.syslog, err = pamtest.NewSyslogSink(filepath.Join(dir, "log.sock")); err != nil {
		t.Fatal(err)
	}
	h.mounts = pamtest.Mounts{
		Dir:    dir,
		Syslog: h.syslog.Path,
		Binds: []pamtest.Bind{
			{Source: filepath.Join(dir, "pam.d"), Target: "/etc/pam.d"},
			{Source: filepath.Join(dir, "sudoers"), Target: "/etc/sudoers"},
			{Source: filepath.Join(dir, "log"), Target: "/var/log"},
		},
	}
	// A machine that keeps no utmp (a container, say) gets none:
	// a bind mount needs its target, and login creates no utmp.
	if _, err := os.Stat(utmpPath); err == nil {
		h.mounts.Binds = append(h.mounts.Binds, pamtest.Bind{Source: filepath.Join(dir, "utmp"), Target: utmpPath})
	}
	t.Cleanup(func() {
		h.syslog.Close()
		if t.Failed() {
			t.Logf("syslog of the host's runs:\n%s", pamtest.FormatLines(h.syslog.Since(0)))
		}
	})
	return h
}

// sudoers is Debian 12's sudoers for the caller, with every file sudo
// writes kept in dir: no lecture, and no cached credentials, so that every
// run asks (a cached one would let a refused OTP's run through).
func sudoers(dir string, extra []string) string {
	lines := append([]string{
		"# Generated by pam_vault's test/localsvc.",
		"Defaults env_reset",
		`Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"`,
		"Defaults use_pty",
		"Defaults lecture=never",
		"Defaults timestamp_timeout=0",
		"Defaults timestampdir=" + filepath.Join(dir, "ts"),
	}, extra...)
	lines = append(lines,
		"root ALL=(ALL:ALL) ALL",
		caller+" ALL=(ALL:ALL) ALL",
	)
	return strings.Join(lines, "\n") + "\n"
}

// invocation is one run of a program as a user, in the host's namespace.
type invocation struct {
	user string   // who runs it
	argv []string // the program and its arguments
	env  []string // added to a minimal environment
	// stdin is its standard input, for a run without a terminal.
	stdin string
	// typed, for a run on a pseudo-terminal, is what the user types, a
	// line at each prompt; nil for a run without one.
	typed  []string
	prompt string
	// prompts, when set, is the prompt of each line of typed instead of
	// prompt.
	prompts []string
	// hangUpAt, when set, is what the terminal shows after the last line
	// typed, at which the user hangs up.
	hangUpAt string
}

// promptFor is the prompt at which the user types line i of typed.
func (inv invocation) promptFor(i int) string {
	if inv.prompts != nil {
		return inv.prompts[i]
	}
	return inv.prompt
}

// outcome is what one run showed.
type outcome struct {
	exitCode       int
	stdout, stderr string // without a terminal
	transcript     string // on a terminal: everything it showed
	syslog         []pamtest.LogLine
	elapsed        time.Duration
}

func (o outcome) String() string {
	return fmt.Sprintf("exit status %d after %s\n--- stdout\n%s\n--- stderr\n%s\n--- terminal\n%s\n--- syslog\n%s",
		o.exitCode, o.elapsed.Round(time.Millisecond), o.stdout, o.stderr, o.transcript, pamtest.FormatLines(o.syslog))
}

// run runs inv and returns its outcome and the lines it logged, which go
// to the journal with tokens, every token it typed. A run that outlives
// runLimit is killed and fails t.
func (h *host) run(t *testing.T, inv invocation, tokens ...string) outcome {
	t.Helper()
	o, err := h.try(t, inv, tokens...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(inv.argv, " "), err, o)
	}
	return o
}

// try is run, returning the error of a run that could not start or was
// killed after runLimit instead of failing t with it.
func (h *host) try(t *testing.T, inv invocation, tokens ...string) (outcome, error) {
	t.Helper()
	argv := append([]string{"setpriv", "--reuid=" + inv.user, "--regid=" + inv.user, "--init-groups", "--"}, inv.argv...)
	argv = h.mounts.Command(argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	// Nothing from the test's environment: the module would see it.
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}, inv.env...)
	// A session of its own: without a terminal of the test's, sudo cannot
	// open the developer's /dev/tty; with one, the pty becomes its
	// controlling terminal, which sudo opens as /dev/tty.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	// Wait returns even if a process it started keeps the output open.
	cmd.WaitDelay = killWait
	mark := h.syslog.Mark()
	var o outcome
	var err error
	if inv.typed == nil {
		o, err = runPiped(cmd, inv.stdin)
	} else {
		o, err = runOnTerminal(cmd, inv)
	}
	if serr := h.syslog.Sync(); serr != nil {
		t.Error(serr)
	}
	o.syslog = h.syslog.Since(mark)
	journal.Keep(len(tokens), tokens, o.syslog)
	return o, err
}

// runPiped runs cmd with stdin and its output in buffers.
func runPiped(cmd *exec.Cmd, stdin string) (outcome, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return outcome{}, err
	}
	err := waitBounded(cmd, time.Now().Add(runLimit))
	o := outcome{elapsed: time.Since(start), stdout: stdout.String(), stderr: stderr.String()}
	o.exitCode = cmd.ProcessState.ExitCode()
	return o, err
}

// waitBounded waits for cmd until deadline. Then it kills every process of
// the run's mount namespace, waits for cmd, and returns an error.
func waitBounded(cmd *exec.Cmd, deadline time.Time) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return err
		}
		return nil
	case <-time.After(time.Until(deadline)):
	}
	kill := fmt.Errorf("still running after %s; killed", runLimit)
	if ns, err := pamtest.MountNS(cmd.Process.Pid); err == nil {
		kill = fmt.Errorf("still running after %s; killed:\n%s", runLimit, pamtest.DescribeMountNS(ns))
		if err := pamtest.KillMountNS(ns, killWait); err != nil {
			kill = fmt.Errorf("%w: %v", kill, err)
		}
	}
	_ = cmd.Process.Kill()
	<-done
	return kill
}
