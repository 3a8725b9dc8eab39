// Package enroll gives a user a key in Vault's TOTP secrets engine and shows
// it as a QR code for an authenticator app: the operator's side of
// pam_vault's TOTP mode, run by pam-vault-check enroll.
//
// Vault generates the key and keeps its secret; the user's app gets a copy
// once, through the otpauth:// URL Vault returns, which the QR code carries.
// Enrollment uses the operator's own Vault token (OperatorToken), never the
// module's verifying token, which must not be able to create keys.
package enroll

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"pam_vault/internal/verify"
)

// Request is one enrollment.
type Request struct {
	// Mount is the TOTP engine's mount path (totp_mount_point).
	Mount string
	// User is the user to enroll. The key is named after the user, as the
	// module looks it up by PAM_USER, and the app shows it as the account.
	User string
	// Issuer is the name the app shows beside the account.
	Issuer string
	// Force allows replacing a key the user already has.
	Force bool
}

// Existing is what Vault tells about a key it holds. Reading a key never
// returns its secret.
type Existing struct {
	Issuer      string
	AccountName string
}

// Key is a key Vault generated.
type Key struct {
	// Path is the key's path below /v1/, such as totp/keys/alice.
	Path string
	// URL is the otpauth:// URL Vault returned: the secret and the
	// parameters an authenticator app needs. Whoever has it can compute
	// the user's codes.
	URL string
	// Replaced is the key this one replaced (Request.Force), or nil.
	Replaced *Existing
}

// ExistsError is the refusal to replace a user's key. Vault itself would
// replace it without asking.
type ExistsError struct {
	Path string
	User string
	Key  Existing
}

// Error implements error.
func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already has a TOTP key at %s (issuer %q); a new key replaces it, and the codes of the entry in %s's authenticator app stop working",
		e.User, e.Path, e.Key.Issuer, e.User)
}

// CheckUser returns an error unless user can name a key of Vault's TOTP
// engine (verify.IsKeyName).
func CheckUser(user string) error {
	if !verify.IsKeyName(user) {
		return fmt.Errorf("user name %q cannot name a Vault TOTP key: Vault allows ASCII letters, digits and _, with - . @ inside the name only", user)
	}
	return nil
}

// CheckIssuer returns an error unless issuer can stand in an otpauth URL's
// label, where a colon separates the issuer from the account.
func CheckIssuer(issuer string) error {
	switch {
	case issuer == "":
		return errors.New("the issuer is empty; Vault needs one for a generated key")
	case strings.Contains(issuer, ":"):
		return fmt.Errorf("issuer %q holds a colon, which authenticator apps read as the end of the issuer", issuer)
	}
	for _, r := range issuer {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("issuer %q holds a control character", issuer)
		}
	}
	return nil
}

// Enroll creates the user's key in Vault through client, which must carry
// the operator's token (verify.Client.WithToken). It first reads the key's
// path and, unless req.Force is set, refuses with an *ExistsError when a key
// is there. Nothing is sent when the user name or issuer cannot be used.
//
// The read and the write are two requests: Vault offers no way to create a
// key only if it is missing.
func Enroll(ctx context.Context, client *verify.Client, req Request) (*Key, error) {
	if err := CheckUser(req.User); err != nil {
		return nil, err
	}
	if err := CheckIssuer(req.Issuer); err != nil {
		return nil, err
	}
	path := req.Mount + "/keys/" + req.User
	existing, err := readKey(ctx, client, req.Mount, path)
	if err != nil {
		return nil, err
	}
	if existing != nil && !req.Force {
		return nil, &ExistsError{Path: path, User: req.User, Key: *existing}
	}
	// qr_size 0: Vault draws no barcode. The caller draws its own from the
	// URL, with the quiet zone Vault's may lack.
	status, body, err := client.Send(ctx, http.MethodPut, path, map[string]any{
		"generate":     true,
		"exported":     true,
		"issuer":       req.Issuer,
		"account_name": req.User,
		"qr_size":      0,
	})
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if status != http.StatusOK {
		return nil, answerError("creating", req.Mount, path, status, body)
	}
	var keyURL string
	if err := verify.DecodeData(status, body, "key answer", verify.Field{Key: "url", Dst: &keyURL}); err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if err := checkKeyURL(keyURL); err != nil {
		return nil, fmt.Errorf("creating %s: Vault's answer %w", path, err)
	}
	return &Key{Path: path, URL: keyURL, Replaced: existing}, nil
}

// readKey returns what Vault holds at path, or nil when no key is there.
func readKey(ctx context.Context, client *verify.Client, mount, path string) (*Existing, error) {
	status, body, err := client.Send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if status == http.StatusOK {
		var e Existing
		if err := verify.DecodeData(status, body, "key answer",
			verify.Field{Key: "issuer", Dst: &e.Issuer}, verify.Field{Key: "account_name", Dst: &e.AccountName}); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		return &e, nil
	}
	if said, err := verify.AnswerErrors(body); status == http.StatusNotFound && err == nil && len(said) == 0 {
		// No such key. A path no engine serves is a 404 too, but one that
		// says so in its errors; and an answer Vault would not send is
		// never read as "no key", which would lead to writing one.
		return nil, nil
	}
	return nil, answerError("reading", mount, path, status, body)
}

// answerError explains a Vault answer other than 200 to what the operator
// was doing at path.
func answerError(doing, mount, path string, status int, body []byte) error {
	said := fmt.Sprintf("HTTP %d", status)
	errs, err := verify.AnswerErrors(body)
	if err != nil {
		said += fmt.Sprintf(", an answer Vault would not send (%v)", err)
	}
	if len(errs) > 0 {
		// Vault's errors may hold a list on several lines; one line is
		// easier to read and to grep.
		said += ": " + strings.Join(strings.Fields(strings.Join(errs, "; ")), " ")
	}
	switch status {
	case http.StatusForbidden:
		return fmt.Errorf("%s %s: Vault refused the token (%s); enroll needs a valid token with the read and update capabilities on %s/keys/*", doing, path, said, mount)
	case http.StatusNotFound:
		return fmt.Errorf("%s %s: no TOTP secrets engine answers at %s (%s); enable one with vault secrets enable -path=%s totp, or set totp_mount_point in the config file", doing, path, mount, said, mount)
	case http.StatusServiceUnavailable:
		return fmt.Errorf("%s %s: Vault is sealed or in maintenance (%s)", doing, path, said)
	}
	return fmt.Errorf("%s %s: Vault answered %s", doing, path, said)
}

// checkKeyURL returns an error unless u is an otpauth URL of a TOTP key with
// a secret. The error does not quote u, which holds the secret.
func checkKeyURL(u string) error {
	parsed, err := url.Parse(u)
	switch {
	case u == "":
		return errors.New("has no url")
	case err != nil:
		return errors.New("has a url that does not parse")
	case parsed.Scheme != "otpauth" || parsed.Host != "totp":
		return fmt.Errorf("has a url that is not otpauth://totp/ but %s://%s/", parsed.Scheme, parsed.Host)
	case parsed.Query().Get("secret") == "":
		return errors.New("has a url without a secret")
	}
	return nil
}
