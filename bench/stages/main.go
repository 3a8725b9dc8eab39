// Command stages times, stage by stage, what internal/engine.Decide does for
// one login, by calling the same internal pieces in the same order: module
// arguments, config file, HTTP client (with its CA pool), the verify request
// (traced into connect, TLS handshake, Vault's answer), interface
// enumeration and the host checks. For each line of standard input (a
// one-time password) it prints one line of stage=nanoseconds pairs:
//
//	stages args=N config=N client=N ca_pool=N prepare=N connect=N tls=N write=N answer=N read=N addrs=N check=N total=N
//
// Started with one line it shows a fresh process's first login; fed many
// lines, a warm process. The Go runtime's start and the engine's load are
// not in it: the benchmark measures those with the engineload driver.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http/httptrace"
	"net/netip"
	"os"
	"strings"
	"time"

	"pam_vault/internal/config"
	"pam_vault/internal/netcheck"
	"pam_vault/internal/verify"
)

func main() {
	args := flag.String("args", "", "module arguments, space separated")
	user := flag.String("user", "", "the user the OTPs were issued for")
	flag.Parse()
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		line, err := Run(strings.Fields(*args), *user, in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "stages:", err)
			os.Exit(1)
		}
		fmt.Fprintln(out, line)
		out.Flush()
	}
}

// stopwatch records named laps.
type stopwatch struct {
	names []string
	laps  []time.Duration
}

// add records a lap; negative laps (clock quirks) count as zero.
func (s *stopwatch) add(name string, d time.Duration) {
	s.names = append(s.names, name)
	s.laps = append(s.laps, max(d, 0))
}

// Run performs one login's stages and returns the "stages ..." line.
func Run(argv []string, user, otp string) (string, error) {
	var sw stopwatch
	start := time.Now()

	t := time.Now()
	args, _, err := config.ParseArgs(argv)
	if err != nil {
		return "", err
	}
	sw.add("args", time.Since(t))

	t = time.Now()
	cfg, err := config.LoadChecked(args.ConfigPath, args.Dev)
	if err != nil {
		return "", err
	}
	sw.add("config", time.Since(t))

	if !verify.IsOTP(otp) {
		return "", fmt.Errorf("%q is not shaped like an OTP", otp)
	}
	t = time.Now()
	client, err := verify.NewClient(cfg)
	if err != nil {
		return "", err
	}
	clientTime := time.Since(t)
	// The CA pool again, alone: NewClient builds it inside, for an https
	// address only.
	caTime := time.Duration(0)
	if strings.HasPrefix(cfg.VaultAddrs[0], "https:") {
		t = time.Now()
		if _, err := verify.TLSConfig(cfg); err != nil {
			return "", err
		}
		caTime = time.Since(t)
	}
	sw.add("client", clientTime-caTime)
	sw.add("ca_pool", caTime)

	var connStart, connDone, tlsDone, gotConn, wrote, firstByte time.Time
	trace := &httptrace.ClientTrace{
		ConnectStart:         func(string, string) { connStart = time.Now() },
		ConnectDone:          func(string, string, error) { connDone = time.Now() },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { tlsDone = time.Now() },
		GotConn:              func(httptrace.GotConnInfo) { gotConn = time.Now() },
		WroteRequest:         func(httptrace.WroteRequestInfo) { wrote = time.Now() },
		GotFirstResponseByte: func() { firstByte = time.Now() },
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	t = time.Now()
	answer, err := client.Verify(httptrace.WithClientTrace(ctx, trace), otp)
	end := time.Now()
	if err != nil {
		return "", err
	}
	ready := connDone
	tlsTime := time.Duration(0)
	if strings.HasPrefix(cfg.VaultAddrs[0], "https:") {
		// The client's own dialer does the handshake right after the
		// TCP connection; the transport's TLSHandshakeStart and Done
		// then only bracket a check that it is done.
		ready = tlsDone
		if ready.IsZero() {
			ready = gotConn
		}
		tlsTime = ready.Sub(connDone)
	}
	sw.add("prepare", connStart.Sub(t))
	sw.add("connect", connDone.Sub(connStart))
	sw.add("tls", tlsTime)
	sw.add("write", wrote.Sub(ready))
	sw.add("answer", firstByte.Sub(wrote))
	sw.add("read", end.Sub(firstByte))

	t = time.Now()
	local, err := netcheck.LocalAddrs()
	if err != nil {
		return "", err
	}
	sw.add("addrs", time.Since(t))

	t = time.Now()
	if err := verify.Check(cfg, answer, user, netip.Addr{}, func() ([]netip.Addr, error) { return local, nil }); err != nil {
		return "", err
	}
	sw.add("check", time.Since(t))
	// The second CA pool is not part of a login.
	sw.add("total", time.Since(start)-caTime)

	var b strings.Builder
	b.WriteString("stages")
	for i, n := range sw.names {
		fmt.Fprintf(&b, " %s=%d", n, sw.laps[i].Nanoseconds())
	}
	return b.String(), nil
}
