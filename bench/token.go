package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tokenPath is one path of the token-to-verdict measurement: a build's
// adapter, verifying in process or through the helper, in OTP or TOTP
// mode, over one transport, with a conversation that answers convMS after
// the prompt, each login in a fresh process (as sshd's). The way "floor"
// is the paced floor: bench/floor in a fresh process, its request (OTP
// verify, or in TOTP mode the code check) sent on a connection left open
// and idle for convMS first.
type tokenPath struct {
	build, way, transport, mode string
	convMS                      int
	run                         *path // the logins: argv, tokens, samples
}

// label names the path for tables.
func (p *tokenPath) label() string {
	if p.way == "rawfloor" {
		return "paced floor without Go: C, raw socket, OTP verify"
	}
	if p.way == "floor" && p.mode == "totp" {
		return "paced floor: bare Go TOTP check, open connection"
	}
	if p.way == "floor" {
		return "paced floor: bare Go OTP verify, open connection"
	}
	way := map[string]string{"engine": "in process", "helper": "helper"}[p.way]
	return fmt.Sprintf("%s, %s", way, map[string]string{"otp": "OTP", "totp": "TOTP"}[p.mode])
}

// tokenPaths lists the token-to-verdict paths: for each build, transport
// (http, tls) and way, OTP answered at once (pam_authenticate as today's
// callers see it), and OTP and TOTP answered after convMS; and TOTP
// through Vault Proxy for this build; and the paced floor of each
// transport.
func (l *lab) tokenPaths(convMS int) []*tokenPath {
	var ps []*tokenPath
	for _, tr := range l.transports {
		floor := append(l.floorArgv(tr), "-pause", fmt.Sprintf("%dms", convMS))
		totpFloor := append(slices.Clone(floor), "-totp-mount", totpMount, "-token-file", tr.tokenFile)
		if raw := l.rawFloorArgv(tr, convMS); raw != nil {
			ps = append(ps, &tokenPath{build: "this", way: "rawfloor", transport: tr.name, mode: "otp", convMS: convMS,
				run: &path{key: "raw-paced", transport: tr.name, argv: raw, parse: parseFloor, fresh: true, vaultOTPs: true, floor: true}})
		}
		ps = append(ps,
			&tokenPath{build: "this", way: "floor", transport: tr.name, mode: "otp", convMS: convMS,
				run: &path{key: "floor-paced", transport: tr.name, argv: floor, parse: parseFloor, fresh: true, vaultOTPs: true, floor: true}},
			&tokenPath{build: "this", way: "floor", transport: tr.name, mode: "totp", convMS: convMS,
				run: &path{key: "floor-paced-totp", transport: tr.name, argv: totpFloor, parse: parseFloor, fresh: true, totp: true, floor: true}})
	}
	for _, build := range l.builds() {
		for _, tr := range l.transports {
			for _, way := range []string{"engine", "helper"} {
				ps = append(ps,
					&tokenPath{build: build, way: way, transport: tr.name, mode: "otp", convMS: 0},
					&tokenPath{build: build, way: way, transport: tr.name, mode: "otp", convMS: convMS},
					&tokenPath{build: build, way: way, transport: tr.name, mode: "totp", convMS: convMS})
			}
		}
	}
	for _, way := range []string{"engine", "helper"} {
		ps = append(ps, &tokenPath{build: "this", way: way, transport: l.proxy.name, mode: "totp", convMS: convMS})
	}
	for _, p := range ps {
		if p.run != nil {
			continue // the floor's
		}
		p.run = &path{
			key:       p.way,
			transport: p.transport,
			argv: []string{l.tools.login, l.confdir, buildService(p.build, p.way, p.transport, p.mode),
				strconv.Itoa(p.convMS)},
			parse:     parseLogin,
			fresh:     true,
			vaultOTPs: p.mode == "otp",
			totp:      p.mode == "totp",
		}
	}
	return ps
}

// measureToken runs rounds+1 rounds of every token-to-verdict path, one
// fresh login of each per round in a shuffled order; round 0 is not
// counted. Every login answers a right token of its own: OTPs issued and
// TOTP keys created before the first round.
func measureToken(l *lab, rounds, convMS int) ([]*tokenPath, error) {
	ps := l.tokenPaths(convMS)
	for i, p := range ps {
		if err := l.provision(p.run, fmt.Sprintf("pvtoken-%d", i), rounds+1); err != nil {
			return nil, err
		}
	}
	jobs := append([]*tokenPath(nil), ps...)
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round <= rounds; round++ {
		rng.Shuffle(len(jobs), func(i, k int) { jobs[i], jobs[k] = jobs[k], jobs[i] })
		for _, p := range jobs {
			line, err := p.run.next()
			if err != nil {
				return nil, fmt.Errorf("token to verdict, %s %s %s: %w", p.build, p.label(), p.transport, err)
			}
			s, err := l.runFresh(p.run, line)
			if err != nil {
				return nil, fmt.Errorf("token to verdict, %s %s %s: %w", p.build, p.label(), p.transport, err)
			}
			if s.token < 0 {
				return nil, fmt.Errorf("token to verdict, %s %s %s: the module never asked for the token", p.build, p.label(), p.transport)
			}
			if round > 0 {
				p.run.freshSamples = append(p.run.freshSamples, s)
			}
		}
		if round > 0 && round%25 == 0 {
			step(fmt.Sprintf("token to verdict: %d/%d rounds", round, rounds))
		}
	}
	return ps, nil
}

