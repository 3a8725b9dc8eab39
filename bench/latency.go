package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pam_vault/internal/testvault"
)

// loginTimeout bounds one login of any path.
const loginTimeout = 30 * time.Second

// sample is one login's measurements.
type sample struct {
	time      time.Duration // fresh: spawn to exit; warm: the login inside the process
	auth      time.Duration // pam_authenticate alone (libpam paths)
	hwmBefore int64         // VmHWM before the first pam_authenticate, KiB
	hwmAfter  int64         // VmHWM after it, KiB
	rss       int64         // VmRSS after the login, KiB
	childRSS  int64         // peak RSS of the largest child (the helper), KiB
	maxRSS    int64         // the process's peak RSS from wait4, KiB (fresh only)
	prompt    time.Duration // pam_authenticate's call to the prompt; -1 if none
	token     time.Duration // the conversation's return to pam_authenticate's; -1 if none
}

// path is one way of doing a login, measured fresh and warm.
type path struct {
	key       string // engine, helper, engine-totp, helper-totp, floor, floor-keepalive, permit
	transport string // http, tls, proxy, or "" for none
	argv      []string
	parse     func(line string) (sample, error)
	fresh     bool // also run a fresh process per login
	vaultOTPs bool // its logins consume OTPs
	totp      bool // its logins answer TOTP codes, each of its own key
	floor     bool // its program (floor/) reads an OTP per line, not "USER TOKEN"

	otps []string             // one per login, issued before the first
	keys []*testvault.TOTPKey // TOTP paths: one per login, created before the first

	freshSamples []sample
	warmSamples  []sample
	warmFirst    sample // the long-lived process's first login, not in warmSamples
	warmLast     sample
	warmProc     *warmProc
}

// label names the path for tables.
func (p *path) label() string {
	names := map[string]string{
		"permit":          "libpam + pam_permit (no Vault)",
		"engine":          "pam_vault, in-process engine",
		"helper":          "pam_vault, helper process",
		"engine-totp":     "pam_vault TOTP, in-process engine",
		"helper-totp":     "pam_vault TOTP, helper process",
		"floor":           "floor: bare Go PUT verify",
		"floor-keepalive": "floor, keep-alive connection",
		"raw-keepalive":   "floor without Go: C, raw socket, keep-alive",
	}
	return names[p.key]
}

// paths lists every latency path of l: OTP, TOTP and the floor over http
// and TLS, and TOTP through Vault Proxy's socket.
func (l *lab) paths() []*path {
	loginArgv := func(service string) []string {
		return []string{l.tools.login, l.confdir, service}
	}
	// pamVault is the module's two ways in one mode over tr.
	pamVault := func(tr *transport, mode string) []*path {
		var ps []*path
		for _, way := range []string{"engine", "helper"} {
			p := &path{key: way, transport: tr.name, argv: loginArgv(service(way, tr.name, mode)), parse: parseLogin, fresh: true}
			if mode == "totp" {
				p.key, p.totp = way+"-totp", true
			} else {
				p.vaultOTPs = true
			}
			ps = append(ps, p)
		}
		return ps
	}
	ps := []*path{{key: "permit", argv: loginArgv("permit"), parse: parseLogin, fresh: true}}
	for _, tr := range l.transports {
		floor := l.floorArgv(tr)
		ps = append(ps, pamVault(tr, "otp")...)
		ps = append(ps, pamVault(tr, "totp")...)
		ps = append(ps,
			&path{key: "floor", transport: tr.name, argv: floor, parse: parseFloor, fresh: true, vaultOTPs: true, floor: true},
			&path{key: "floor-keepalive", transport: tr.name, argv: append(slices.Clone(floor), "-keepalive"), parse: parseFloor, vaultOTPs: true, floor: true},
		)
		if raw := l.rawFloorArgv(tr, 0); raw != nil {
			ps = append(ps, &path{key: "raw-keepalive", transport: tr.name, argv: raw, parse: parseFloor, vaultOTPs: true, floor: true})
		}
	}
	return append(ps, pamVault(l.proxy, "totp")...)
}

