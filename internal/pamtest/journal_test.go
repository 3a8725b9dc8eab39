package pamtest

import "testing"

func TestContainsToken(t *testing.T) {
	for _, tt := range []struct {
		line, tok string
		want      bool
	}{
		{`reason="wrong code 493817"`, "493817", true},
		{`code=493817;`, "493817", true},
		{"493817", "493817", true},
		{"/tmp/pam_vault-it-2493817551/x.hcl", "493817", false},
		{"elapsed=1.493817s", "493817", true}, // a digit run of its own is a hit
		{"pid 14938170", "493817", false},
		{"a 1493817 and a 493817", "493817", true},
		{"hunter2 in the line", "hunter2", true},
		{"xhunter2x", "hunter2", true},
		{"nothing here", "hunter2", false},
	} {
		if got := ContainsToken(tt.line, tt.tok); got != tt.want {
			t.Errorf("ContainsToken(%q, %q) = %v, want %v", tt.line, tt.tok, got, tt.want)
		}
	}
}
