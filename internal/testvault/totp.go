package testvault

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// EnableTOTP mounts the TOTP secrets engine at mount.
func (s *Server) EnableTOTP(mount string) error {
	if err := s.Do(http.MethodPost, "sys/mounts/"+mount, map[string]any{"type": "totp"}, nil); err != nil {
		return fmt.Errorf("enable totp at %s: %w", mount, err)
	}
	return nil
}

// TOTPKey is a key of Vault's TOTP engine that Vault generated, and the
// authenticator app a user scanned it into: it computes codes from the
// secret in the otpauth URL Vault answered, as an app would.
//
// Vault takes each code once per key, valid or not, and remembers it for
// (2+skew) periods, so Code never hands out a code twice.
type TOTPKey struct {
	Mount, Name string
	// URL is the otpauth:// URL Vault answered, secret included.
	URL string

	key   *otp.Key
	mu    sync.Mutex
	used  map[uint64]bool // time steps whose code was handed out
	wrong map[string]bool // wrong codes handed out
}

// CreateTOTPKey creates the key name on the TOTP engine at mount with
// generate=true and the given number of digits (6 or 8), and returns it.
func (s *Server) CreateTOTPKey(mount, name string, digits int) (*TOTPKey, error) {
	var out struct {
		Data struct {
			URL string `json:"url"`
		} `json:"data"`
	}
	body := map[string]any{"generate": true, "issuer": "pam_vault tests", "account_name": name, "digits": digits}
	if err := s.Do(http.MethodPost, mount+"/keys/"+name, body, &out); err != nil {
		return nil, fmt.Errorf("create TOTP key %s/%s: %w", mount, name, err)
	}
	key, err := otp.NewKeyFromURL(out.Data.URL)
	if err != nil {
		return nil, fmt.Errorf("create TOTP key %s/%s: the answer's url: %w", mount, name, err)
	}
	return &TOTPKey{Mount: mount, Name: name, URL: out.Data.URL, key: key, used: map[uint64]bool{}, wrong: map[string]bool{}}, nil
}

// Code returns a code that Vault accepts now and was never handed out
// before. Vault accepts the codes of one period either side of the
// current one: the next period's always stays good long enough, the
// previous one's only early in the current period. When all are used, it
// waits for the next period.
func (k *TOTPKey) Code() (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		now := time.Now()
		step := k.step(now)
		steps := []uint64{step, step + 1}
		if now.Sub(k.start(step)) < time.Duration(k.key.Period())*time.Second/2 {
			steps = append(steps, step-1)
		}
		for _, s := range steps {
			if !k.used[s] {
				k.used[s] = true
				return k.codeAt(s)
			}
		}
		time.Sleep(time.Until(k.start(step + 1)))
	}
}

// WrongCode returns a code of the key's length that is none of the codes
// Vault would accept around now, and was never handed out before: Vault
// refuses a code it has seen as "already used", not as wrong.
func (k *TOTPKey) WrongCode() (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	step := k.step(time.Now())
	right := map[string]bool{}
	for s := step - 2; s <= step+3; s++ {
		c, err := k.codeAt(s)
		if err != nil {
			return "", err
		}
		right[c] = true
	}
	// A random start: Vault remembers a code per key name, even across a
	// key created again under the same name.
	for n := rand.IntN(1_000_000); ; n++ {
		c := fmt.Sprintf("%0*d", k.key.Digits().Length(), n%1_000_000)
		if !right[c] && !k.wrong[c] {
			k.wrong[c] = true
			return c, nil
		}
	}
}

// step is the time step (period number) of t.
func (k *TOTPKey) step(t time.Time) uint64 {
	return uint64(t.Unix()) / k.key.Period()
}

// start is when step begins.
func (k *TOTPKey) start(step uint64) time.Time {
	return time.Unix(int64(step*k.key.Period()), 0)
}

// codeAt is the code of step.
func (k *TOTPKey) codeAt(step uint64) (string, error) {
	code, err := totp.GenerateCodeCustom(k.key.Secret(), k.start(step), totp.ValidateOpts{
		Period:    uint(k.key.Period()),
		Digits:    k.key.Digits(),
		Algorithm: k.key.Algorithm(),
	})
	if err != nil {
		return "", fmt.Errorf("TOTP code of %s at step %d: %w", k.Name, step, err)
	}
	return code, nil
}

// WritePolicy writes the ACL policy name with the given HCL rules.
func (s *Server) WritePolicy(name, rules string) error {
	if err := s.Do(http.MethodPut, "sys/policies/acl/"+name, map[string]string{"policy": rules}, nil); err != nil {
		return fmt.Errorf("write policy %s: %w", name, err)
	}
	return nil
}

// VerifyPolicy is the policy a token that verifies codes at mount needs,
// and all it should have: update on <mount>/code/*. Without read, it
// cannot generate codes.
func VerifyPolicy(mount string) string {
	return "path " + strconv.Quote(mount+"/code/*") + ` { capabilities = ["update"] }` + "\n"
}

// CreateToken creates a token with the given policies (the default policy
// too) and TTL.
func (s *Server) CreateToken(policies []string, ttl time.Duration) (string, error) {
	var out struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	body := map[string]any{"policies": policies, "ttl": ttl.String()}
	if err := s.Do(http.MethodPost, "auth/token/create", body, &out); err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	if out.Auth.ClientToken == "" {
		return "", fmt.Errorf("create token: the answer has no auth.client_token")
	}
	return out.Auth.ClientToken, nil
}

// RevokeToken revokes token.
func (s *Server) RevokeToken(token string) error {
	if err := s.Do(http.MethodPost, "auth/token/revoke", map[string]string{"token": token}, nil); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}
