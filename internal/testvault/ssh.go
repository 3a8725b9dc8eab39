package testvault

import (
	"fmt"
	"net/http"
)

// EnableSSH mounts the SSH secrets engine at mount.
func (s *Server) EnableSSH(mount string) error {
	if err := s.Do(http.MethodPost, "sys/mounts/"+mount, map[string]any{"type": "ssh"}, nil); err != nil {
		return fmt.Errorf("enable ssh at %s: %w", mount, err)
	}
	return nil
}

// WriteOTPRole writes an OTP role on the SSH engine at mount, with the given
// default user and CIDR list; any username may be requested.
func (s *Server) WriteOTPRole(mount, role, defaultUser, cidrList string) error {
	body := map[string]any{
		"key_type":      "otp",
		"default_user":  defaultUser,
		"cidr_list":     cidrList,
		"allowed_users": "*",
	}
	if err := s.Do(http.MethodPost, mount+"/roles/"+role, body, nil); err != nil {
		return fmt.Errorf("write OTP role %s/%s: %w", mount, role, err)
	}
	return nil
}

// IssueOTP asks the role for an OTP for user at ip and returns it.
func (s *Server) IssueOTP(mount, role, user, ip string) (string, error) {
	var out struct {
		Data struct {
			Key string `json:"key"`
		} `json:"data"`
	}
	body := map[string]any{"username": user, "ip": ip}
	if err := s.Do(http.MethodPost, mount+"/creds/"+role, body, &out); err != nil {
		return "", fmt.Errorf("issue OTP from %s/%s: %w", mount, role, err)
	}
	if out.Data.Key == "" {
		return "", fmt.Errorf("issue OTP from %s/%s: answer has no data.key", mount, role)
	}
	return out.Data.Key, nil
}

// EnableFileAudit enables the file audit device "file", writing to path with
// log_raw set, so request and response bodies appear unhashed and a test can
// grep the log for what reached Vault.
func (s *Server) EnableFileAudit(path string) error {
	return s.enableFileAudit(path, "true")
}

// EnableHashedFileAudit enables the file audit device "file", writing to
// path as Vault does by default: request paths in clear, every string of a
// body as an HMAC. A test can count the requests to a path without the log
// holding what was sent, such as a TOTP code.
func (s *Server) EnableHashedFileAudit(path string) error {
	return s.enableFileAudit(path, "false")
}

func (s *Server) enableFileAudit(path, raw string) error {
	body := map[string]any{
		"type":    "file",
		"options": map[string]string{"file_path": path, "log_raw": raw},
	}
	if err := s.Do(http.MethodPut, "sys/audit/file", body, nil); err != nil {
		return fmt.Errorf("enable file audit to %s: %w", path, err)
	}
	s.mu.Lock()
	s.auditLog = path
	s.mu.Unlock()
	return nil
}

// AuditLog returns the path given to EnableFileAudit, or "" before it.
func (s *Server) AuditLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auditLog
}
