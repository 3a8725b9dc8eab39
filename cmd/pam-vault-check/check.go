package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"pam_vault/internal/config"
	"pam_vault/internal/verify"
)

// report prints one line per check and remembers whether any failed.
type report struct {
	w      io.Writer
	failed bool
}

func (r *report) ok(check, format string, a ...any) {
	fmt.Fprintf(r.w, "ok    %-10s %s\n", check, fmt.Sprintf(format, a...))
}

func (r *report) fail(check string, err error) {
	r.failed = true
	fmt.Fprintf(r.w, "FAIL  %-10s %v\n", check, err)
}

func (r *report) warn(check, format string, a ...any) {
	fmt.Fprintf(r.w, "warn  %-10s %s\n", check, fmt.Sprintf(format, a...))
}

// runChecks checks everything a login needs short of a real OTP.
func runChecks(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pam-vault-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", config.DefaultPath, "the config file")
	dev := fs.Bool("dev", false, "allow a plain http vault_addr, as the module's dev argument")
	totp := fs.Bool("totp", false, "check the config for TOTP codes, as the module's totp argument")
	fs.Bool("verify-only", false, "accepted for vault-ssh-helper's runbooks; checking is all this mode does")
	if err := fs.Parse(args); err != nil {
		return 64
	}
	if fs.NArg() != 0 {
		return usageError(stderr, fmt.Errorf("unexpected argument %q; pam-vault-check -h lists the commands", fs.Arg(0)))
	}

	r := &report{w: stdout}
	cfg, err := config.LoadChecked(*cfgPath, *dev)
	if err != nil {
		r.fail("config", err)
		return 1
	}
	if *totp {
		return runTOTPChecks(r, cfg)
	}
	roles := strings.Join(cfg.AllowedRoles, ",")
	if roles == "" {
		roles = "none (every login will be refused)"
	}
	r.ok("config", "%s: vault_addr %s, mount %s, allowed_roles %s, timeout %s",
		cfg.Path, cfg.VaultAddr, cfg.SSHMountPoint, roles, cfg.Timeout)

	client, err := verify.NewClient(cfg)
	if err != nil {
		r.fail("tls", err)
		return 1
	}
	// Each server is checked on its own, with its own timeout: logins may
	// still work with one of them down, but the operator should hear of it.
	for i, addr := range client.Addrs() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		server := client.Pinned(i)
		checkTLS(ctx, r, cfg, server, addr)
		// A server that does not answer sys/health cannot answer the echo.
		if up, enterprise := checkHealth(ctx, r, server, addr); up {
			checkMount(ctx, r, cfg, server, addr, enterprise)
		}
		cancel()
	}
	if r.failed {
		return 1
	}
	return 0
}

// checkMount sends the echo request, which also proves the namespace.
func checkMount(ctx context.Context, r *report, cfg *config.Config, server *verify.Client, addr string, enterprise bool) {
	err := server.Echo(ctx)
	if err != nil {
		r.fail("mount", fmt.Errorf("%s: %s/verify did not answer the echo request: %w", addr, cfg.SSHMountPoint, err))
	} else {
		r.ok("mount", "%s: %s/verify answered the echo request", addr, cfg.SSHMountPoint)
	}
	checkNamespace(r, cfg, addr, enterprise, "the echo request", err)
}

// checkNamespace reports on the namespace, which a request to the mount
// (what, whose error was mountErr) was made in.
func checkNamespace(r *report, cfg *config.Config, addr string, enterprise bool, what string, mountErr error) {
	switch {
	case cfg.Namespace == "":
		r.ok("namespace", "%s: none configured", addr)
	case !enterprise:
		r.fail("namespace", fmt.Errorf("%s: namespace %q is configured, but this Vault is not Enterprise and ignores namespaces; remove the namespace line", addr, cfg.Namespace))
	case mountErr == nil:
		r.ok("namespace", "%s: %s: %s was answered inside it", addr, cfg.Namespace, what)
	default:
		r.fail("namespace", fmt.Errorf("%s: %s: unconfirmed, %s inside it failed", addr, cfg.Namespace, what))
	}
}

func checkTLS(ctx context.Context, r *report, cfg *config.Config, server *verify.Client, addr string) {
	if strings.HasPrefix(addr, "unix:") {
		r.ok("tls", "%s: not used: a local Vault Proxy socket; Vault Proxy's own vault block decides how it reaches Vault", addr)
		return
	}
	if !strings.HasPrefix(addr, "https:") {
		r.warn("tls", "%s: not used: plain http (dev); OTPs cross the network in clear", addr)
		return
	}
	state, err := server.PeerCertificates(ctx)
	if err != nil {
		r.fail("tls", err)
		return
	}
	leaf := state.PeerCertificates[0]
	left := time.Until(leaf.NotAfter).Round(time.Hour)
	line := fmt.Sprintf("%s: server certificate %q, issued by %q, expires %s (in %d days)",
		addr, leaf.Subject.String(), leaf.Issuer.String(), leaf.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24))
	if cfg.TLSSkipVerify {
		r.warn("tls", "%s; NOT verified: tls_skip_verify is set", line)
		return
	}
	if left < 30*24*time.Hour {
		r.warn("tls", "%s: renew it soon", line)
		return
	}
	r.ok("tls", "%s", line)
}

// checkHealth reports whether the server answers, is initialized and
// unsealed, and whether it is Vault Enterprise.
func checkHealth(ctx context.Context, r *report, server *verify.Client, addr string) (up, enterprise bool) {
	h, err := server.Health(ctx)
	switch {
	case err != nil:
		r.fail("reachable", fmt.Errorf("%s: %w", addr, err))
	case !h.Initialized:
		r.fail("reachable", fmt.Errorf("%s: Vault answers but is not initialized", addr))
	case h.Sealed:
		r.fail("reachable", fmt.Errorf("%s: Vault %s answers but is sealed", addr, h.Version))
	default:
		role := "active"
		if h.Standby {
			role = "standby"
		}
		r.ok("reachable", "%s: Vault %s, initialized, unsealed, %s", addr, h.Version, role)
		return true, h.Enterprise
	}
	return false, false
}
