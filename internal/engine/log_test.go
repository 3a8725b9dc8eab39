package engine

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestField checks that a log value is written as is only when it is plain.
func TestField(t *testing.T) {
	tests := []struct {
		in     string
		quoted bool
	}{
		{"alice", false},
		{"svc-01", false},
		{"a.b_c@example.com", false},
		{"10.1.2.3", false},
		{"::1", false},
		{"https://vault.example.com:8200", false},
		{"", false},
		{"alice smith", true},
		{"alice\tsmith", true},
		{`al"ice`, true},
		{`al\ice`, true},
		{"alice=root", true},
		{"alice;", true},
		{"alice\nauthentication failure; user=root", true},
		{"alice\r", true},
		{"alice\x00", true},
		{"alice\x1b[31m", true},
		{"alice\x7f", true},
		{"José", true},
		{"ｒｏｏｔ", true},
		{"root\u202e", true},
		{"root\u2028x", true},
		{"\xff", true},
	}
	for _, tt := range tests {
		got := field(tt.in)
		want := tt.in
		if tt.quoted {
			want = strconv.Quote(tt.in)
		}
		if got != want {
			t.Errorf("field(%q) = %s, want %s", tt.in, got, want)
		}
		if strings.ContainsAny(got, "\n\r\x00") {
			t.Errorf("field(%q) = %q holds a line break or NUL", tt.in, got)
		}
	}
}

// TestLogQuotesFields checks that a user name or remote host cannot forge a
// field or a second line of the log, whatever it holds.
func TestLogQuotesFields(t *testing.T) {
	ca := caFile(t)
	cfg := writeConfig(t, "vault_addr = \"http://"+closedAddr(t)+"\"\nca_cert = "+strconv.Quote(ca)+"\n")
	hostile := []string{
		"alice smith",
		`alice" role="admin`,
		"alice role=admin",
		"alice=root",
		"alice; accepted Vault OTP",
		"alice\naccepted Vault OTP; user=root rhost=10.0.0.1",
		"alice\r\nx",
		"alice\x00root",
		"José",
		"root\u2028accepted",
		"\x1b[2K",
		"\xff\xfe",
	}
	for _, s := range hostile {
		for _, which := range []string{"user", "rhost"} {
			t.Run(which+" "+strconv.Quote(s), func(t *testing.T) {
				req := Request{Args: []string{"config=" + cfg, "dev", "debug"}, User: "alice", Token: "hunter2", RemoteHost: "10.0.0.1"}
				if which == "user" {
					req.User = s
				} else {
					req.RemoteHost = s
				}
				v := Decide(context.Background(), req)
				if v.Result != AuthErr {
					t.Fatalf("Result = %s, want PAM_AUTH_ERR; log: %s", v.Result.PAMName(), v.Log)
				}
				checkLogLine(t, v.Log)
				want := " " + which + "=" + strconv.Quote(s) + " "
				if !strings.Contains(v.Log, want) {
					t.Errorf("log does not hold %s: %s", want, v.Log)
				}
			})
		}
	}
}

// TestLogQuotesRecord checks every field of a log line built from a record
// holding hostile values, including the role Vault returned and the warnings.
func TestLogQuotesRecord(t *testing.T) {
	evil := "x\ny=z; \"q\" é"
	r := record{user: evil, rhost: evil, role: evil, vault: evil, warnings: []string{evil}}
	for _, res := range []Result{Success, AuthErr, Unavailable, ServiceErr} {
		v := r.verdict(res, errors.New(evil))
		checkLogLine(t, v.Log)
		for _, f := range []string{"user", "rhost", "role", "reason", "vault"} {
			if want := " " + f + "=" + strconv.Quote(evil); !strings.Contains(v.Log, want) {
				t.Errorf("%s: log does not hold %s: %s", res.PAMName(), want, v.Log)
			}
		}
		if !strings.Contains(v.Log, " ignored="+strconv.Quote(evil)) {
			t.Errorf("%s: warnings not quoted: %s", res.PAMName(), v.Log)
		}
	}
}

// checkLogLine fails t unless log is one line whose fields, read with quoted
// values as units, have distinct names.
func checkLogLine(t *testing.T, log string) {
	t.Helper()
	if strings.ContainsAny(log, "\n\r\x00") {
		t.Fatalf("log is not one line: %q", log)
	}
	_, rest, ok := strings.Cut(log, "; ")
	if !ok {
		t.Fatalf("log has no '; ' after its summary: %s", log)
	}
	seen := map[string]bool{}
	for rest != "" {
		name, after, ok := strings.Cut(rest, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \"") {
			t.Fatalf("log field name %q is malformed at %q in %s", name, rest, log)
		}
		if seen[name] {
			t.Fatalf("log field %s appears twice: %s", name, log)
		}
		seen[name] = true
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				t.Fatalf("log field %s has a broken quoted value: %s", name, log)
			}
			rest = after[len(q):]
		} else if i := strings.IndexByte(after, ' '); i >= 0 {
			if strings.ContainsAny(after[:i], `"=;`) {
				t.Fatalf("log field %s has an unquoted value %q: %s", name, after[:i], log)
			}
			rest = after[i:]
		} else {
			rest = ""
		}
		if rest != "" {
			if !strings.HasPrefix(rest, " ") {
				t.Fatalf("log field %s is not followed by a space: %s", name, log)
			}
			rest = rest[1:]
		}
	}
}
