package main

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// engineLoad is what loading the engine costs a process, medians over fresh
// processes.
type engineLoad struct {
	runs              int
	dlopen, firstCall time.Duration // dlopen; the first call into Go (waits for the runtime)
	secondCall        time.Duration // a call once the runtime runs
	hwmBefore         int64         // VmHWM before dlopen, KiB
	hwmAfter          int64         // after the two calls, KiB
}

// measureEngineLoad runs drivers/engineload.c n times.
func measureEngineLoad(l *lab, n int) (engineLoad, error) {
	var d, f, s []time.Duration
	var hb, ha []int64
	for range n {
		out, err := l.output(l.tools.engineLoad, "", l.tools.engine)
		if err != nil {
			return engineLoad{}, err
		}
		fs := strings.Fields(out)
		if len(fs) != 6 || fs[0] != "engineload" {
			return engineLoad{}, fmt.Errorf("unexpected engineload output %q", out)
		}
		var v [5]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(fs[i+1], 10, 64); err != nil {
				return engineLoad{}, fmt.Errorf("unexpected engineload output %q", out)
			}
		}
		d, f, s = append(d, time.Duration(v[0])), append(f, time.Duration(v[1])), append(s, time.Duration(v[2]))
		hb, ha = append(hb, v[3]), append(ha, v[4])
	}
	return engineLoad{runs: n, dlopen: quantile(d, 0.5), firstCall: quantile(f, 0.5),
		secondCall: quantile(s, 0.5), hwmBefore: medianInt(hb), hwmAfter: medianInt(ha)}, nil
}

// output runs argv with stdin and returns its standard output.
func (l *lab) output(name, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*loginTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = l.env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w\n%s", name, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// stageNames are the stages of stages/, in order, with what each covers.
var stageNames = []struct{ key, label string }{
	{"args", "module arguments (config.ParseArgs)"},
	{"config", "config file open+fstat+HCL parse (config.Load)"},
	{"ca_pool", "CA pool: read+parse PEM (verify.TLSConfig)"},
	{"client", "HTTP client construction, excl. CA pool"},
	{"prepare", "request build, until dial starts"},
	{"connect", "TCP connect"},
	{"tls", "TLS handshake (incl. chain verification)"},
	{"write", "write request"},
	{"answer", "Vault's answer: server time + RTT"},
	{"read", "read + JSON decode answer"},
	{"addrs", "interface enumeration (netcheck.LocalAddrs)"},
	{"check", "host/user/role checks (verify.Check)"},
	{"total", "total of Decide's work"},
}

// stageSet is the stage medians of one transport, fresh and warm.
type stageSet struct {
	transport   string
	runs        int
	fresh, warm map[string]time.Duration
}

// measureStages runs stages/ n times in fresh processes and n+1 times in one
// process (its first login left out), for each transport.
func measureStages(l *lab, n int) ([]stageSet, error) {
	var out []stageSet
	for _, tr := range l.transports {
		otps, err := issue(tr.vault, benchUser, 2*n+1)
		if err != nil {
			return nil, err
		}
		argv := []string{"-args", strings.Join(tr.args, " "), "-user", benchUser}
		var fresh []map[string]time.Duration
		for _, otp := range otps[:n] {
			line, err := l.output(l.tools.stages, otp+"\n", argv...)
			if err != nil {
				return nil, err
			}
			m, err := parseStages(line)
			if err != nil {
				return nil, err
			}
			fresh = append(fresh, m)
		}
		text, err := l.output(l.tools.stages, strings.Join(otps[n:], "\n")+"\n", argv...)
		if err != nil {
			return nil, err
		}
		var warm []map[string]time.Duration
		for i, line := range strings.Split(text, "\n") {
			m, err := parseStages(line)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				warm = append(warm, m)
			}
		}
		out = append(out, stageSet{transport: tr.name, runs: n, fresh: medians(fresh), warm: medians(warm)})
	}
	return out, nil
}

// parseStages reads one line of stages/.
func parseStages(line string) (map[string]time.Duration, error) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "stages" {
		return nil, fmt.Errorf("unexpected stages output %q", line)
	}
	m := map[string]time.Duration{}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("unexpected stages output %q", line)
		}
		m[k] = time.Duration(n)
	}
	return m, nil
}

// medians returns each stage's median over runs.
func medians(runs []map[string]time.Duration) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, s := range stageNames {
		var ds []time.Duration
		for _, r := range runs {
			ds = append(ds, r[s.key])
		}
		out[s.key] = quantile(ds, 0.5)
	}
	return out
}
