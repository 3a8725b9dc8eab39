package config

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckScheme(t *testing.T) {
	tests := []struct {
		addr string
		dev  bool
		ok   bool
	}{
		{"https://vault.example.com:8200", false, true},
		{"https://vault.example.com:8200", true, true},
		{"HTTPS://vault.example.com:8200", false, true},
		{"http://127.0.0.1:8200", false, false},
		{"http://127.0.0.1:8200", true, true},
		{"HTTP://127.0.0.1:8200", true, true},
		// A Vault Proxy socket is local: it needs no dev argument.
		{"unix:///run/vault-proxy/proxy.sock", false, true},
		{"unix:///run/vault-proxy/proxy.sock", true, true},
	}
	for _, tt := range tests {
		src := "# leading comment\nvault_addr = \"" + tt.addr + "\"\n"
		cfg, err := Parse(testPath, []byte(src))
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		err = cfg.CheckScheme(tt.dev)
		if tt.ok {
			if err != nil {
				t.Errorf("CheckScheme(%s, dev=%v) = %v, want nil", tt.addr, tt.dev, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("CheckScheme(%s, dev=%v) = %v, want an *Error", tt.addr, tt.dev, err)
		}
		if e.Path != testPath || e.Line != 2 {
			t.Errorf("error at %s:%d, want %s:2", e.Path, e.Line, testPath)
		}
		for _, part := range []string{"https", "dev module argument"} {
			if !strings.Contains(e.Msg, part) {
				t.Errorf("message %q does not mention %q", e.Msg, part)
			}
		}
	}
}

// A Config built in code (no file) still gets checked.
func TestCheckSchemeBuiltConfig(t *testing.T) {
	tests := []struct {
		addr string
		dev  bool
		ok   bool
	}{
		{"https://vault", false, true},
		{"http://vault", true, true},
		{"http://vault", false, false},
		{"ftp://vault", true, false},
		{"", true, false},
		{"://bad", true, false},
	}
	for _, tt := range tests {
		c := &Config{Path: "built", VaultAddr: tt.addr}
		if tt.addr != "" {
			c.VaultAddrs = []string{tt.addr}
		}
		err := c.CheckScheme(tt.dev)
		if (err == nil) != tt.ok {
			t.Errorf("CheckScheme(%q, dev=%v) = %v, want ok=%v", tt.addr, tt.dev, err, tt.ok)
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Errorf("CheckScheme(%q) error %T is not a *Error", tt.addr, err)
		}
	}
}

func TestRoleAllowed(t *testing.T) {
	tests := []struct {
		roles string // the allowed_roles value; "-" leaves the key out
		role  string
		want  bool
	}{
		{"-", "otp", false},
		{"-", "", false},
		{"", "otp", false},
		{"", "", false},
		{" , ", "", false},
		{"*", "otp", true},
		{"*", "anything at all", true},
		{"*", "", true},
		{" * ", "otp", true},
		{"otp, *", "other", true},
		{"otp_a,otp_b", "otp_a", true},
		{"otp_a, otp_b", "otp_b", true},
		{"otp_a,otp_b", "otp_c", false},
		{"otp_a,otp_b", "", false},
		{"otp_a,otp_b", "OTP_A", false},
		{"otp_a,otp_b", "otp", false},
		{"otp_a,otp_b", " otp_a", false},
		{"**", "otp", false},
		{"otp*", "otp_a", false},
	}
	for _, tt := range tests {
		src := addr
		if tt.roles != "-" {
			src += `allowed_roles = "` + tt.roles + `"`
		}
		cfg, err := Parse(testPath, []byte(src))
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if got := cfg.RoleAllowed(tt.role); got != tt.want {
			t.Errorf("allowed_roles %q: RoleAllowed(%q) = %v, want %v", tt.roles, tt.role, got, tt.want)
		}
	}
}

func TestSocketPath(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"unix:///run/vault-proxy/proxy.sock", "/run/vault-proxy/proxy.sock"},
		{"UNIX:///run/p.sock", "/run/p.sock"},
		{"https://vault.example.com", ""},
		{"https://a.example, https://b.example", ""},
	} {
		cfg, err := Parse(testPath, []byte("vault_addr = \""+tt.addr+"\"\n"))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.addr, err)
		}
		if got := cfg.SocketPath(); got != tt.want {
			t.Errorf("SocketPath() of %s = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestCheckTOTP(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		ok        bool
	}{
		{"token_file", addr + `token_file = "/run/pam_vault/token"`, true},
		{"Vault Proxy socket", `vault_addr = "unix:///run/p.sock"`, true},
		{"neither", addr, false},
	} {
		cfg, err := Parse(testPath, []byte(tt.src))
		if err != nil {
			t.Fatalf("%s: Parse: %v", tt.name, err)
		}
		err = cfg.CheckTOTP()
		if (err == nil) != tt.ok {
			t.Errorf("%s: CheckTOTP() = %v, want ok=%v", tt.name, err, tt.ok)
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Path != testPath || !strings.Contains(err.Error(), "set token_file")) {
			t.Errorf("%s: CheckTOTP() = %v, want an *Error for %s naming token_file", tt.name, err, testPath)
		}
	}
}
