// Package engine turns one PAM authentication request into a verdict. It is
// the whole of pam_vault's decision, shared by the engine the PAM module loads
// into the authenticating process, the helper process the module falls back
// to, and pam-vault-check login, so that all three decide alike.
package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"pam_vault/internal/config"
	"pam_vault/internal/netcheck"
	"pam_vault/internal/verify"
)

// Result is the kind of a verdict. Its values are shared with the C adapter
// (cgo/pam_vault_engine.h), which maps each to a PAM return code.
type Result int

// The results, and the PAM code each one becomes.
const (
	Success     Result = 0 // PAM_SUCCESS
	AuthErr     Result = 1 // PAM_AUTH_ERR
	Unavailable Result = 2 // PAM_AUTHINFO_UNAVAIL
	ServiceErr  Result = 3 // PAM_SERVICE_ERR
)

// PAMName is the name of the PAM return code r becomes.
func (r Result) PAMName() string {
	switch r {
	case Success:
		return "PAM_SUCCESS"
	case AuthErr:
		return "PAM_AUTH_ERR"
	case Unavailable:
		return "PAM_AUTHINFO_UNAVAIL"
	default:
		return "PAM_SERVICE_ERR"
	}
}

// Request is one authentication attempt as the PAM adapter sees it.
type Request struct {
	Args       []string // the module's arguments from the PAM service file
	User       string   // PAM_USER
	Token      string   // PAM_AUTHTOK: what the user typed
	RemoteHost string   // PAM_RHOST, for the log only
	Service    string   // PAM_SERVICE, for the log only
	// SSHConnection is SSH_CONNECTION from the PAM environment, which sshd
	// sets to "client_ip client_port local_ip local_port"; "" when unset.
	// Its local address is then the only one that counts as this host's.
	SSHConnection string
}

// Verdict is the outcome of one attempt.
type Verdict struct {
	Result  Result
	Message string // shown to the user through the PAM conversation; may be empty
	Log     string // the one syslog line for this attempt; never holds the token
}

// unavailableMessage is all a user is told when Vault cannot answer: enough to
// stop them retyping the OTP, nothing about the infrastructure.
const unavailableMessage = "The one-time password cannot be checked right now; try again later."

// Decide runs the whole verification of req. It never panics and never
// returns Success unless Vault confirmed the OTP and every host rule passed.
func Decide(ctx context.Context, req Request) (v Verdict) {
	rec := record{user: req.User, rhost: req.RemoteHost, start: time.Now()}
	defer func() {
		if p := recover(); p != nil {
			v = rec.verdict(ServiceErr, fmt.Errorf("internal error: %v", p))
		}
	}()

	args, warnings, err := config.ParseArgs(req.Args)
	rec.warnings = warnings
	rec.debug = args.Debug
	if err != nil {
		return rec.verdict(ServiceErr, err)
	}
	if args.TOTP {
		return rec.verdict(ServiceErr, errors.New("the totp module argument is not supported by this build of pam_vault"))
	}
	cfg, err := config.LoadChecked(args.ConfigPath, args.Dev)
	if err != nil {
		return rec.verdict(ServiceErr, err)
	}
	if rec.debug {
		rec.vault = cfg.VaultAddr
	}
	if req.User == "" {
		return rec.verdict(AuthErr, errors.New("no user name"))
	}
	// The shape check comes before any network use: a user who types their
	// real password sends it nowhere.
	if !verify.IsOTP(req.Token) {
		return rec.verdict(AuthErr, errors.New("token is not shaped like a Vault OTP; Vault was not asked"))
	}
	// Read before Vault is asked, which would use the OTP up. An unset
	// SSH_CONNECTION leaves the host rule as it is; one that cannot be read
	// fails closed, since a hostile application may have written it.
	var conn netip.Addr
	if req.SSHConnection != "" {
		if conn, err = netcheck.ParseSSHConnection(req.SSHConnection); err != nil {
			return rec.verdict(AuthErr, fmt.Errorf("the address this login reached is unknown, so Vault was not asked: %w", err))
		}
	}
	client, err := verify.NewClient(cfg)
	if err != nil {
		return rec.verdict(classify(err), err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	answer, err := client.Verify(ctx, req.Token)
	if err != nil {
		return rec.verdict(classify(err), err)
	}
	rec.role = answer.Role
	if err := verify.Check(cfg, answer, req.User, conn, netcheck.LocalAddrs); err != nil {
		return rec.verdict(classify(err), err)
	}
	return rec.verdict(Success, nil)
}

// classify maps an error to the result its kind calls for. An error of no
// known kind is a fault of pam_vault itself.
func classify(err error) Result {
	switch {
	case errors.Is(err, verify.ErrRejected):
		return AuthErr
	case errors.Is(err, verify.ErrUnavailable):
		return Unavailable
	default:
		return ServiceErr
	}
}
