package doctor

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestNextToken(t *testing.T) {
	tests := []struct {
		in, tok, rest string
	}{
		{"", "", ""},
		{"   ", "", ""},
		{"auth required", "auth", "required"},
		{"\t auth\trequired", "auth", "required"},
		{"[success=1 default=ignore] pam_unix.so", "success=1 default=ignore", " pam_unix.so"},
		{"[a \\] b] rest", "a ] b", " rest"},
		{"[unclosed", "unclosed", ""},
		{"[]x", "", "x"},
		{"pam_unix.so\r", "pam_unix.so\r", ""},
	}
	for _, tt := range tests {
		tok, rest := nextToken(tt.in)
		if tok != tt.tok || rest != tt.rest {
			t.Errorf("nextToken(%q) = %q, %q; want %q, %q", tt.in, tok, rest, tt.tok, tt.rest)
		}
	}
}

func TestAssembleLines(t *testing.T) {
	src := "# comment\n" +
		"\n" +
		"auth required pam_a.so # tail\n" +
		"auth \\\n" +
		"  # comment inside\n" +
		"\n" +
		"  required pam_b.so\n" +
		"auth required pam_c.so \\\n"
	lines, bad := assembleLines([]byte(src))
	want := []logicalLine{{3, "auth required pam_a.so "}, {4, "auth  required pam_b.so"}}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines = %+v, want %+v", lines, want)
	}
	if bad != 8 {
		t.Errorf("bad = %d, want 8 (the backslash at the end of the file)", bad)
	}
}

func TestParseControl(t *testing.T) {
	tests := []struct {
		control string
		want    map[Code]Action
		err     string
	}{
		{"required", map[Code]Action{Success: ActionOK, Ignore: ActionIgnore, AuthErr: ActionBad}, ""},
		{"Requisite", map[Code]Action{Success: ActionOK, Ignore: ActionIgnore, AuthErr: ActionDie}, ""},
		{"sufficient", map[Code]Action{Success: ActionDone, AuthErr: ActionIgnore, Ignore: ActionIgnore}, ""},
		{"optional", map[Code]Action{Success: ActionOK, AuthErr: ActionIgnore}, ""},
		{"default=ok", map[Code]Action{Success: ActionOK, AuthErr: ActionOK, Ignore: ActionOK}, ""},
		{"success=1 default=ignore", map[Code]Action{Success: 1, AuthErr: ActionIgnore}, ""},
		{"success=done authinfo_unavail=ignore default=die",
			map[Code]Action{Success: ActionDone, AuthinfoUnavail: ActionIgnore, AuthErr: ActionDie, Ignore: ActionDie}, ""},
		{"success=ok", map[Code]Action{Success: ActionOK, AuthErr: ActionBad}, ""},
		{" success = ok  default = reset ", map[Code]Action{Success: ActionOK, AuthErr: ActionReset}, ""},
		{"sucess=ok", map[Code]Action{Success: ActionBad}, "expecting a return value"},
		{"success=0", map[Code]Action{Success: ActionBad}, "not a positive number"},
		{"success", map[Code]Action{Success: ActionBad}, "expecting a return value"},
		{"success=", map[Code]Action{Success: ActionBad}, "expecting an action"},
		{"success=maybe", map[Code]Action{Success: ActionBad}, "expecting an action or a jump"},
		{"requird", map[Code]Action{Success: ActionBad}, "requird"},
	}
	for _, tt := range tests {
		got, err := ParseControl(tt.control)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseControl(%q) error = %v, want one containing %q", tt.control, err, tt.err)
		}
		for code, action := range tt.want {
			if got[code] != action {
				t.Errorf("ParseControl(%q)[%s] = %s, want %s", tt.control, code, got[code], action)
			}
		}
	}
}

