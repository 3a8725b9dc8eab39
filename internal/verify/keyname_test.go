package verify

import (
	"regexp"
	"testing"
)

// vaultKeyPath is the pattern of the TOTP engine's key paths in Vault
// v1.21.0 (builtin/logical/totp: "keys/" + framework.GenericNameWithAtRegex,
// anchored by the framework), the rule IsKeyName restates.
var vaultKeyPath = regexp.MustCompile(`^keys/(?P<name>\w(([\w-.@]+)?\w)?)$`)

func TestIsKeyName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"alice", true},
		{"a", true},
		{"_", true},
		{"svc_backup", true},
		{"alice.smith", true},
		{"alice@example.com", true},
		{"a-b", true},
		{"a..b", true},
		{"UPPER9", true},
		{"", false},
		{"-alice", false},
		{"alice-", false},
		{".alice", false},
		{"alice.", false},
		{"@alice", false},
		{"alice smith", false},
		{"alice/../bob", false},
		{"alice?x=1", false},
		{"alice#", false},
		{"al%2Fice", false},
		{"alice\n", false},
		{"alice\x00", false},
		{"DOMAIN\\alice", false},
		{"alice+tag", false},
		{"ålice", false},
		{"..", false},
	} {
		if got := IsKeyName(tc.name); got != tc.want {
			t.Errorf("IsKeyName(%q) = %v, want %v", tc.name, got, tc.want)
		}
		if got := vaultKeyPath.MatchString("keys/" + tc.name); got != tc.want {
			t.Errorf("Vault's key path pattern matches %q: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzIsKeyName checks IsKeyName against Vault's own pattern.
func FuzzIsKeyName(f *testing.F) {
	for _, s := range []string{"alice", "a.b", "-a", "a@b.c", "é", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := IsKeyName(name), vaultKeyPath.MatchString("keys/"+name); got != want {
			t.Fatalf("IsKeyName(%q) = %v, Vault's pattern says %v", name, got, want)
		}
	})
}
