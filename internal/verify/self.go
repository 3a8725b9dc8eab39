package verify

import (
	"context"
	"encoding/json"
	"fmt"
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
	env, err := c.decodeWithToken(status, body)
	if err != nil {
		return TokenInfo{}, err
	}
	var data struct {
		DisplayName string   `json:"display_name"`
		Policies    []string `json:"policies"`
		TTL         *int64   `json:"ttl"`
		Renewable   bool     `json:"renewable"`
	}
	if err := json.Unmarshal(env.Data, &data); err != nil || data.TTL == nil {
		return TokenInfo{}, fmt.Errorf("%w: lookup-self answer lacks a numeric data.ttl", ErrUnavailable)
	}
	return TokenInfo{
		DisplayName: data.DisplayName,
		Policies:    data.Policies,
		TTL:         time.Duration(*data.TTL) * time.Second,
		Renewable:   data.Renewable,
	}, nil
}

// Capabilities returns what the client's token may do on path
// (sys/capabilities-self), such as ["update"] or ["root"].
func (c *Client) Capabilities(ctx context.Context, path string) ([]string, error) {
	status, body, err := c.put(ctx, "sys/capabilities-self", map[string][]string{"paths": {path}})
	if err != nil {
		return nil, err
	}
	env, err := c.decodeWithToken(status, body)
	if err != nil {
		return nil, err
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return nil, fmt.Errorf("%w: capabilities answer's data is not an object", ErrUnavailable)
	}
	var caps []string
	if err := json.Unmarshal(data[path], &caps); err != nil || caps == nil {
		return nil, fmt.Errorf("%w: capabilities answer lacks a list for %s", ErrUnavailable, path)
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
	env, err := c.decodeWithToken(status, body)
	if err != nil {
		return "", err
	}
	var data struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(env.Data, &data); err != nil || data.Type == "" {
		return "", fmt.Errorf("%w: the mount answer lacks data.type", ErrUnavailable)
	}
	return data.Type, nil
}

// decodeWithToken is decodeEnvelope for a request that needs a token: a
// 403 means Vault refused the token.
func (c *Client) decodeWithToken(status int, body []byte) (vaultAnswer, error) {
	env, err := decodeEnvelope(status, body)
	if err != nil && status == http.StatusForbidden {
		return env, c.refused(env, status)
	}
	return env, err
}
