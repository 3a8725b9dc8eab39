package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"pam_vault/internal/testvault"
)

// results is everything one run measured.
type results struct {
	started  time.Time
	elapsed  time.Duration
	machine  machine
	rounds   int
	sizes    []objectSize
	latency  []*path
	load     engineLoad
	stages   []stageSet
	sshd     []sshdResult
	sshdNote string
	// token-to-verdict: logins per path, the paths, and the other build
	// measured beside this one ("" for none).
	tokenRounds int
	token       []*tokenPath
	baselineDir string
}

// machine describes where the numbers come from.
type machine struct {
	cpu, kernel, distro, goVersion, vault, openssh string
	cores                                          int
}

// describeMachine reads the CPU, kernel, OS and tool versions.
func describeMachine() machine {
	m := machine{cores: runtime.NumCPU(), goVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.distro = strings.Trim(v, `"`)
			}
		}
	}
	if bin, err := testvault.Bin(); err == nil {
		if out, err := exec.Command(bin, "version").Output(); err == nil {
			// "Vault v1.21.0, built …": the name and the version.
			if f := strings.Fields(string(out)); len(f) >= 2 {
				m.vault = f[0] + " " + strings.TrimRight(f[1], ",")
			}
		}
	}
	if out, err := exec.Command("ssh", "-V").CombinedOutput(); err == nil {
		m.openssh, _, _ = strings.Cut(strings.TrimSpace(string(out)), ",")
	}
	return m
}

// String is the machine in one line.
func (m machine) String() string {
	return fmt.Sprintf("%s, %d cores (shared), %s, %s, %s; %s; %s", m.cpu, m.cores, m.kernel, m.distro, m.goVersion, m.vault, m.openssh)
}

