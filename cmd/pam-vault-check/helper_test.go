package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"pam_vault/internal/engine"
)

// TestHelperWire runs the helper on requests as the module sends them: a
// whole one gets its verdict; one whose token never came (the module's
// conversation failed) gets none.
func TestHelperWire(t *testing.T) {
	t.Chdir(t.TempDir()) // the helper moves to "/"; this puts it back after
	missing := filepath.Join(t.TempDir(), "missing.hcl")
	whole := engine.AppendRequest(nil, engine.Request{Args: []string{"config=" + missing}, User: "alice", Token: "hunter2"})
	argsOnly := []byte("1\x00config=" + missing + "\x00")
	for _, tc := range []struct {
		name     string
		in       []byte
		status   int
		verdict  bool
		logParts []string
	}{
		{"whole request", whole, 0, true, []string{"configuration error", "no such file"}},
		{"arguments, then the module gave up", argsOnly, 1, false, nil},
		{"not a request", []byte("garbage"), 0, true, []string{"helper:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if status := runHelper(nil, bytes.NewReader(tc.in), &out, &bytes.Buffer{}); status != tc.status {
				t.Fatalf("exit status %d, want %d", status, tc.status)
			}
			if !tc.verdict {
				if out.Len() != 0 {
					t.Fatalf("wrote %q, want nothing", out.String())
				}
				return
			}
			v, err := engine.ReadVerdict(out.Bytes())
			if err != nil {
				t.Fatalf("verdict %q: %v", out.String(), err)
			}
			for _, p := range tc.logParts {
				if !strings.Contains(v.Log, p) {
					t.Errorf("log %q does not contain %q", v.Log, p)
				}
			}
		})
	}
}
