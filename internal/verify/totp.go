package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Vault's TOTP secrets engine, used as a provider, holds one key per user
// and says whether a code from the user's authenticator app is valid for
// it. pam_vault's TOTP mode names the key after PAM_USER.

// IsTOTPCode reports whether s has the shape of a code from an authenticator
// app: exactly 6 or 8 ASCII digits, the lengths Vault's TOTP engine issues.
// Nothing else is ever sent to Vault, and no code is ever logged.
func IsTOTPCode(s string) bool {
	if len(s) != 6 && len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// The answers of Vault's TOTP engine that refuse a code. Each comes wrapped
// with ErrRejected, as "code rejected: " and its text, so it maps to
// PAM_AUTH_ERR unless the caller decides otherwise (the nullok argument, for
// ErrUnknownKey). Their texts follow that prefix, so none repeats "code".
var (
	// ErrWrongCode means Vault checked the code and it is not valid for
	// the user's key now: mistyped, expired, or another user's.
	ErrWrongCode = errors.New("not this user's current code")

	// ErrCodeUsed means Vault has already been asked about this code for
	// this key within its period: it takes each code once, valid or not.
	ErrCodeUsed = errors.New("already used; Vault takes each code once")

	// ErrUnknownKey means Vault's TOTP engine holds no key for the user:
	// the user is not enrolled.
	ErrUnknownKey = errors.New("no TOTP key for this user in Vault")
)

// ValidateCode asks Vault's TOTP engine whether code is valid now for the
// key named user, with PUT <totp_mount_point>/code/<user>. The caller must
// have checked the code with IsTOTPCode and the name with IsKeyName. It
// returns nil only when Vault answered valid. Otherwise the error wraps
// ErrRejected ("code rejected: …"), with one of ErrWrongCode, ErrCodeUsed
// or ErrUnknownKey when Vault gave one of those reasons, when Vault refused
// the code; or ErrUnavailable when Vault gave no usable answer (a refused
// token among them). Its text never holds the code.
func (c *Client) ValidateCode(ctx context.Context, user, code string) error {
	status, body, err := c.put(ctx, c.totpMount+"/code/"+user, map[string]string{"code": code})
	if err == nil {
		err = c.decodeCode(status, body, user)
	}
	if err != nil && strings.Contains(err.Error(), code) {
		// Only a server that is not Vault echoes what it was sent.
		return &redacted{err: err, secret: code}
	}
	return err
}

// decodeCode reads the answer to a code with the one strict decoder:
// data.valid on 200, the reason on 400, and what a refusal of the token or
// a missing mount means.
func (c *Client) decodeCode(status int, body []byte, user string) error {
	var valid bool
	err := named("code", DecodeData(status, body, "code answer", Field{"valid", &valid}))
	switch {
	case err == nil && valid:
		return nil
	case err == nil:
		return fmt.Errorf("code %w: %w", ErrRejected, ErrWrongCode)
	case status == http.StatusBadRequest:
		said, _ := vaultSays(status, body)
		for _, e := range said {
			switch {
			case strings.HasPrefix(e, "code already used"):
				return fmt.Errorf("code %w: %w", ErrRejected, ErrCodeUsed)
			case e == "unknown key: "+user:
				return fmt.Errorf("code %w: %w", ErrRejected, ErrUnknownKey)
			}
		}
		return err
	case status == http.StatusForbidden:
		return fmt.Errorf("%w: it is invalid, expired or revoked, or its policy lacks update on %s/code/*", c.refused(status, body), c.totpMount)
	case status == http.StatusNotFound:
		_, desc := vaultSays(status, body)
		return fmt.Errorf("%w: no TOTP secrets engine answers at totp_mount_point %s in this namespace (%s)",
			ErrUnavailable, c.totpMount, desc)
	}
	return err
}

// refused is the error for Vault's 403 to a request that needs a token:
// Vault refused the token, which is not the user's doing.
func (c *Client) refused(status int, body []byte) error {
	_, desc := vaultSays(status, body)
	return fmt.Errorf("%w: Vault refused %s (%s)", ErrUnavailable, c.tokenSource(), desc)
}

// vaultSays reads the errors member of an answer with the strict reader
// every answer goes through, and describes the answer as this package's
// errors do (describeAnswer).
func vaultSays(status int, body []byte) ([]string, string) {
	said, _ := AnswerErrors(body)
	return said, describeAnswer(status, said)
}

// tokenSource names the token a request carried, for the log.
func (c *Client) tokenSource() string {
	switch {
	case c.socket != "":
		return "the token Vault Proxy added"
	case c.token != "":
		return "the token"
	default:
		return "a request without a token"
	}
}

// redacted is an error whose text has a secret blanked out. It unwraps to
// the original, so errors.Is still sees its kind.
type redacted struct {
	err    error
	secret string
}

func (r *redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.secret, "[code]") }

func (r *redacted) Unwrap() error { return r.err }