// ms formats d in milliseconds.
func ms(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

// ratio formats a/b.
func ratio(a, b time.Duration) string {
	if a == 0 || b == 0 {
		return "—"
	}
	return fmt.Sprintf("×%.1f", float64(a)/float64(b))
}

// mib formats KiB as MiB.
func mib(kb int64) string {
	if kb <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", float64(kb)/1024)
}

// table is a header and rows of cells, rendered as aligned text or Markdown.
type table struct {
	title  string
	header []string
	rows   [][]string
	notes  []string
}

// text renders t as aligned columns.
func (t table) text() string {
	var b strings.Builder
	b.WriteString("\n" + t.title + "\n")
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
	for _, n := range t.notes {
		b.WriteString("  " + n + "\n")
	}
	return b.String()
}

// markdown renders t as a Markdown table with its notes as a list.
func (t table) markdown() string {
	var b strings.Builder
	b.WriteString("\n### " + t.title + "\n\n")
	b.WriteString("| " + strings.Join(t.header, " | ") + " |\n|")
	for range t.header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	if len(t.notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

// find returns the latency path with key and transport.
func (r *results) find(key, transport string) *path {
	for _, p := range r.latency {
		if p.key == key && p.transport == transport {
			return p
		}
	}
	return nil
}

// freshTime and authTime pick a sample's login time and its
// pam_authenticate time.
func freshTime(s sample) time.Duration { return s.time }
func authTime(s sample) time.Duration  { return s.auth }

// latencyTable is the latency of every path.
func (r *results) latencyTable() table {
	t := table{
		title: fmt.Sprintf("Latency per login, ms (median and p99 over %d logins per path)", r.rounds),
		header: []string{"path", "Vault", "fresh p50", "fresh p99", "…of it pam_authenticate p50",
			"warm p50", "warm p99", "fresh ÷ floor", "warm ÷ floor"},
		notes: []string{
			"fresh: a new process per login (as sshd does), timed from spawn to exit; warm: one long-lived process, each login timed inside it (pam_start to pam_end; the floor's request alone).",
			"libpam paths: bench/drivers/login.c, pam_start_confdir → pam_authenticate → pam_end; the floor: bench/floor, PUT /v1/ssh/verify, new connection per request unless keep-alive.",
			"Every login uses its own OTP, issued before the timed section; paths run interleaved, one login each per round in shuffled order.",
			"TOTP rows: the totp argument, with a config whose token_file holds a token that may only check codes (update on totp/code/*). Every TOTP login is a user of its own with a key of its own, created before the timed section, and answers that key's right 6-digit code, computed just before the login (Vault takes a code once per key). Their ÷ floor compares with the OTP verify request's floor.",
			"proxy: the http Vault through Vault Proxy's unix socket (vault_addr = \"unix://…\", no token_file; AppRole auto-auth, use_auto_auth_token = \"force\"), TOTP only; no floor of its own.",
		},
	}
	for _, p := range r.latency {
		floor := r.find("floor", p.transport)
		fresh := times(p.freshSamples, freshTime)
		warm := times(p.warmSamples, freshTime)
		row := []string{p.label(), p.transport}
		if p.transport == "" {
			row[1] = "—"
		}
		if p.fresh {
			row = append(row, ms(quantile(fresh, 0.5)), ms(quantile(fresh, 0.99)), ms(quantile(times(p.freshSamples, authTime), 0.5)))
		} else {
			row = append(row, "—", "—", "—")
		}
		row = append(row, ms(quantile(warm, 0.5)), ms(quantile(warm, 0.99)))
		if floor != nil && p.key != "floor" {
			fr := "—"
			if p.fresh {
				fr = ratio(quantile(fresh, 0.5), quantile(times(floor.freshSamples, freshTime), 0.5))
			}
			row = append(row, fr, ratio(quantile(warm, 0.5), quantile(times(floor.warmSamples, freshTime), 0.5)))
		} else {
			row = append(row, "—", "—")
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// ratios summarises the comparisons between paths, medians.
func (r *results) ratios() []string {
	var out []string
	med := func(p *path, fresh bool) time.Duration {
		if p == nil {
			return 0
		}
		if fresh {
			return quantile(times(p.freshSamples, freshTime), 0.5)
		}
		return quantile(times(p.warmSamples, freshTime), 0.5)
	}
	for _, tr := range []string{"http", "tls"} {
		e, h, f, k := r.find("engine", tr), r.find("helper", tr), r.find("floor", tr), r.find("floor-keepalive", tr)
		out = append(out, fmt.Sprintf("%s: fresh engine ÷ floor %s, helper ÷ engine %s, helper ÷ floor %s; warm engine ÷ floor %s, engine ÷ keep-alive floor %s, helper ÷ engine %s",
			tr, ratio(med(e, true), med(f, true)), ratio(med(h, true), med(e, true)), ratio(med(h, true), med(f, true)),
			ratio(med(e, false), med(f, false)), ratio(med(e, false), med(k, false)), ratio(med(h, false), med(e, false))))
	}
	for _, tr := range []string{"http", "tls", "proxy"} {
		// The proxy's TOTP rows are compared with TOTP over plain http,
		// the Vault behind it; the others with OTP on the same transport.
		base, against := r.find("engine", tr), r.find("helper", tr)
		what := "TOTP ÷ OTP"
		if tr == "proxy" {
			base, against = r.find("engine-totp", "http"), r.find("helper-totp", "http")
			what = "TOTP through the proxy ÷ TOTP over http"
		}
		e, h := r.find("engine-totp", tr), r.find("helper-totp", tr)
		out = append(out, fmt.Sprintf("%s, %s: fresh engine %s, helper %s; warm engine %s, helper %s",
			tr, what, ratio(med(e, true), med(base, true)), ratio(med(h, true), med(against, true)),
			ratio(med(e, false), med(base, false)), ratio(med(h, false), med(against, false))))
	}
	return out
}

// memoryTable is the memory each path costs the authenticating process.
func (r *results) memoryTable() table {
	t := table{
		title:  "Resident memory, MiB (medians over the fresh processes)",
		header: []string{"process", "Vault", "VmHWM before 1st pam_authenticate", "VmHWM after", "added", "helper process peak RSS"},
		notes: []string{
			"The libpam driver reads its own VmHWM around the first pam_authenticate; the helper's peak is getrusage(RUSAGE_CHILDREN) in the driver; the floor's is wait4's ru_maxrss.",
		},
	}
	for _, p := range r.latency {
		if !p.fresh || len(p.freshSamples) == 0 {
			continue
		}
		tr := p.transport
		if tr == "" {
			tr = "—"
		}
		if p.key == "floor" {
			t.rows = append(t.rows, []string{p.label() + " (whole process)", tr, "—", mib(medianInt(ints(p.freshSamples, func(s sample) int64 { return s.maxRSS }))), "—", "—"})
			continue
		}
		before := medianInt(ints(p.freshSamples, func(s sample) int64 { return s.hwmBefore }))
		after := medianInt(ints(p.freshSamples, func(s sample) int64 { return s.hwmAfter }))
		helper := "—"
		if p.key == "helper" || p.key == "helper-totp" {
			helper = mib(medianInt(ints(p.freshSamples, func(s sample) int64 { return s.childRSS })))
		}
		t.rows = append(t.rows, []string{p.label(), tr, mib(before), mib(after), mib(after - before), helper})
	}
	for _, p := range r.latency {
		if p.key == "engine" {
			t.notes = append(t.notes, fmt.Sprintf("Long-lived process, in-process engine, %s: VmRSS %s MiB after its first login, %s MiB after %d more (VmHWM %s MiB).",
				p.transport, mib(p.warmFirst.rss), mib(p.warmLast.rss), len(p.warmSamples), mib(p.warmLast.hwmAfter)))
		}
	}
	t.notes = append(t.notes, fmt.Sprintf("Loading the engine alone (bench/drivers/engineload.c, no login): VmHWM %s → %s MiB.",
		mib(r.load.hwmBefore), mib(r.load.hwmAfter)))
	return t
}

// sizeTable lists the built objects' sizes.
func (r *results) sizeTable() table {
	t := table{title: "Built objects", header: []string{"file", "bytes", "MiB", "what"}}
	for _, s := range r.sizes {
		t.rows = append(t.rows, []string{s.name, fmt.Sprint(s.bytes), fmt.Sprintf("%.2f", float64(s.bytes)/(1<<20)), s.note})
	}
	return t
}

// stageTable breaks an in-process login down into stages.
func (r *results) stageTable() table {
	t := table{
		title:  "Where an in-process login's time goes, ms (medians)",
		header: []string{"stage"},
		notes: []string{
			fmt.Sprintf("Engine load: %d runs of bench/drivers/engineload.c (dlopen of build/pam_vault_go.so, then two calls of pam_vault_finish that fail before any I/O).", r.load.runs),
			"Decide's stages: bench/stages calls internal/config, internal/verify and internal/netcheck in Decide's order, with net/http/httptrace on the verify request; fresh = first login of a new process, warm = later logins of one process.",
			"An http config reads no CA file (verify.NewClient builds a CA pool for https addresses only); the TLS config names Vault's CA in ca_cert. " +
				"The CA pool row is a second, warm parse timed alone.",
		},
	}
	for _, s := range r.stages {
		t.header = append(t.header, s.transport+" fresh", s.transport+" warm")
	}
	loadRow := func(label string, d time.Duration) {
		row := []string{label}
		for range r.stages {
			row = append(row, ms(d), "—")
		}
		t.rows = append(t.rows, row)
	}
	loadRow("engine load: dlopen pam_vault_go.so", r.load.dlopen)
	loadRow("engine load: Go runtime start (1st call − 2nd call)", r.load.firstCall-r.load.secondCall)
	for _, n := range stageNames {
		row := []string{n.label}
		for _, s := range r.stages {
			row = append(row, ms(s.fresh[n.key]), ms(s.warm[n.key]))
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// sshdTable is logins per second through sshd, or why there are none.
func (r *results) sshdTable() table {
	t := table{
		title:  "Logins per second through sshd (OpenSSH, UsePAM, keyboard-interactive); in brackets per-login p50 / p99, ms",
		header: []string{"auth module", "Vault"},
		notes: []string{
			"A login is SSH connect, key exchange and keyboard-interactive authentication answered with a fresh OTP until sshd accepts it; the client (golang.org/x/crypto/ssh, in the benchmark process) then disconnects. The clients share the machine's cores with sshd and Vault. " +
				"Each cell is 4 pieces run interleaved with the other rows'; a stall from other work on the machine lowers a rate without moving the p50.",
		},
	}
	for _, c := range sshdClients {
		t.header = append(t.header, fmt.Sprintf("%d client(s)", c))
	}
	if len(r.sshd) == 0 {
		t.rows = append(t.rows, []string{"NOT MEASURED", "—", r.sshdNote})
		return t
	}
	t.notes = append(t.notes, "Harness: "+r.sshdNote+".")
	names := map[string]string{"permit": "pam_permit (baseline, no Vault)", "engine": "pam_vault, in-process engine", "helper": "pam_vault, helper process"}
	var row []string
	for i, s := range r.sshd {
		if i%len(sshdClients) == 0 {
			tr := s.transport
			if tr == "" {
				tr = "—"
			}
			row = []string{names[s.module], tr}
		}
		row = append(row, fmt.Sprintf("%.1f (%.0f / %.0f)", s.rate(), msf(s.p50), msf(s.p99)))
		if len(row) == 2+len(sshdClients) {
			t.rows = append(t.rows, row)
		}
	}
	return t
}

// tables are all the tables, in the order printed.
func (r *results) tables() []table {
	lt := r.latencyTable()
	lt.notes = append(lt.notes, r.ratios()...)
	return []table{lt, r.tokenTable(), r.memoryTable(), r.sizeTable(), r.stageTable(), r.sshdTable()}
}

// text is what the benchmark prints.
func (r *results) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\npam_vault benchmark, %s\nmachine: %s\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.machine)
	for _, t := range r.tables() {
		b.WriteString(t.text())
	}
	return b.String()
}

// reproduce is the command that produced the results.
const reproduce = "make bench"

// write writes RESULTS.md and latency.png into dir.
func (r *results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.chart(filepath.Join(dir, "latency.png")); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# pam_vault benchmark results\n\n")
	b.WriteString("Written by `" + reproduce + "` (bench/); do not edit by hand.\n\n")
	fmt.Fprintf(&b, "- Date: %s (run took %s)\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.elapsed.Round(time.Second))
	fmt.Fprintf(&b, "- Machine: %s, %d cores, shared with other work (numbers are noisy; compare the ratios)\n", r.machine.cpu, r.machine.cores)
	fmt.Fprintf(&b, "- Kernel: %s; OS: %s; Go: %s\n", r.machine.kernel, r.machine.distro, r.machine.goVersion)
	fmt.Fprintf(&b, "- Vault: %s, dev server on loopback (plain http, and -dev-tls); %s\n", r.machine.vault, r.machine.openssh)
	b.WriteString("- Reproduce: `" + reproduce + "` (VAULT_BIN may name a Vault binary; otherwise scripts/vault-bin.sh finds or builds the pinned one). " +
		"Options: `cd bench && go run . -h`.\n\n")
	b.WriteString("![Latency per login, median and p99](latency.png)\n")
	for _, t := range r.tables() {
		b.WriteString(t.markdown())
	}
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), []byte(b.String()), 0o644)
}
