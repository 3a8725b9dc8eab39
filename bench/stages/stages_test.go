package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pam_vault/internal/config"
	"pam_vault/internal/engine"
	"pam_vault/internal/netcheck"
	"pam_vault/internal/pamtest"
	"pam_vault/internal/testvault"
	"pam_vault/internal/verify"
)

// These benchmarks are for profiling a warm login with the Go tools, e.g.
//
//	cd bench && VAULT_BIN=... go test -run '^$' -bench . -cpuprofile cpu.out ./stages
//	go tool pprof -top stages.test cpu.out
//
// The Decide benchmarks start a Vault dev server; OTPs are issued with the
// timer stopped.

const (
	benchMount = "ssh"
	benchRole  = "bench"
	benchUser  = "pvbench"
)

// writeConfig writes a config for v into dir and returns the module args.
func writeConfig(tb testing.TB, dir string, v *testvault.Server, caCert string) []string {
	tb.Helper()
	lines := []string{
		fmt.Sprintf("vault_addr = %q", v.Addr),
		fmt.Sprintf("ssh_mount_point = %q", benchMount),
		fmt.Sprintf("allowed_roles = %q", benchRole),
	}
	if caCert != "" {
		lines = append(lines, fmt.Sprintf("ca_cert = %q", caCert))
	}
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return []string{"config=" + path, "dev"}
}

// startVault starts a Vault dev server with the SSH engine and the role.
func startVault(b *testing.B, tls bool) *testvault.Server {
	b.Helper()
	if _, err := testvault.Bin(); err != nil {
		b.Skip(err)
	}
	v, err := testvault.Start(testvault.Options{TLS: tls})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(v.Close)
	if err := v.EnableSSH(benchMount); err != nil {
		b.Fatal(err)
	}
	if err := v.WriteOTPRole(benchMount, benchRole, benchUser, "127.0.0.0/8"); err != nil {
		b.Fatal(err)
	}
	return v
}

// benchmarkDecide runs engine.Decide once per iteration with a fresh OTP.
func benchmarkDecide(b *testing.B, tls bool) {
	v := startVault(b, tls)
	args := writeConfig(b, b.TempDir(), v, v.CACert)
	for b.Loop() {
		b.StopTimer()
		otp, err := v.IssueOTP(benchMount, benchRole, benchUser, "127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		verdict := engine.Decide(context.Background(), engine.Request{Args: args, User: benchUser, Token: otp})
		if verdict.Result != engine.Success {
			b.Fatal(verdict.Log)
		}
	}
}

// BenchmarkDecideHTTP is a warm in-process login against Vault over http,
// with the system CA bundle (no ca_cert).
func BenchmarkDecideHTTP(b *testing.B) { benchmarkDecide(b, false) }

// BenchmarkDecideTLS is a warm in-process login against Vault over TLS, with
// ca_cert naming Vault's CA.
func BenchmarkDecideTLS(b *testing.B) { benchmarkDecide(b, true) }

// BenchmarkSystemCAPool is the CA pool a config without ca_cert or ca_path
// gets: the system bundle, parsed on every login.
func BenchmarkSystemCAPool(b *testing.B) {
	cfg := &config.Config{}
	for b.Loop() {
		if _, err := verify.TLSConfig(cfg); err != nil {
			b.Skip(err)
		}
	}
}

// BenchmarkConfigLoad is reading and parsing a config file.
func BenchmarkConfigLoad(b *testing.B) {
	path := filepath.Join(b.TempDir(), "config.hcl")
	text := "vault_addr = \"https://vault.example.com:8200\"\nssh_mount_point = \"ssh\"\nallowed_roles = \"bench\"\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := config.Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalAddrs is the interface enumeration of every login.
func BenchmarkLocalAddrs(b *testing.B) {
	for b.Loop() {
		if _, err := netcheck.LocalAddrs(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRun checks the stage timer against a real Vault, when one is there.
func TestRun(t *testing.T) {
	if _, err := testvault.Bin(); err != nil {
		pamtest.Need(t, "%v", err)
	}
	v, err := testvault.Start(testvault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.EnableSSH(benchMount); err != nil {
		t.Fatal(err)
	}
	if err := v.WriteOTPRole(benchMount, benchRole, benchUser, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	args := writeConfig(t, t.TempDir(), v, "")
	otp, err := v.IssueOTP(benchMount, benchRole, benchUser, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	line, err := Run(args, benchUser, otp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "stages args=") || !strings.Contains(line, " total=") {
		t.Fatalf("unexpected line %q", line)
	}
}