// promptTime and tokenTime pick a sample's time to the prompt and from
// the token to the verdict.
func promptTime(s sample) time.Duration { return s.prompt }
func tokenTime(s sample) time.Duration  { return s.token }

// tokenTable is the token-to-verdict latency of every path.
func (r *results) tokenTable() table {
	t := table{
		title: fmt.Sprintf("Token to verdict, ms: what the user waits for once they answered (fresh process per login, median and p99 over %d logins per path)", r.tokenRounds),
		header: []string{"build", "path", "Vault", "conversation answers after", "token → verdict p50", "token → verdict p99",
			"÷ keep-alive floor", "÷ paced floor", "call → prompt p50", "pam_authenticate p50"},
		notes: []string{
			"token → verdict: from the conversation's return with the token to pam_authenticate's return (bench/drivers/login.c); call → prompt: from the call of pam_authenticate to the prompt; pam_authenticate includes the time the conversation took.",
			"The keep-alive floor is the warm p50 of \"floor, keep-alive connection\" in the latency table: one verify request on an open connection, back to back with the one before.",
			"The paced floor is the p50 of the \"paced floor\" row of the same mode and Vault: bench/floor in a fresh process opens its connection (an untimed GET of sys/health), leaves it idle as long as the conversation takes, then sends the timed request on it (the OTP verify, or the TOTP code check with the token file's token): the least a Go client, the engine's language, makes the user wait, since the user's request also comes after such a pause. Back to back, Vault's threads and the CPUs are still awake from the request before; after a pause they are not. TOTP rows' keep-alive ratio compares with the OTP verify request's floor.",
			"The paced floor without Go (http only): bench/drivers/rawfloor.c, the same verify request written on a blocking TCP socket and its answer read to the end, no HTTP library, paced the same way; its keep-alive ratio compares with its own back-to-back run (\"floor without Go\" in the latency table). What pacing costs it is Vault's and the machine's, not Go's.",
			"Every login answers a right token of its own: an OTP issued, or the code of a TOTP key created, before the timed section.",
			"proxy: TOTP through Vault Proxy's unix socket in front of the http Vault, as in the latency table; this build only. It has no floor of its own.",
			"Paths run interleaved, one login each per round in shuffled order.",
		},
	}
	if r.baselineDir != "" {
		what := r.baselineDir
		if v, err := os.ReadFile(filepath.Join(r.baselineDir, "version")); err == nil {
			what += ", version " + strings.TrimSpace(string(v))
		}
		t.notes = append(t.notes, fmt.Sprintf("baseline: the build in %s, measured in the same run.", what))
	}
	for _, p := range r.token {
		ss := p.run.freshSamples
		tokens := times(ss, tokenTime)
		row := []string{p.build, p.label(), p.transport, fmt.Sprintf("%d ms", p.convMS),
			ms(quantile(tokens, 0.5)), ms(quantile(tokens, 0.99)), "—", "—", "—", "—"}
		if p.way != "floor" && p.way != "rawfloor" {
			row[8], row[9] = ms(quantile(times(ss, promptTime), 0.5)), ms(quantile(times(ss, authTime), 0.5))
		}
		// The floor without Go is held to its own back-to-back run.
		keepalive := "floor-keepalive"
		if p.way == "rawfloor" {
			keepalive = "raw-keepalive"
		}
		if floor := r.find(keepalive, p.transport); floor != nil {
			row[6] = ratio(quantile(tokens, 0.5), quantile(times(floor.warmSamples, freshTime), 0.5))
		}
		if floor := r.pacedFloor(p.transport, p.mode); floor != nil {
			row[7] = ratio(quantile(tokens, 0.5), quantile(times(floor.run.freshSamples, tokenTime), 0.5))
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// pacedFloor is the paced floor's token-to-verdict path of mode over
// transport; nil when it has none (the proxy).
func (r *results) pacedFloor(transport, mode string) *tokenPath {
	for _, p := range r.token {
		if p.way == "floor" && p.transport == transport && p.mode == mode {
			return p
		}
	}
	return nil
}