// next is the input line of p's next login: "USER TOKEN" for the libpam
// driver, the OTP alone for the floor. A TOTP path's code is computed here,
// just before its login, from a key no other login uses.
func (p *path) next() (string, error) {
	if p.totp {
		k := p.keys[0]
		p.keys = p.keys[1:]
		code, err := k.Code()
		if err != nil {
			return "", err
		}
		return k.Name + " " + code, nil
	}
	otp := p.otps[0]
	p.otps = p.otps[1:]
	if p.floor {
		return otp, nil
	}
	return benchUser + " " + otp, nil
}

// parseLogin reads a line of drivers/login.c.
func parseLogin(line string) (sample, error) {
	f := strings.Fields(line)
	if len(f) != 10 || f[0] != "login" {
		return sample{}, fmt.Errorf("unexpected driver output %q", line)
	}
	var n [9]int64
	for i := range n {
		v, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return sample{}, fmt.Errorf("unexpected driver output %q", line)
		}
		n[i] = v
	}
	if n[0] != 0 {
		return sample{}, fmt.Errorf("login failed with PAM code %d", n[0])
	}
	return sample{time: time.Duration(n[1]), auth: time.Duration(n[2]), hwmBefore: n[3],
		hwmAfter: n[4], rss: n[5], childRSS: n[6], prompt: time.Duration(n[7]), token: time.Duration(n[8])}, nil
}

// parseFloor reads a line of floor/.
func parseFloor(line string) (sample, error) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "floor" {
		return sample{}, fmt.Errorf("unexpected floor output %q", line)
	}
	if f[1] != "200" {
		return sample{}, fmt.Errorf("floor: Vault answered HTTP %s", f[1])
	}
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return sample{}, fmt.Errorf("unexpected floor output %q", line)
	}
	// Its request is also its token to verdict (the paced floor's).
	return sample{time: time.Duration(ns), token: time.Duration(ns)}, nil
}

// runFresh runs one login, answering line, in a new process and times it
// from spawn to exit.
func (l *lab) runFresh(p *path, line string) (sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	cmd.Env = l.env
	cmd.Stdin = strings.NewReader(line + "\n")
	var out strings.Builder
	cmd.Stdout = &out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", p.argv[0], err, stderr.String())
	}
	s, err := p.parse(strings.TrimSpace(out.String()))
	if err != nil {
		return sample{}, err
	}
	s.time = elapsed
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.maxRSS = ru.Maxrss
	}
	return s, nil
}

// warmProc is a long-lived process fed one line per login.
type warmProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr strings.Builder
}

// startWarm starts p's long-lived process.
func (l *lab) startWarm(p *path) (*warmProc, error) {
	w := &warmProc{cmd: exec.Command(p.argv[0], p.argv[1:]...)}
	w.cmd.Env = l.env
	w.cmd.Stderr = &w.stderr
	var err error
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	w.stdout = bufio.NewReader(out)
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	return w, nil
}

// login sends one login's line and waits for the process's answer.
func (w *warmProc) login(p *path, line string) (sample, error) {
	if _, err := io.WriteString(w.stdin, line+"\n"); err != nil {
		return sample{}, err
	}
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := w.stdout.ReadString('\n')
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return sample{}, fmt.Errorf("%s: %w\n%s", p.argv[0], r.err, w.stderr.String())
		}
		return p.parse(strings.TrimSpace(r.line))
	case <-time.After(loginTimeout):
		w.cmd.Process.Kill()
		return sample{}, fmt.Errorf("%s: no answer within %s", p.argv[0], loginTimeout)
	}
}

// stop closes the process's input and waits for it to exit.
func (w *warmProc) stop() {
	w.stdin.Close()
	done := make(chan struct{})
	go func() { w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		w.cmd.Process.Kill()
		<-done
	}
}