// writeServices writes files into a new PAM directory and returns it.
func writeServices(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadStackIncludes(t *testing.T) {
	dir := writeServices(t, map[string]string{
		"svc": "@include a\n" +
			"auth substack b\n" +
			"-auth optional pam_x.so arg1 [arg two]\n" +
			"account include a\n",
		"a": "auth required pam_a.so\naccount required pam_acct.so\n",
		"b": "# b\nauth sufficient pam_b.so\n@include c\n",
		"c": "auth required pam_c.so\nsession required pam_s.so\n",
	})
	s, err := ReadStack(dir, "svc")
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		module string
		level  int
		sub    bool
		at     string
		via    string
	}
	var auth []got
	for _, r := range s.Rules["auth"] {
		var via []string
		for _, p := range r.Via {
			via = append(via, filepath.Base(p.File)+":"+strconv.Itoa(p.Line))
		}
		auth = append(auth, got{r.Module, r.Level, r.Substack, filepath.Base(r.At.File) + ":" + strconv.Itoa(r.At.Line), strings.Join(via, ",")})
	}
	wantAuth := []got{
		{"pam_a.so", 0, false, "a:1", "svc:1"},
		{"", 0, true, "svc:2", ""},
		{"pam_b.so", 1, false, "b:2", "svc:2"},
		{"pam_c.so", 1, false, "c:1", "svc:2,b:3"},
		{"pam_x.so", 0, false, "svc:3", ""},
	}
	if !reflect.DeepEqual(auth, wantAuth) {
		t.Errorf("auth rules:\n got %+v\nwant %+v", auth, wantAuth)
	}
	if x := s.Rules["auth"][4]; !x.Silent || !reflect.DeepEqual(x.Args, []string{"arg1", "arg two"}) {
		t.Errorf("pam_x.so rule = %+v, want silent with args [arg1, arg two]", x)
	}
	// @include brings every type; "account include" only accounts.
	var accounts []string
	for _, r := range s.Rules["account"] {
		accounts = append(accounts, r.Module)
	}
	if want := []string{"pam_acct.so", "pam_acct.so"}; !reflect.DeepEqual(accounts, want) {
		t.Errorf("account modules = %q, want %q", accounts, want)
	}
	if len(s.Rules["session"]) != 0 {
		t.Errorf("session rules %+v came from c, which only the auth substack includes", s.Rules["session"])
	}
	if want := []string{"svc", "a", "b", "c"}; len(s.Files) != 4 || filepath.Base(s.Files[3]) != want[3] {
		t.Errorf("files = %q, want %q", s.Files, want)
	}
	if len(s.Problems) != 0 {
		t.Errorf("problems = %+v", s.Problems)
	}
}

func TestReadStackFaults(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		broken  string // part of an auth rule's Broken
		problem string // part of a Problem
		fatal   bool
	}{
		{"missing @include", map[string]string{"svc": "@include nothing\n"}, "", "cannot read included file", true},
		{"missing include", map[string]string{"svc": "auth include nothing\n"}, "cannot read included file", "", false},
		{"missing substack", map[string]string{"svc": "auth substack nothing\n"}, "cannot read included file", "", false},
		{"include loop", map[string]string{"svc": "auth include svc\n"}, "", "nested deeper than 16", true},
		{"@include loop", map[string]string{"svc": "@include svc\n"}, "", "nested deeper than 16", true},
		{"bad type", map[string]string{"svc": "auht required pam_unix.so\n"}, "not a module type", "", false},
		{"no control", map[string]string{"svc": "auth\n"}, "no control field", "", false},
		{"no module", map[string]string{"svc": "auth required\n"}, "no module path", "", false},
		{"include of a device", map[string]string{"svc": "auth include /dev/zero\n"}, "not a regular file", "", false},
		{"@include of a directory", map[string]string{"svc": "@include /\n"}, "", "not a regular file", true},
		{"include without a name", map[string]string{"svc": "auth include\n"}, "without a file name", "", false},
		{"backslash at the end", map[string]string{"svc": "auth required pam_unix.so \\"}, "", "ends with a backslash", true},
		{"long line", map[string]string{"svc": "auth required pam_unix.so " + strings.Repeat("x", 1100) + "\n"}, "", "line buffer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ReadStack(writeServices(t, tt.files), "svc")
			if err != nil {
				t.Fatal(err)
			}
			if tt.broken != "" {
				found := false
				for _, r := range s.Rules["auth"] {
					found = found || strings.Contains(r.Broken, tt.broken)
				}
				if !found {
					t.Errorf("no auth rule broken with %q: %+v", tt.broken, s.Rules["auth"])
				}
			}
			if tt.problem != "" {
				found := false
				for _, p := range s.Problems {
					found = found || strings.Contains(p.Msg, tt.problem) && p.Fatal == tt.fatal
				}
				if !found {
					t.Errorf("no problem %q (fatal %v): %+v", tt.problem, tt.fatal, s.Problems)
				}
			}
		})
	}
}

func TestReadStackOther(t *testing.T) {
	dir := writeServices(t, map[string]string{"other": "auth required pam_deny.so\n"})
	s, err := ReadStack(dir, "sudo")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(s.File) != "other" || len(s.Rules["auth"]) != 1 {
		t.Errorf("ReadStack(sudo) read %s with %d auth rules, want libpam's fallback to other", s.File, len(s.Rules["auth"]))
	}
	if _, err := ReadStack(t.TempDir(), "sudo"); err == nil {
		t.Error("ReadStack with neither the service nor other: no error")
	}
	if _, err := ReadStack(dir, "../etc/passwd"); err == nil {
		t.Error("ReadStack accepted a service name with a slash")
	}
}
