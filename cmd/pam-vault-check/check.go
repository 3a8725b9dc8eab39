package main

import (
	"context"
	"errors"
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
func runChecks(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pam-vault-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", config.DefaultPath, "the config file")
	dev := fs.Bool("dev", false, "allow a plain http vault_addr, as the module's dev argument")
	fs.Bool("verify-only", false, "accepted for vault-ssh-helper's runbooks; checking is all this mode does")
	if err := fs.Parse(args); err != nil {
		return 64
	}
	if fs.NArg() != 0 {
		return usageError(stderr, fmt.Errorf("unexpected argument %q; the modes are login and helper", fs.Arg(0)))
	}

	r := &report{w: stdout}
	cfg, err := config.Load(*cfgPath)
	if err == nil {
		err = cfg.CheckScheme(*dev)
	}
	if err != nil {
		r.fail("config", err)
		return 1
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
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()

	checkTLS(ctx, r, cfg, client)
	checkHealth(ctx, r, client)
	echoErr := client.Echo(ctx)
	if echoErr != nil {
		r.fail("mount", fmt.Errorf("%s/verify did not answer the echo request: %w", cfg.SSHMountPoint, echoErr))
	} else {
		r.ok("mount", "%s/verify answered the echo request", cfg.SSHMountPoint)
	}
	switch {
	case cfg.Namespace == "":
		r.ok("namespace", "none configured")
	case echoErr == nil:
		r.ok("namespace", "%s: the echo request was answered inside it", cfg.Namespace)
	default:
		r.fail("namespace", fmt.Errorf("%s: unconfirmed, the echo request inside it failed", cfg.Namespace))
	}
	if r.failed {
		return 1
	}
	return 0
}

func checkTLS(ctx context.Context, r *report, cfg *config.Config, client *verify.Client) {
	if !strings.HasPrefix(cfg.VaultAddr, "https:") {
		r.warn("tls", "not used: vault_addr is plain http (dev); OTPs cross the network in clear")
		return
	}
	state, err := client.PeerCertificates(ctx)
	if err != nil {
		r.fail("tls", err)
		return
	}
	leaf := state.PeerCertificates[0]
	left := time.Until(leaf.NotAfter).Round(time.Hour)
	line := fmt.Sprintf("server certificate %q, issued by %q, expires %s (in %d days)",
		leaf.Subject.String(), leaf.Issuer.String(), leaf.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24))
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

func checkHealth(ctx context.Context, r *report, client *verify.Client) {
	h, err := client.Health(ctx)
	switch {
	case err != nil:
		r.fail("reachable", err)
	case !h.Initialized:
		r.fail("reachable", errors.New("Vault answers but is not initialized"))
	case h.Sealed:
		r.fail("reachable", fmt.Errorf("Vault %s answers but is sealed", h.Version))
	default:
		role := "active"
		if h.Standby {
			role = "standby"
		}
		r.ok("reachable", "Vault %s, initialized, unsealed, %s", h.Version, role)
	}
}
