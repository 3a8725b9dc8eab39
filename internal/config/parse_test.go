package config

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testPath = "/etc/vault-ssh-helper.d/config.hcl"

// addr is the first line of most test configs; the key under test is on
// line 2.
const addr = `vault_addr = "https://vault.example.com:8200"` + "\n"

// exampleConfig is the working example from the design notes.
const exampleConfig = `vault_addr = "https://vault.example.com:8200"
ssh_mount_point = "ssh"
ca_cert = "/etc/vault-ssh-helper.d/vault.crt"
tls_skip_verify = false
allowed_roles = "*"
allowed_cidr_list = "10.0.0.0/8, 192.168.1.0/24"
`

// defaults returns the Config that addr alone parses to, changed by mod.
func defaults(mod func(*Config)) Config {
	c := Config{
		Path:           testPath,
		VaultAddr:      "https://vault.example.com:8200",
		VaultAddrs:     []string{"https://vault.example.com:8200"},
		SSHMountPoint:  "ssh",
		TOTPMountPoint: "totp",
		Timeout:        DefaultTimeout,
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

// public returns *c without its unexported fields, for comparisons.
func public(c *Config) Config {
	out := *c
	out.lines = nil
	return out
}

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Config
	}{
		{"defaults", addr, defaults(nil)},
		{"example", exampleConfig, defaults(func(c *Config) {
			c.CACert = "/etc/vault-ssh-helper.d/vault.crt"
			c.AllowedRoles = []string{"*"}
			c.AllowedCIDRs = prefixes("10.0.0.0/8", "192.168.1.0/24")
		})},
		{"http addr parses", `vault_addr = "http://127.0.0.1:8200"`, defaults(func(c *Config) {
			c.VaultAddr = "http://127.0.0.1:8200"
			c.VaultAddrs = []string{"http://127.0.0.1:8200"}
		})},
		{"addr with path", `vault_addr = "https://vault.example.com/prefix"`, defaults(func(c *Config) {
			c.VaultAddr = "https://vault.example.com/prefix"
			c.VaultAddrs = []string{"https://vault.example.com/prefix"}
		})},
		{"ipv6 addr", `vault_addr = "https://[::1]:8200"`, defaults(func(c *Config) {
			c.VaultAddr = "https://[::1]:8200"
			c.VaultAddrs = []string{"https://[::1]:8200"}
		})},
		{"quoted key", `"vault_addr" = "https://vault.example.com:8200"`, defaults(nil)},
		{"comments", "# hash\n// slashes\n/* block */\n" + addr, defaults(nil)},
		{"crlf", strings.ReplaceAll(exampleConfig, "\n", "\r\n"), defaults(func(c *Config) {
			c.CACert = "/etc/vault-ssh-helper.d/vault.crt"
			c.AllowedRoles = []string{"*"}
			c.AllowedCIDRs = prefixes("10.0.0.0/8", "192.168.1.0/24")
		})},
		{"mount", addr + `ssh_mount_point = "ssh-prod"`, defaults(func(c *Config) { c.SSHMountPoint = "ssh-prod" })},
		{"mount slashes trimmed", addr + `ssh_mount_point = "/team/ssh/"`, defaults(func(c *Config) { c.SSHMountPoint = "team/ssh" })},
		{"mount number kept as written", addr + `ssh_mount_point = 123`, defaults(func(c *Config) { c.SSHMountPoint = "123" })},
		{"totp mount", addr + `totp_mount_point = "/mfa/totp/"`, defaults(func(c *Config) { c.TOTPMountPoint = "mfa/totp" })},
		{"ca_cert and ca_path cleaned", addr + `ca_cert = "/etc/ssl//vault.pem"` + "\n" + `ca_path = "/etc/ssl/certs/"`, defaults(func(c *Config) { c.CACert, c.CAPath = "/etc/ssl/vault.pem", "/etc/ssl/certs" })},
		{"ca_cert empty is unset", addr + `ca_cert = ""`, defaults(nil)},
		{"token_file", addr + `token_file = "/run/pam_vault//token"`, defaults(func(c *Config) { c.TokenFile = "/run/pam_vault/token" })},
		{"unix socket", `vault_addr = "unix:///run/vault-proxy/proxy.sock"`, defaults(func(c *Config) {
			c.VaultAddr = "unix:///run/vault-proxy/proxy.sock"
			c.VaultAddrs = []string{"unix:///run/vault-proxy/proxy.sock"}
		})},
		{"namespace", addr + `namespace = "team/a"`, defaults(func(c *Config) { c.Namespace = "team/a" })},
		{"ca_cert", addr + `ca_cert = "/etc/ca.pem"`, defaults(func(c *Config) { c.CACert = "/etc/ca.pem" })},
		{"ca_path", addr + `ca_path = "/etc/ssl/vault"`, defaults(func(c *Config) { c.CAPath = "/etc/ssl/vault" })},
		{"tls_skip_verify true", addr + `tls_skip_verify = true`, defaults(func(c *Config) { c.TLSSkipVerify = true })},
		{"tls_skip_verify false", addr + `tls_skip_verify = false`, defaults(nil)},
		{"tls_server_name", addr + `tls_server_name = "vault.internal"`, defaults(func(c *Config) { c.TLSServerName = "vault.internal" })},
		{"cidr one", addr + `allowed_cidr_list = "10.0.0.0/8"`, defaults(func(c *Config) { c.AllowedCIDRs = prefixes("10.0.0.0/8") })},
		{"cidr spaces and empties", addr + `allowed_cidr_list = " 10.0.0.0/8 ,, 192.168.1.0/24 , "`, defaults(func(c *Config) {
			c.AllowedCIDRs = prefixes("10.0.0.0/8", "192.168.1.0/24")
		})},
		{"cidr ipv6 and host bits masked", addr + `allowed_cidr_list = "2001:db8::/32,10.1.2.3/8,192.0.2.7/32"`, defaults(func(c *Config) {
			c.AllowedCIDRs = prefixes("2001:db8::/32", "10.0.0.0/8", "192.0.2.7/32")
		})},
		{"cidr empty", addr + `allowed_cidr_list = ""`, defaults(nil)},
		{"roles wildcard", addr + `allowed_roles = "*"`, defaults(func(c *Config) { c.AllowedRoles = []string{"*"} })},
		{"roles empty", addr + `allowed_roles = ""`, defaults(nil)},
		{"roles only commas", addr + `allowed_roles = " , ,"`, defaults(nil)},
		{"roles list with spaces", addr + `allowed_roles = " otp_a, otp-b ,,otp.c "`, defaults(func(c *Config) {
			c.AllowedRoles = []string{"otp_a", "otp-b", "otp.c"}
		})},
		{"timeout seconds", addr + `timeout = 10`, defaults(func(c *Config) { c.Timeout = 10 * time.Second })},
		{"timeout max", addr + `timeout = 30`, defaults(func(c *Config) { c.Timeout = MaxTimeout })},
		{"timeout 1", addr + `timeout = 1`, defaults(func(c *Config) { c.Timeout = time.Second })},
		{"timeout quoted seconds", addr + `timeout = "7"`, defaults(func(c *Config) { c.Timeout = 7 * time.Second })},
		{"timeout duration", addr + `timeout = "1500ms"`, defaults(func(c *Config) { c.Timeout = 1500 * time.Millisecond })},
		{"timeout duration max", addr + `timeout = "30s"`, defaults(func(c *Config) { c.Timeout = MaxTimeout })},
		{"several addresses", `vault_addr = " https://a.example:8200, https://b.example:8200 ,,https://[fd00::1]:8200"`, defaults(func(c *Config) {
			c.VaultAddr = " https://a.example:8200, https://b.example:8200 ,,https://[fd00::1]:8200"
			c.VaultAddrs = []string{"https://a.example:8200", "https://b.example:8200", "https://[fd00::1]:8200"}
		})},
		{"heredoc", addr + "allowed_roles = <<EOT\nteam\nEOT\n", defaults(func(c *Config) { c.AllowedRoles = []string{"team"} })},
		{"json", `{
  "vault_addr": "https://vault.example.com:8200",
  "ssh_mount_point": "ssh",
  "tls_skip_verify": true,
  "allowed_roles": "*",
  "allowed_cidr_list": "10.0.0.0/8",
  "timeout": 3
}`, defaults(func(c *Config) {
			c.TLSSkipVerify = true
			c.AllowedRoles = []string{"*"}
			c.AllowedCIDRs = prefixes("10.0.0.0/8")
			c.Timeout = 3 * time.Second
		})},
		{"json timeout string", `{"vault_addr": "https://vault.example.com:8200", "timeout": "2s"}`, defaults(func(c *Config) {
			c.Timeout = 2 * time.Second
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(testPath, []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if g := public(got); !reflect.DeepEqual(g, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string // a part of the message
	}{
		{"empty file", "", 0, "vault_addr is not set"},
		{"only comments", "# nothing\n", 0, "vault_addr is not set"},
		{"missing vault_addr", `ssh_mount_point = "ssh"`, 0, "vault_addr is not set"},
		{"empty vault_addr", `vault_addr = ""`, 1, "vault_addr is empty"},
		{"vault_addr no scheme", `vault_addr = "vault.example.com:8200"`, 1, "must start with https://"},
		{"vault_addr ftp", `vault_addr = "ftp://vault.example.com"`, 1, "must start with https://"},
		{"vault_addr no host", `vault_addr = "https://"`, 1, "has no host name"},
		{"vault_addr port only", `vault_addr = "https://:8200"`, 1, "has no host name"},
		{"vault_addr opaque", `vault_addr = "https:vault"`, 1, "has no host name"},
		{"vault_addr user info", `vault_addr = "https://admin:secret@vault.example.com"`, 1, "user name or password"},
		{"vault_addr bad url", `vault_addr = "https://vault example.com"`, 1, "not a valid URL"},
		{"vault_addr bad port", `vault_addr = "https://vault.example.com:port"`, 1, "not a valid URL"},
		{"vault_addr bool", `vault_addr = true`, 1, "vault_addr must be a string in double quotes, not a boolean (true)"},
		{"vault_addr list", `vault_addr = ["https://a"]`, 1, "not a list"},
		{"vault_addr float", `vault_addr = 1.5`, 1, "not a number (1.5)"},
		{"vault_addr block", "vault_addr {\n}\n", 1, "vault_addr is a block"},
		{"vault_addr object", "vault_addr = {\n a = 1\n}\n", 1, "vault_addr is a block"},
		{"labelled block", addr + "ssh_mount_point \"x\" {\n}\n", 2, "ssh_mount_point is a block"},
		{"unknown key", addr + "\n\nvault_token = \"s.x\"\n", 4, `unknown key "vault_token"`},
		{"unknown key names valid ones", addr + "foo = 1\n", 2, "the keys are allowed_cidr_list,"},
		{"keys are case-sensitive", "VAULT_ADDR = \"https://vault.example.com\"\n", 1, `unknown key "VAULT_ADDR"`},
		{"unknown block", addr + "listener \"tcp\" {\n}\n", 2, `unknown key "listener"`},
		{"duplicate key", addr + `ssh_mount_point = "a"` + "\n" + `ssh_mount_point = "b"`, 3, "ssh_mount_point is set twice (first on line 2)"},
		{"duplicate vault_addr", addr + addr, 2, "vault_addr is set twice (first on line 1)"},
		{"nine addresses", `vault_addr = "` + strings.Repeat("https://v:8200,", 8) + `https://v:8200"`, 1, "vault_addr lists 9 addresses; at most 8 are allowed"},
		{"mount empty", addr + `ssh_mount_point = ""`, 2, "ssh_mount_point \"\" is empty"},
		{"mount slashes only", addr + `ssh_mount_point = "///"`, 2, "is empty"},
		{"mount bool", addr + `ssh_mount_point = false`, 2, "not a boolean (false)"},
		{"namespace list", addr + `namespace = ["a"]`, 2, "namespace must be a string"},
		{"namespace heredoc", addr + "namespace = <<EOT\nteam\nEOT\n", 2, `namespace "team\n" contains the control character "\n"`},
		{"mount dot-dot", addr + `ssh_mount_point = "ssh/../sys"`, 2, `has an empty, "." or ".." segment`},
		{"mount dot", addr + `ssh_mount_point = "./ssh"`, 2, `has an empty, "." or ".." segment`},
		{"mount double slash", addr + `ssh_mount_point = "team//ssh"`, 2, `has an empty, "." or ".." segment`},
		{"mount query", addr + `ssh_mount_point = "ssh?x=1"`, 2, `contains "?"`},
		{"mount fragment", addr + `ssh_mount_point = "ssh#x"`, 2, `contains "#"`},
		{"mount escape", addr + `ssh_mount_point = "ss%68"`, 2, `contains "%"`},
		{"mount space", addr + `ssh_mount_point = "my ssh"`, 2, `contains " "`},
		{"totp mount empty", addr + `totp_mount_point = "/"`, 2, `totp_mount_point "/" is empty; set it to the mount path of the secrets engine, such as "totp"`},
		{"totp mount dot-dot", addr + `totp_mount_point = "totp/../sys"`, 2, `totp_mount_point "totp/../sys" has an empty, "." or ".." segment`},
		{"totp mount query", addr + `totp_mount_point = "totp?x"`, 2, `totp_mount_point "totp?x" contains "?"`},
		{"unix relative", `vault_addr = "unix://proxy.sock"`, 1, `vault_addr "unix://proxy.sock" is not an absolute socket path`},
		{"unix opaque", `vault_addr = "unix:proxy.sock"`, 1, "is not an absolute socket path"},
		{"unix no path", `vault_addr = "unix://"`, 1, "names no absolute socket path"},
		{"unix host and path", `vault_addr = "unix://localhost/run/p.sock"`, 1, "is not an absolute socket path"},
		{"unix not clean", `vault_addr = "unix:///run/x/../p.sock"`, 1, `is not a clean path; write it as "unix:///run/p.sock"`},
		{"unix query", `vault_addr = "unix:///run/p.sock?x=1"`, 1, "holds a query or fragment"},
		{"unix too long", `vault_addr = "unix:///` + strings.Repeat("s", 108) + `"`, 1, "is 109 bytes long; a unix socket path holds at most 107"},
		{"unix with others", `vault_addr = "https://vault.example.com, unix:///run/p.sock"`, 1, `lists the unix socket "unix:///run/p.sock" with other addresses`},
		{"unix with token_file", `vault_addr = "unix:///run/p.sock"` + "\n" + `token_file = "/run/t"`, 2, "token_file is set, but vault_addr is a Vault Proxy socket"},
		{"ca_cert relative", addr + `ca_cert = "vault-ca.pem"`, 2, `ca_cert "vault-ca.pem" is not an absolute path, so the working directory of the process that authenticates would choose it; give the absolute path`},
		{"ca_cert dot-relative", addr + `ca_cert = "./vault-ca.pem"`, 2, `ca_cert "./vault-ca.pem" is not an absolute path`},
		{"ca_path relative", addr + "\n" + `ca_path = "certs"`, 3, `ca_path "certs" is not an absolute path`},
		{"ca_cert newline", addr + "ca_cert = <<EOT\n/etc/ca.pem\nEOT\n", 2, "ca_cert \"/etc/ca.pem\\n\" contains a control character"},
		{"token_file empty", addr + `token_file = ""`, 2, "token_file is empty"},
		{"token_file relative", addr + `token_file = "token"`, 2, `token_file "token" is not an absolute path`},
		{"token_file newline", addr + "token_file = <<EOT\n/run/t\nEOT\n", 2, "token_file \"/run/t\\n\" contains a control character"},
		{"token_file bool", addr + `token_file = true`, 2, "token_file must be a string"},
		{"ca_cert bool", addr + `ca_cert = true`, 2, "ca_cert must be a string"},
		{"ca_path number float", addr + `ca_path = 1.0`, 2, "ca_path must be a string"},
		{"tls_server_name object", addr + "tls_server_name {\n}", 2, "tls_server_name is a block"},
		{"tls_skip_verify quoted", addr + `tls_skip_verify = "true"`, 2, "tls_skip_verify must be true or false without quotes, not a string"},
		{"tls_skip_verify number", addr + `tls_skip_verify = 1`, 2, "not a number (1)"},
		{"tls_skip_verify list", addr + `tls_skip_verify = [true]`, 2, "not a list"},
		{"cidr bare ipv4", addr + `allowed_cidr_list = "10.0.0.0/8, 192.168.1.10"`, 2, `entry "192.168.1.10" is an address, not a CIDR block; write 192.168.1.10/32`},
		{"cidr bare ipv6", addr + `allowed_cidr_list = "2001:db8::1"`, 2, "write 2001:db8::1/128"},
		{"cidr garbage", addr + `allowed_cidr_list = "10.0.0.0/8 192.168.0.0/16"`, 2, `entry "10.0.0.0/8 192.168.0.0/16" is not a CIDR block`},
		{"cidr bad bits", addr + `allowed_cidr_list = "10.0.0.0/33"`, 2, "is not a CIDR block"},
		{"cidr hostname", addr + `allowed_cidr_list = "example.com/24"`, 2, "is not a CIDR block"},
		{"cidr list type", addr + `allowed_cidr_list = ["10.0.0.0/8"]`, 2, "allowed_cidr_list must be a string"},
		{"roles list type", addr + `allowed_roles = ["a", "b"]`, 2, "allowed_roles must be a string"},
		{"roles bool", addr + `allowed_roles = true`, 2, "allowed_roles must be a string"},
		{"timeout zero", addr + `timeout = 0`, 2, "timeout 0 must be more than 0 and at most 30 seconds"},
		{"timeout negative", addr + `timeout = -1`, 2, "must be more than 0"},
		{"timeout too big", addr + `timeout = 31`, 2, "at most 30 seconds"},
		{"timeout huge", addr + `timeout = 99999999999999999999`, 2, "out of range"},
		{"timeout quoted zero", addr + `timeout = "0"`, 2, "must be more than 0"},
		{"timeout duration zero", addr + `timeout = "0s"`, 2, "must be more than 0"},
		{"timeout duration negative", addr + `timeout = "-1s"`, 2, "must be more than 0"},
		{"timeout duration too big", addr + `timeout = "31s"`, 2, "at most 30s"},
		{"timeout duration minute", addr + `timeout = "1m"`, 2, "at most 30s"},
		{"timeout bad string", addr + `timeout = "soon"`, 2, `timeout "soon" is not a whole number of seconds or a duration`},
		{"timeout no unit fraction", addr + `timeout = "1.5"`, 2, "is not a whole number"},
		{"timeout float", addr + `timeout = 1.5`, 2, "not a number (1.5)"},
		{"timeout bool", addr + `timeout = true`, 2, "not a boolean (true)"},
		{"timeout list", addr + `timeout = [5]`, 2, "not a list"},
		{"timeout block", addr + "timeout {\n}", 2, "timeout is a block"},
		{"syntax unterminated string", addr + "ssh_mount_point = \"ssh\n", 2, "syntax error"},
		{"syntax missing equals", addr + "\nssh_mount_point \"ssh\"\n", 4, "expected start of object ('{') or assignment ('=')"}, // the parser reports the EOF's line
		{"syntax bad value", addr + "ssh_mount_point = ssh\n", 2, "syntax error"},
		{"syntax dangling assign", addr + "\nallowed_roles =\n# end\n", 3, "syntax error: a key with = but no value"},
		{"syntax unclosed list", addr + "allowed_roles = [\n", 3, "syntax error"},
		{"syntax illegal char", addr + "\n\n@\n", 4, "syntax error"},
		{"json unknown key", "{\n  \"vault_addr\": \"https://vault.example.com\",\n  \"vault_token\": \"x\"\n}", 3, `unknown key "vault_token"`},
		{"json duplicate key", "{\n  \"vault_addr\": \"https://a.example.com\",\n  \"vault_addr\": \"https://b.example.com\"\n}", 3, "set twice (first on line 2)"},
		{"json wrong type", "{\n  \"vault_addr\": \"https://vault.example.com\",\n  \"tls_skip_verify\": \"yes\"\n}", 3, "tls_skip_verify must be true or false"},
		{"json nested object", "{\n  \"vault_addr\": {\"url\": \"https://vault.example.com\"}\n}", 2, "vault_addr is a block"},
		{"json list", "{\n  \"vault_addr\": [\"https://vault.example.com\"]\n}", 2, "must be a string"},
		{"json null", "{\"vault_addr\": null}", 1, "vault_addr is empty"},
		{"json missing comma", "{\n  \"vault_addr\": \"https://vault.example.com\"\n  \"vault_token\": \"x\"\n}", 3, "syntax error: not valid JSON"},
		{"json trailing comma", "{\n  \"vault_addr\": \"https://vault.example.com\",\n}", 3, "syntax error: not valid JSON"},
		{"json trailing garbage", "{\"vault_addr\": \"https://vault.example.com\"}\nx", 2, "syntax error: not valid JSON"},
		{"json unterminated", "{\n\"vault_addr\": \"https://vault.example.com\"", 2, "syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(testPath, []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error: %+v", public(cfg))
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with its error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %q is not a *Error", err, err)
			}
			if e.Path != testPath {
				t.Errorf("Path = %q, want %q", e.Path, testPath)
			}
			if e.Line != tt.line {
				t.Errorf("Line = %d, want %d (%v)", e.Line, tt.line, err)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Msg = %q, want it to contain %q", e.Msg, tt.msg)
			}
		})
	}
}

func TestParseErrorHidesPassword(t *testing.T) {
	for _, src := range []string{
		`vault_addr = "https://admin:hunter2@vault.example.com"`,
		`vault_addr = "https://admin:hunter2@vault example.com"`,
		`vault_addr = "https://admin:hunter2@vault.example.com:x"`,
	} {
		_, err := Parse(testPath, []byte(src))
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Parse(%s) = %v; want an error without the password", src, err)
		}
	}
}

func TestParseLines(t *testing.T) {
	cfg, err := Parse(testPath, []byte("# comment\n\n"+exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"vault_addr": 3, "ssh_mount_point": 4, "ca_cert": 5,
		"tls_skip_verify": 6, "allowed_roles": 7, "allowed_cidr_list": 8,
	}
	if !reflect.DeepEqual(cfg.lines, want) {
		t.Errorf("lines = %v, want %v", cfg.lines, want)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Path: "/etc/x.hcl", Line: 3, Msg: "bad"}, "/etc/x.hcl:3: bad"},
		{Error{Path: "/etc/x.hcl", Msg: "bad"}, "/etc/x.hcl: bad"},
		{Error{Line: 3, Msg: "bad"}, "line 3: bad"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