// measureLatency runs rounds+1 rounds; in each, every path does one fresh
// login and one warm login, in a shuffled order. Round 0 warms caches and the
// long-lived processes and is not counted. All OTPs are issued and all TOTP
// keys created first.
func measureLatency(l *lab, rounds int) ([]*path, error) {
	ps := l.paths()
	for _, p := range ps {
		per := 1
		if p.fresh {
			per = 2
		}
		prefix := "pvbench-" + strings.TrimSuffix(p.key, "-totp") + "-" + p.transport
		if err := l.provision(p, prefix, per*(rounds+1)); err != nil {
			return nil, err
		}
	}
	for _, p := range ps {
		w, err := l.startWarm(p)
		if err != nil {
			return nil, err
		}
		p.warmProc = w
		defer w.stop()
	}
	type job struct {
		p     *path
		fresh bool
	}
	var jobs []job
	for _, p := range ps {
		jobs = append(jobs, job{p, false})
		if p.fresh {
			jobs = append(jobs, job{p, true})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round <= rounds; round++ {
		rng.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
		for _, j := range jobs {
			line, err := j.p.next()
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", j.p.label(), j.p.transport, err)
			}
			var s sample
			if j.fresh {
				s, err = l.runFresh(j.p, line)
			} else {
				s, err = j.p.warmProc.login(j.p, line)
			}
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", j.p.label(), j.p.transport, err)
			}
			switch {
			case j.fresh && round > 0:
				j.p.freshSamples = append(j.p.freshSamples, s)
			case !j.fresh && round == 0:
				j.p.warmFirst = s
			case !j.fresh:
				j.p.warmSamples = append(j.p.warmSamples, s)
				j.p.warmLast = s
			}
		}
		if round > 0 && round%50 == 0 {
			step(fmt.Sprintf("latency: %d/%d rounds", round, rounds))
		}
	}
	return ps, nil
}

// provision gives p the tokens of n logins, before any timed section: a
// TOTP key each (named prefix-0, prefix-1, …), an OTP each from Vault, or,
// for a path that needs no Vault, a token that is not an OTP.
func (l *lab) provision(p *path, prefix string, n int) error {
	var err error
	switch {
	case p.totp:
		p.keys, err = totpKeys(l.transport(p.transport).vault, prefix, n)
	case p.vaultOTPs:
		p.otps, err = issue(l.transport(p.transport).vault, benchUser, n)
	default:
		p.otps = make([]string, n)
		for i := range p.otps {
			p.otps[i] = "not-an-otp"
		}
	}
	return err
}

// quantile returns the q-quantile of ds by the nearest-rank method.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// medianInt returns the median of xs.
func medianInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// times extracts a duration from each sample.
func times(ss []sample, f func(sample) time.Duration) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// ints extracts a number from each sample.
func ints(ss []sample, f func(sample) int64) []int64 {
	out := make([]int64, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// floorArgv is bench/floor's command line for tr's Vault, OTP mode.
func (l *lab) floorArgv(tr *transport) []string {
	argv := []string{l.tools.floor, "-addr", tr.vault.Addr, "-mount", mount}
	if tr.vault.CACert != "" {
		argv = append(argv, "-ca", tr.vault.CACert)
	}
	return argv
}

// rawFloorArgv is drivers/rawfloor's command line for tr's Vault, pausing
// pauseMS before each request; nil for a Vault it cannot reach, one that
// is not plain http on an IPv4 address.
func (l *lab) rawFloorArgv(tr *transport, pauseMS int) []string {
	u, err := url.Parse(tr.vault.Addr)
	if err != nil || u.Scheme != "http" || net.ParseIP(u.Hostname()).To4() == nil || u.Port() == "" {
		return nil
	}
	return []string{l.tools.rawFloor, u.Hostname(), u.Port(), mount, strconv.Itoa(pauseMS)}
}
