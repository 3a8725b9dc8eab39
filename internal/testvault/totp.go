package testvault

import (
	"fmt"
	"net/http"
	"time"
)

// EnableTOTP mounts the TOTP secrets engine at mount.
func (s *Server) EnableTOTP(mount string) error {
	if err := s.Do(http.MethodPost, "sys/mounts/"+mount, map[string]any{"type": "totp"}, nil); err != nil {
		return fmt.Errorf("enable totp at %s: %w", mount, err)
	}
	return nil
}

// WritePolicy writes the ACL policy name with the given HCL rules.
func (s *Server) WritePolicy(name, rules string) error {
	if err := s.Do(http.MethodPut, "sys/policies/acl/"+name, map[string]string{"policy": rules}, nil); err != nil {
		return fmt.Errorf("write policy %s: %w", name, err)
	}
	return nil
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
