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
	"sync/atomic"
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
	Ignore      Result = 4 // PAM_IGNORE: TOTP mode with nullok, for a user without a key
)

// MaxResult is the highest Result, for the checks of the helper's wire
// (PAM_VAULT_RESULT_MAX in cgo/pam_vault_engine.h).
const MaxResult = Ignore

// PAMName is the name of the PAM return code r becomes.
func (r Result) PAMName() string {
	switch r {
	case Success:
		return "PAM_SUCCESS"
	case AuthErr:
		return "PAM_AUTH_ERR"
	case Unavailable:
		return "PAM_AUTHINFO_UNAVAIL"
	case Ignore:
		return "PAM_IGNORE"
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

// The messages a user is told when Vault cannot answer, in OTP and TOTP
// mode: enough to stop them retyping, nothing about the infrastructure.
const (
	unavailableMessage     = "The one-time password cannot be checked right now; try again later."
	unavailableCodeMessage = "The verification code cannot be checked right now; try again later."
)

// Prepared is the first half of a login: everything Decide does before it
// needs the token, which depends on the module's arguments alone. The PAM
// adapter prepares while the user reads the prompt, so that once the token
// comes only Vault's answer is left to wait for. A failure found here is
// kept and reported by Decide at the step where it would have found it, so
// a prepared login and a whole one give the same verdict and log line.
type Prepared struct {
	args     config.Args
	warnings []string
	argsErr  error          // the module's arguments are wrong
	cfg      *config.Config // nil when the file could not be loaded
	cfgErr   error          // the config file, or its TOTP keys, are wrong
	client   *verify.Client // nil when cfg is, or when clientErr is set
	// clientErr is a client that could not be built (a CA file); Decide
	// reports it after the token's shape, as it always has.
	clientErr error
	fault     error // a panic while preparing
	// deciding is set when Decide starts: Connect's warm-up, which would
	// only compete with it for the CPU then, stops.
	deciding atomic.Bool
}

// Prepare reads the module's arguments and the config file, checks them and
// builds the Vault client. It sends nothing and never panics.
func Prepare(args []string) (p *Prepared) {
	p = &Prepared{}
	defer func() {
		if r := recover(); r != nil {
			p.fault = fmt.Errorf("internal error: %v", r)
		}
	}()
	p.args, p.warnings, p.argsErr = config.ParseArgs(args)
	if p.argsErr != nil {
		return p
	}
	cfg, err := config.LoadChecked(p.args.ConfigPath, p.args.Dev)
	if err != nil {
		p.cfgErr = err
		return p
	}
	p.cfg = cfg
	if p.args.TOTP {
		if p.cfgErr = cfg.CheckTOTP(); p.cfgErr != nil {
			return p
		}
	}
	p.client, p.clientErr = verify.NewClient(cfg)
	return p
}

// Connect starts opening the connection the request will travel on: TCP,
// and the TLS handshake for https, to the first of vault_addr's addresses,
// in the background. Nothing is written on it until Decide sends the
// request, which uses it only if it is still open then; otherwise the
// request connects as it would have anyway.
//
// Meanwhile it runs, once and with nothing sent, the code the request and
// the answer will run (verify.Client.Warm), so that its first-use cost in
// a freshly loaded engine falls before the token comes, not after; it
// skips that once Decide has started. The host rule's interface list needs
// no such warm-up: Decide reads it while Vault answers.
func (p *Prepared) Connect() {
	// Prepare builds the client last, so there is one only when the
	// arguments and the config were good.
	if p.client == nil {
		return
	}
	p.client.Preconnect()
	go func() {
		defer func() { _ = recover() }()
		if !p.deciding.Load() {
			p.client.Warm()
		}
	}()
}

// Close gives up the prepared login: a connection Connect opened is closed,
// one still opening is stopped. Decide closes p itself.
func (p *Prepared) Close() {
	if p.client != nil {
		p.client.Close()
	}
}

// Decide runs the whole verification of req. It never panics. In OTP mode
// it returns Success only when Vault confirmed the OTP and every host rule
// passed; in TOTP mode (the totp argument) only when Vault's TOTP engine
// said the code is valid for the key named after the user.
func Decide(ctx context.Context, req Request) Verdict {
	return Prepare(req.Args).Decide(ctx, req)
}

// Decide finishes the login p prepared with req's user, token and
// addresses; req.Args is not read again. It never panics, and it closes p.
func (p *Prepared) Decide(ctx context.Context, req Request) (v Verdict) {
	p.deciding.Store(true)
	defer p.Close()
	rec := record{user: req.User, rhost: req.RemoteHost, start: time.Now(),
		warnings: p.warnings, debug: p.args.Debug}
	defer func() {
		if r := recover(); r != nil {
			v = rec.verdict(ServiceErr, fmt.Errorf("internal error: %v", r))
		}
	}()
	if p.fault != nil {
		return rec.verdict(ServiceErr, p.fault)
	}
	if p.argsErr != nil {
		return rec.verdict(ServiceErr, p.argsErr)
	}
	rec.totp = p.args.TOTP
	if p.cfg != nil && rec.debug {
		rec.vault = p.cfg.VaultAddr
	}
	if p.cfgErr != nil {
		return rec.verdict(ServiceErr, p.cfgErr)
	}
	cfg := p.cfg
	if req.User == "" {
		return rec.verdict(AuthErr, errors.New("no user name"))
	}
	// The shape checks come before any network use: a user who types their
	// real password sends it nowhere.
	if err := checkShape(p.args.TOTP, req); err != nil {
		return rec.verdict(AuthErr, err)
	}
	// Read before Vault is asked, which would use the OTP up. An unset
	// SSH_CONNECTION leaves the host rule as it is; one that cannot be read
	// fails closed, since a hostile application may have written it.
	var conn netip.Addr
	if req.SSHConnection != "" {
		var err error
		if conn, err = netcheck.ParseSSHConnection(req.SSHConnection); err != nil {
			return rec.verdict(AuthErr, fmt.Errorf("the address this login reached is unknown, so Vault was not asked: %w", err))
		}
	}
	if p.clientErr != nil {
		return rec.verdict(classify(p.clientErr), p.clientErr)
	}
	client := p.client
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if p.args.TOTP {
		return validateCode(ctx, cfg, client, req, p.args.NullOK, &rec)
	}
	// The host's addresses are read while Vault answers, not after; the
	// reading has ended, and its netlink socket is closed, whatever the
	// verdict, before Decide returns.
	local := netcheck.ReadLocalAddrs()
	defer func() { _, _ = local() }()
	answer, err := client.Verify(ctx, req.Token)
	if err != nil {
		return rec.verdict(classify(err), err)
	}
	rec.role = answer.Role
	if err := verify.Check(cfg, answer, req.User, conn, local); err != nil {
		return rec.verdict(classify(err), err)
	}
	return rec.verdict(Success, nil)
}

// checkShape refuses, before anything is sent, a token that is not what
// the mode verifies: an OTP (a UUID), or in TOTP mode a 6- or 8-digit code
// for a user name Vault can hold as a key.
func checkShape(totp bool, req Request) error {
	switch {
	case !totp && !verify.IsOTP(req.Token):
		return errors.New("token is not shaped like a Vault OTP; Vault was not asked")
	case totp && !verify.IsTOTPCode(req.Token):
		return errors.New("input is not a 6- or 8-digit code; Vault was not asked")
	case totp && !verify.IsKeyName(req.User):
		return errors.New("user name cannot name a Vault TOTP key (letters, digits and _, with - . @ inside); Vault was not asked")
	}
	return nil
}

// validateCode is Decide's TOTP branch once the code has its shape: it
// reads the token file, if there is one, and asks Vault's TOTP engine.
func validateCode(ctx context.Context, cfg *config.Config, client *verify.Client, req Request, nullOK bool, rec *record) Verdict {
	if cfg.TokenFile != "" {
		token, err := config.ReadTokenFile(cfg.TokenFile)
		if err != nil {
			return rec.verdict(ServiceErr, fmt.Errorf("token_file: %w", err))
		}
		client = client.WithToken(token)
	}
	err := client.ValidateCode(ctx, req.User, req.Token)
	if nullOK && errors.Is(err, verify.ErrUnknownKey) {
		return rec.verdict(Ignore, err)
	}
	if err != nil {
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
