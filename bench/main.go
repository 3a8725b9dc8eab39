// Command bench is pam_vault's benchmark, run by `make bench`. In one
// invocation, against one local real Vault dev server over plain http and one
// over TLS (-dev-tls), and a Vault Proxy (the same binary) in front of the
// http one, it measures:
//
//   - the latency of a login through the real libpam, for the in-process
//     engine and the helper process (the `helper` module argument), in OTP
//     mode and in TOTP mode (TOTP also through the proxy's unix socket), and
//     the network floor (a bare Go program sending the same verify request),
//     each in a fresh process per login and in one long-lived process;
//   - the resident memory the engine adds to the authenticating process, and
//     the size of each built object;
//   - logins per second through a real sshd with 1, 8 and 32 clients;
//   - where a login's time goes, stage by stage;
//   - the time from the conversation's answer to the verdict, what the user
//     waits for, and from pam_authenticate's call to the prompt, with a
//     conversation that takes as long as a user (-conv-ms), beside another
//     build (-baseline), and beside the floor paced the same way: the bare
//     Go request, and for http the same request from C on a raw socket,
//     each sent on a connection left idle as long as the conversation.
//
// It prints a table, and writes docs/bench/RESULTS.md and
// docs/bench/latency.png. Its helper programs (the C drivers under drivers/,
// floor/ and stages/) are compiled into build/bench/ first. Paths are measured
// interleaved, one login of each per round in a shuffled order, so that noise
// from other work on the machine falls on all of them alike.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	root        string        // the repository
	rounds      int           // logins per latency path
	stageRuns   int           // fresh and warm samples of the stage breakdown
	sshdLogins  int           // logins per sshd client count (at least)
	sshdTimeout time.Duration // cap on one sshd measurement
	noSSHD      bool
	out         string // where RESULTS.md and latency.png go
	tokenRounds int    // logins per token-to-verdict path
	convMS      int    // how long the conversation takes to answer
	baseline    string // another build directory, measured beside this one
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", "..", "the pam_vault repository")
	flag.IntVar(&o.rounds, "n", 300, "logins per latency path")
	flag.IntVar(&o.stageRuns, "stages", 100, "samples of the stage breakdown, fresh and warm each")
	flag.IntVar(&o.sshdLogins, "sshd-logins", 200, "logins per sshd measurement (at least 4 per client)")
	flag.DurationVar(&o.sshdTimeout, "sshd-timeout", 60*time.Second, "cap on one sshd measurement")
	flag.BoolVar(&o.noSSHD, "no-sshd", false, "skip the sshd measurements")
	flag.StringVar(&o.out, "out", "", "output directory (default ROOT/docs/bench)")
	flag.IntVar(&o.tokenRounds, "token-n", 100, "logins per token-to-verdict path")
	flag.IntVar(&o.convMS, "conv-ms", 50, "milliseconds the token-to-verdict conversation takes to answer, as a user would")
	flag.StringVar(&o.baseline, "baseline", "", "a directory with another build's pam_vault.so, pam_vault_go.so and pam-vault-check, whose token-to-verdict paths are measured beside this build's")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run does the whole benchmark.
func run(o options) error {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	o.root = root
	if o.out == "" {
		o.out = filepath.Join(root, "docs", "bench")
	}
	started := time.Now()
	tmp, err := os.MkdirTemp("", "pam_vault-bench-")
	if err != nil {
		return err
	}
	cleanup := newCleanup()
	cleanup.add(func() { os.RemoveAll(tmp) })
	defer cleanup.run()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "bench: %s; cleaning up\n", s)
		cleanup.run()
		os.Exit(1)
	}()

	step("building the benchmark's programs")
	bin, err := buildTools(root)
	if err != nil {
		return err
	}
	step("starting Vault (http and -dev-tls) and Vault Proxy")
	if o.baseline != "" {
		if o.baseline, err = filepath.Abs(o.baseline); err != nil {
			return err
		}
	}
	lab, err := newLab(root, tmp, o.baseline, bin, cleanup)
	if err != nil {
		return err
	}
	res := &results{started: started, machine: describeMachine(), rounds: o.rounds,
		tokenRounds: o.tokenRounds, baselineDir: o.baseline}
	if res.sizes, err = objectSizes(root, bin); err != nil {
		return err
	}

	step(fmt.Sprintf("latency: %d logins per path, interleaved", o.rounds))
	if res.latency, err = measureLatency(lab, o.rounds); err != nil {
		return err
	}
	step(fmt.Sprintf("token to verdict: %d logins per path, the conversation answering after %d ms", o.tokenRounds, o.convMS))
	if res.token, err = measureToken(lab, o.tokenRounds, o.convMS); err != nil {
		return err
	}
	step("engine load and the stages of a login")
	if res.load, err = measureEngineLoad(lab, 30); err != nil {
		return err
	}
	if res.stages, err = measureStages(lab, o.stageRuns); err != nil {
		return err
	}
	if o.noSSHD {
		res.sshdNote = "skipped (-no-sshd)"
	} else {
		step("logins per second through sshd")
		res.sshd, res.sshdNote = measureSSHD(lab, o, cleanup)
	}
	res.elapsed = time.Since(started)

	text := res.text()
	fmt.Print(text)
	if err := res.write(o.out); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s and %s in %s\n", filepath.Join(o.out, "RESULTS.md"),
		filepath.Join(o.out, "latency.png"), res.elapsed.Round(time.Second))
	return nil
}

// step announces a phase on stderr.
func step(msg string) {
	fmt.Fprintf(os.Stderr, ">>> %s %s\n", time.Now().Format("15:04:05"), msg)
}
