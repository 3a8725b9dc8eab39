package verify

import (
	"errors"
	"fmt"
)

// The three kinds of failure. Every error this package returns wraps exactly
// one of them, so that callers can map it to a PAM return code with errors.Is.
var (
	// ErrRejected means Vault answered, and the token is not valid for this
	// login: an OTP unknown or already used, or issued for another user,
	// host address or role; or, in TOTP mode, a code that is wrong or
	// already used, or for a user without a key. It maps to PAM_AUTH_ERR.
	//
	// Its text is the verb alone: each error that wraps it names first what
	// was rejected, "OTP rejected: …" or "code rejected: …", so that the
	// log of a TOTP login never speaks of an OTP.
	ErrRejected = errors.New("rejected")

	// ErrUnavailable means no usable answer came from Vault: it could not be
	// reached, timed out, is sealed, failed, or sent something unexpected.
	// It maps to PAM_AUTHINFO_UNAVAIL.
	ErrUnavailable = errors.New("Vault unavailable")

	// ErrConfig means the configuration cannot be used, for example a CA
	// file without certificates. It maps to PAM_SERVICE_ERR.
	ErrConfig = errors.New("configuration unusable")
)

// named puts noun, what the request asked Vault about ("OTP", "code"),
// before the text of a rejection DecodeData returned for a 400, "rejected:
// Vault says …": DecodeData reads every answer and cannot know which token
// it was about. Every other error is returned as it is.
func named(noun string, err error) error {
	if errors.Is(err, ErrRejected) {
		return fmt.Errorf("%s %w", noun, err)
	}
	return err
}
