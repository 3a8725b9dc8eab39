package security

import (
	"strings"
	"testing"

	"pam_vault/test/security/faultproxy"
)

// mode is one way the engine verifies, as this suite drives it: what
// selects it, what the user types and what the module says back. TOTP is a
// mode of the one engine, not a second module, so a behaviour both modes
// share is one test that runs once per mode (see modes), never a copy.
type mode struct {
	name string   // the subtest's name: OTP or TOTP
	args []string // the module arguments that select the mode
	// config is the text of a config for vaultAddr and timeout.
	config func(t *testing.T, e *env, vaultAddr, timeout string) string
	// newUser returns a fresh user of the mode: a token Vault would accept
	// and one it refuses.
	newUser func(t *testing.T, e *env) user
	// refused and accepted are words of the module's log line for a token
	// Vault refused and for one it accepted.
	refused  string
	accepted []string
	// unavailable is what the user is told when Vault gives no answer.
	unavailable string
	// vaultPath and vaultToken are the one request path the module may send
	// to Vault and the X-Vault-Token it must carry ("" for none).
	vaultPath  string
	vaultToken func() string
	// faults are the answers that break this mode's answer to a right token;
	// faultsOfTransport, common to both modes, come first.
	faults func() []faultproxy.Fault
}

// user is what one user of a mode types: right returns a token Vault
// accepts, once; wrong one it refuses.
type user struct {
	right, wrong func(t *testing.T) string
}

// modes are the modes every shared behaviour is tested in.
var modes = []mode{otpMode, totpMode}

var (
	otpMode = mode{
		name:   "OTP",
		config: func(_ *testing.T, _ *env, addr, timeout string) string { return config(addr, timeout) },
		newUser: func(_ *testing.T, e *env) user {
			return user{right: e.otp, wrong: func(*testing.T) string { return forgedOTP }}
		},
		refused:     "OTP rejected: Vault says HTTP 400: OTP not found",
		accepted:    []string{"accepted Vault OTP", "user=" + testUser, "role=" + role},
		unavailable: "The one-time password cannot be checked right now",
		vaultPath:   "/v1/" + mount + "/verify",
		vaultToken:  func() string { return "" },
		faults:      otpFaults,
	}
	totpMode = mode{
		name: "TOTP",
		args: []string{"totp"},
		config: func(t *testing.T, e *env, addr, timeout string) string {
			return totpConfig(addr, timeout, e.totpSetup(t))
		},
		newUser:     totpUser,
		refused:     "code rejected: not this user's current code",
		accepted:    []string{"accepted Vault TOTP code", "user=" + testUser},
		unavailable: "The verification code cannot be checked right now",
		vaultPath:   "/v1/" + totpMount + "/code/" + testUser,
		vaultToken:  func() string { return totpToken },
		faults:      totpFaults,
	}
)

// service writes a service of mode m named after name and the mode, with
// m's config for vaultAddr and timeout and m's arguments, then args.
func (m mode) service(t *testing.T, e *env, name, vaultAddr, timeout string, args ...string) string {
	t.Helper()
	svc, _ := e.service(t, name+"-"+strings.ToLower(m.name), m.config(t, e, vaultAddr, timeout),
		append(append([]string(nil), m.args...), args...)...)
	return svc
}

// checkVault is hostile.checkRequests for m's one request: it fails t if an
// impostor was asked anything or Vault got anything else, and returns how
// many requests reached the real Vault.
func (m mode) checkVault(t *testing.T, h *hostile) int {
	t.Helper()
	return h.checkRequests(t, m.vaultPath, m.vaultToken())
}
