package verify

import "errors"

// The three kinds of failure. Every error this package returns wraps exactly
// one of them, so that callers can map it to a PAM return code with errors.Is.
var (
	// ErrRejected means Vault answered, and the token is not a valid OTP for
	// this login: unknown or already used, or issued for another user, host
	// address or role. It maps to PAM_AUTH_ERR.
	ErrRejected = errors.New("OTP rejected")

	// ErrUnavailable means no usable answer came from Vault: it could not be
	// reached, timed out, is sealed, failed, or sent something unexpected.
	// It maps to PAM_AUTHINFO_UNAVAIL.
	ErrUnavailable = errors.New("Vault unavailable")

	// ErrConfig means the configuration cannot be used, for example a CA
	// file without certificates. It maps to PAM_SERVICE_ERR.
	ErrConfig = errors.New("configuration unusable")
)
