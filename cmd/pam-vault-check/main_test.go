package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHelpListsEveryCommandOnOneLine(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help", "help"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{arg}, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d, want 0\n%s", arg, code, stderr.String())
		}
		lines := strings.Split(stdout.String(), "\n")
		for _, c := range commands {
			var found []string
			for _, l := range lines {
				if f := strings.Fields(l); len(f) > 1 && f[0] == c.name {
					found = append(found, l)
				}
			}
			if len(found) != 1 || !strings.HasSuffix(found[0], c.summary) {
				t.Errorf("%s: want one line for %s ending in its summary, got %q\n%s", arg, c.name, found, stdout.String())
			}
		}
	}
	for _, name := range []string{"check", "login", "doctor", "helper", "enroll"} {
		if !hasCommand(name) {
			t.Errorf("no command %s", name)
		}
	}
}

func hasCommand(name string) bool {
	for _, c := range commands {
		if c.name == name {
			return true
		}
	}
	return false
}

func TestUnknownArgumentPointsAtHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"enrol"}, strings.NewReader(""), &stdout, &stderr); code != 64 {
		t.Fatalf("exit %d, want 64", code)
	}
	if !strings.Contains(stderr.String(), `unexpected argument "enrol"; pam-vault-check -h lists the commands`) {
		t.Fatalf("unclear error: %s", stderr.String())
	}
}
