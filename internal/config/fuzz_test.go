package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		exampleConfig,
		addr,
		"",
		addr + `timeout = "1500ms"` + "\n" + `namespace = "team"`,
		addr + `allowed_cidr_list = "10.0.0.1"`,
		addr + "ssh_mount_point \"x\" {\n a = 1\n}\n",
		addr + "ssh_mount_point = <<EOF\nssh\nEOF\n",
		addr + "allowed_roles = [\"a\", {b = 1}]\n",
		addr + "timeout = 99999999999999999999\n",
		`{"vault_addr": "https://vault.example.com", "tls_skip_verify": true, "timeout": 3}`,
		`{"vault_addr": [{"a": {"b": 1}}], "x": null}`,
		"vault_addr = \"https://u:p@h\"\n",
		"vault_addr = \"\\u00e9\"\n",
		"a b c = 1\n",
		"/* unterminated",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse(testPath, src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %q is not a *Error", err, err)
			}
			if cfg != nil {
				t.Fatal("Parse returned a config and an error")
			}
			if e.Line < 0 {
				t.Fatalf("negative line %d", e.Line)
			}
			return
		}
		// A config that parses is usable: the later checks must not fail
		// for lack of a field.
		if cfg.VaultAddr == "" || cfg.SSHMountPoint == "" || strings.HasPrefix(cfg.SSHMountPoint, "/") {
			t.Fatalf("incomplete config: %+v", public(cfg))
		}
		if cfg.Timeout <= 0 || cfg.Timeout > MaxTimeout {
			t.Fatalf("timeout %s out of bounds", cfg.Timeout)
		}
		if err := cfg.CheckScheme(true); err != nil {
			t.Fatalf("CheckScheme(dev) on a parsed config: %v", err)
		}
		_ = cfg.RoleAllowed("otp")
	})
}

// FuzzArgs takes a module argument list joined by NUL bytes (PAM
// arguments may hold spaces).
func FuzzArgs(f *testing.F) {
	for _, seed := range [][]string{
		{"config=/etc/vault-ssh-helper.d/config.hcl"},
		{"config=/etc/x.hcl", "dev", "debug"},
		{"use_first_pass", "try_first_pass"},
		{"config=", "bogus"},
		{"config=relative.hcl", "config=/a b/c.hcl"},
		{""},
	} {
		f.Add(strings.Join(seed, "\x00"))
	}
	f.Fuzz(func(t *testing.T, joined string) {
		argv := strings.Split(joined, "\x00")
		args, warnings, err := ParseArgs(argv)
		if err == nil && !filepath.IsAbs(args.ConfigPath) {
			t.Fatalf("ConfigPath %q is not absolute", args.ConfigPath)
		}
		if len(warnings) > len(argv) {
			t.Fatalf("%d warnings for %d arguments", len(warnings), len(argv))
		}
	})
}
