package main

import (
	"bytes"
	"testing"
)

// TestVersion checks that -version prints the version the build set, in
// both spellings, and exits 0.
func TestVersion(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "1.2.0+3.gabc1234"
	for _, arg := range []string{"-version", "--version"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{arg}, nil, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d, stderr %q", arg, code, stderr.String())
		}
		if got, want := stdout.String(), "pam-vault-check 1.2.0+3.gabc1234\n"; got != want {
			t.Errorf("%s printed %q, want %q", arg, got, want)
		}
	}
}
