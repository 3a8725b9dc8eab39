package main

import (
	"context"
	"fmt"
	"time"

	"pam_vault/internal/config"
	"pam_vault/internal/verify"
)

// shortTTL is the remaining life below which a token that cannot be
// renewed earns a warning: logins stop when it runs out.
const shortTTL = 24 * time.Hour

// runTOTPChecks checks everything a TOTP login needs short of a code: the
// token's source, and for each address TLS, health, the token itself, its
// capabilities on <totp_mount_point>/code/* and the mount.
func runTOTPChecks(r *report, cfg *config.Config) int {
	if err := cfg.CheckTOTP(); err != nil {
		r.fail("config", err)
		return 1
	}
	socket := cfg.SocketPath()
	source := "token from token_file " + cfg.TokenFile
	if socket != "" {
		source = "token added by Vault Proxy"
	}
	r.ok("config", "%s: vault_addr %s, totp mount %s, %s, timeout %s", cfg.Path, cfg.VaultAddr, cfg.TOTPMountPoint, source, cfg.Timeout)

	client, err := verify.NewClient(cfg)
	if err != nil {
		r.fail("socket", err)
		return 1
	}
	switch {
	case socket != "":
		// NewClient has refused an unsafe socket; a missing one it leaves
		// to the connection, but the operator should hear of it here.
		if err := config.CheckSocket(socket); err != nil {
			r.fail("socket", err)
			return 1
		}
		r.ok("socket", "%s: a socket owned by root or this user, not writable by group or others, in safe directories", socket)
	default:
		token, err := config.ReadTokenFile(cfg.TokenFile)
		if err != nil {
			r.fail("tokenfile", err)
			return 1
		}
		r.ok("tokenfile", "%s: readable, safe and holds one token", cfg.TokenFile)
		client = client.WithToken(token)
	}
	for i, addr := range client.Addrs() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		server := client.Pinned(i)
		checkTLS(ctx, r, cfg, server, addr)
		if up, enterprise := checkHealth(ctx, r, server, addr); up {
			if checkToken(ctx, r, server, addr) {
				checkCapabilities(ctx, r, cfg, server, addr)
				checkNamespace(r, cfg, addr, enterprise, "the mount check", checkTOTPMount(ctx, r, cfg, server, addr))
			}
		}
		cancel()
	}
	if r.failed {
		return 1
	}
	return 0
}

// checkToken looks the token up (auth/token/lookup-self) and reports
// whether Vault accepted it.
func checkToken(ctx context.Context, r *report, server *verify.Client, addr string) bool {
	info, err := server.LookupSelf(ctx)
	if err != nil {
		r.fail("token", fmt.Errorf("%s: %w", addr, err))
		return false
	}
	life := "never expires"
	if info.TTL > 0 {
		life = "TTL " + info.TTL.String()
	}
	renew := "not renewable"
	if info.Renewable {
		renew = "renewable"
	}
	line := fmt.Sprintf("%s: accepted: %q, policies %v, %s, %s", addr, info.DisplayName, info.Policies, life, renew)
	if info.TTL > 0 && info.TTL < shortTTL && !info.Renewable {
		r.warn("token", "%s; it expires soon and cannot be renewed: logins fail when it does", line)
		return true
	}
	r.ok("token", "%s", line)
	return true
}

// checkCapabilities reports what the token may do on codes: it must have
// update, which verifies a code, and should not have read, which makes
// one.
func checkCapabilities(ctx context.Context, r *report, cfg *config.Config, server *verify.Client, addr string) {
	path := cfg.TOTPMountPoint + "/code/*"
	caps, err := server.Capabilities(ctx, path)
	switch {
	case err != nil:
		r.fail("policy", fmt.Errorf("%s: %w", addr, err))
	case !verify.Allows(caps, "update"):
		r.fail("policy", fmt.Errorf("%s: the token has %v on %s; it needs update to verify codes", addr, caps, path))
	case verify.Allows(caps, "read"):
		r.warn("policy", "%s: the token has %v on %s: read lets whoever holds it generate any user's current code; grant update only", addr, caps, path)
	default:
		r.ok("policy", "%s: the token has %v on %s: it can verify codes and not generate them", addr, caps, path)
	}
}

// checkTOTPMount reports whether a TOTP engine is mounted at
// totp_mount_point, and returns the error of the check.
func checkTOTPMount(ctx context.Context, r *report, cfg *config.Config, server *verify.Client, addr string) error {
	typ, err := server.MountType(ctx, cfg.TOTPMountPoint)
	if err == nil && typ != "totp" {
		err = fmt.Errorf("the engine at %s is of type %q, not totp", cfg.TOTPMountPoint, typ)
	}
	if err != nil {
		err = fmt.Errorf("%s: no TOTP engine answers at totp_mount_point %s: %w", addr, cfg.TOTPMountPoint, err)
		r.fail("mount", err)
		return err
	}
	r.ok("mount", "%s: %s/ is a TOTP secrets engine", addr, cfg.TOTPMountPoint)
	return nil
}
