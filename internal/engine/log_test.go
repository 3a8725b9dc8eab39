package engine

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestLogClipsCallerFields checks that no caller-supplied field can push the
// reason off the log line: each is cut to its bound with a visible marker,
// the line fits the adapter's buffer, and the reason is whole.
func TestLogClipsCallerFields(t *testing.T) {
	huge := strings.Repeat("a", 1010)
	wide := strings.Repeat("\x01", 600) // each byte is written as 4
	reason := errors.New(`token is not shaped like a Vault OTP; Vault was not asked`)
	tests := []struct {
		name string
		rec  record
		cut  []string // fields that must be cut
	}{
		{"1010-byte user", record{user: huge}, []string{"user"}},
		{"user of control characters", record{user: wide}, []string{"user"}},
		{"user with a line break", record{user: huge + "\nsshd[1]: Accepted password for root"}, []string{"user"}},
		{"huge rhost", record{user: "alice", rhost: huge}, []string{"rhost"}},
		{"huge role", record{user: "alice", role: huge}, []string{"role"}},
		{"huge ignored arguments", record{user: "alice", warnings: []string{huge, huge}}, []string{"ignored"}},
		{"huge vault", record{user: "alice", vault: huge, debug: true}, []string{"vault"}},
		{"everything huge", record{user: huge, rhost: wide, role: huge, vault: huge, warnings: []string{huge}, debug: true, start: time.Now()},
			[]string{"user", "rhost", "role", "ignored", "vault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.rec.verdict(AuthErr, reason)
			checkLogLine(t, v.Log)
			if len(v.Log) > MaxLog {
				t.Fatalf("log line is %d bytes, more than the %d the adapter holds: %s", len(v.Log), MaxLog, v.Log)
			}
			if want := " reason=" + strconv.Quote(reason.Error()); !strings.Contains(v.Log, want) {
				t.Fatalf("log does not hold the whole reason %s: %s", want, v.Log)
			}
			for _, f := range tt.cut {
				val := fieldValue(t, v.Log, f)
				if !strings.HasSuffix(val, " bytes)") || !strings.Contains(val, "…(") {
					t.Errorf("field %s = %q is not marked as cut", f, val)
				}
			}
		})
	}
}

// TestLogClipsReasonLast checks that a reason too long for what the fields
// leave is cut, marked, and the line still fits; fields within their bounds
// are whole.
func TestLogClipsReasonLast(t *testing.T) {
	r := record{user: "alice", rhost: "10.0.0.1"}
	v := r.verdict(ServiceErr, errors.New(strings.Repeat("reason ", 400)))
	checkLogLine(t, v.Log)
	if len(v.Log) > MaxLog {
		t.Fatalf("log line is %d bytes: %s", len(v.Log), v.Log)
	}
	if !strings.Contains(v.Log, " user=alice rhost=10.0.0.1 ") {
		t.Errorf("short fields were changed: %s", v.Log)
	}
	if val := fieldValue(t, v.Log, "reason"); !strings.HasSuffix(val, "…(2800 bytes)") {
		t.Errorf("reason = %q, want it cut and marked", val)
	}
}

// fieldValue returns the value of the field name of a log line, unquoted.
func fieldValue(t *testing.T, log, name string) string {
	t.Helper()
	_, after, ok := strings.Cut(log, " "+name+"=")
	if !ok {
		t.Fatalf("log has no field %s: %s", name, log)
	}
	if strings.HasPrefix(after, `"`) {
		q, err := strconv.QuotedPrefix(after)
		if err != nil {
			t.Fatalf("field %s is badly quoted: %s", name, log)
		}
		s, _ := strconv.Unquote(q)
		return s
	}
	val, _, _ := strings.Cut(after, " ")
	return val
}
