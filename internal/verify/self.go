package verify

import (
	"context"
	"net/http"
	"slices"
	"time"
)

// What Vault says about the token a client sends, for pam-vault-check's
// checks of a TOTP configuration. Each answer goes through the one envelope
// decoder, and Vault's 403 to any of them means it refused the token.

// TokenInfo is what Vault knows of a token (auth/token/lookup-self).
type TokenInfo struct {
	DisplayName string
	Policies    []string
	// TTL is what is left of the token's life; 0 for a token that never
	// expires, such as a root token.
	TTL       time.Duration
	Renewable bool
}

// LookupSelf asks Vault about the client's own token.
func (c *Client) LookupSelf(ctx context.Context) (TokenInfo, error) {
	status, body, err := c.send(ctx, http.MethodGet, "auth/token/lookup-self", nil)
	if err != nil {
		return TokenInfo{}, err
	}
	var (
		name      string
		policies  []string
		ttl       int64
		renewable bool
	)
	err = c.decodeWithToken(status, body, "lookup-self answer",
		Field{"display_name", &name}, Field{"policies", &policies}, Field{"ttl", &ttl}, Field{"renewable", &renewable})
	if err != nil {
		return TokenInfo{}, err
	}
	return TokenInfo{DisplayName: name, Policies: policies, TTL: time.Duration(ttl) * time.Second, Renewable: renewable}, nil
}

// Capabilities returns what the client's token may do on path
// (sys/capabilities-self), such as ["update"] or ["root"].
func (c *Client) Capabilities(ctx context.Context, path string) ([]string, error) {
	status, body, err := c.put(ctx, "sys/capabilities-self", map[string][]string{"paths": {path}})
	if err != nil {
		return nil, err
	}
	var caps []string
	if err := c.decodeWithToken(status, body, "capabilities answer", Field{path, &caps}); err != nil {
		return nil, err
	}
	return caps, nil
}

// Allows reports whether caps, an answer of Capabilities, grant capability:
// the root capability grants every one, deny none.
func Allows(caps []string, capability string) bool {
	if slices.Contains(caps, "deny") {
		return false
	}
	return slices.Contains(caps, "root") || slices.Contains(caps, capability)
}

// MountType returns the type of the secrets engine mounted at mount, such
// as "totp", as Vault shows it to a token that may use some path under it
// (sys/internal/ui/mounts/<mount>).
func (c *Client) MountType(ctx context.Context, mount string) (string, error) {
	status, body, err := c.send(ctx, http.MethodGet, "sys/internal/ui/mounts/"+mount, nil)
	if err != nil {
		return "", err
	}
	var typ string
	if err := c.decodeWithToken(status, body, "mount answer", Field{"type", &typ}); err != nil {
		return "", err
	}
	return typ, nil
}

// decodeWithToken is DecodeData for a request that needs a token: a 403
// means Vault refused the token, and a 400 the request, which holds no
// token a user typed.
func (c *Client) decodeWithToken(status int, body []byte, what string, fields ...Field) error {
	err := named("request", DecodeData(status, body, what, fields...))
	if err != nil && status == http.StatusForbidden {
		return c.refused(status, body)
	}
	return err
}
