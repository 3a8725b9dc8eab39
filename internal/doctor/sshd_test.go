package doctor

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitDirective(t *testing.T) {
	tests := []struct {
		line    string
		keyword string
		args    []string
	}{
		{"", "", nil},
		{"   # comment", "", nil},
		{"UsePAM yes", "UsePAM", []string{"yes"}},
		{"  usepam\tyes # on", "usepam", []string{"yes"}},
		{"PasswordAuthentication=no", "PasswordAuthentication", []string{"no"}},
		{"PasswordAuthentication = no", "PasswordAuthentication", []string{"no"}},
		{"AuthenticationMethods publickey,password publickey,keyboard-interactive", "AuthenticationMethods",
			[]string{"publickey,password", "publickey,keyboard-interactive"}},
		{`Match User "alice smith",bob`, "Match", []string{"User", "alice smith", ",bob"}},
		{"Banner", "Banner", nil},
	}
	for _, tt := range tests {
		k, a := splitDirective(tt.line)
		if k != tt.keyword || !reflect.DeepEqual(a, tt.args) {
			t.Errorf("splitDirective(%q) = %q, %q; want %q, %q", tt.line, k, a, tt.keyword, tt.args)
		}
	}
}

func TestReadConfigFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"sshd_config": "Include " + dir + "/d/*.conf\n" +
			"PasswordAuthentication no\n" +
			"Match User alice\n" +
			"  AuthenticationMethods keyboard-interactive\n" +
			"  Include " + dir + "/in-match.conf\n" +
			"  AuthenticationMethods publickey\n" +
			"Match Address 10.0.0.0/8\n" +
			"  PasswordAuthentication yes\n",
		"d/10-a.conf":   "PasswordAuthentication yes\n",
		"d/20-b.conf":   "Match Group admins\n  KbdInteractiveAuthentication no\n",
		"d/30-c.conf":   "UsePAM yes\n", // after 20-b's Match: global again
		"in-match.conf": "PubkeyAuthentication no\n",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := ReadConfigFiles(filepath.Join(dir, "sshd_config"))
	if err != nil {
		t.Fatal(err)
	}
	pw := c.Global("passwordauthentication")
	if len(pw) != 2 || filepath.Base(pw[0].At.File) != "10-a.conf" || pw[1].Args[0] != "no" {
		t.Errorf("global PasswordAuthentication lines = %+v, want 10-a.conf's first, then sshd_config's", pw)
	}
	if up := c.Global("usepam"); len(up) != 1 {
		t.Errorf("UsePAM after an included file's Match block is global; got %+v", up)
	}
	var criteria []string
	for _, m := range c.Matches {
		criteria = append(criteria, m.Criteria)
	}
	if want := []string{"Group admins", "User alice", "Address 10.0.0.0/8"}; !reflect.DeepEqual(criteria, want) {
		t.Fatalf("Match blocks %q, want %q", criteria, want)
	}
	alice := c.Matches[1]
	if d := alice.Settings["authenticationmethods"]; !reflect.DeepEqual(d.Args, []string{"keyboard-interactive"}) {
		t.Errorf("alice's AuthenticationMethods = %q, want the first one", d.Args)
	}
	if _, ok := alice.Settings["pubkeyauthentication"]; !ok {
		t.Errorf("a file included inside alice's Match block belongs to it: %+v", alice.Settings)
	}
	if _, err := ReadConfigFiles(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadConfigFiles of a missing file: no error")
	}
}

func TestAuthSettings(t *testing.T) {
	base := AuthSettings{UsePAM: true, KbdInteractive: true, Pubkey: true}
	with := func(f func(*AuthSettings)) AuthSettings { a := base; f(&a); return a }
	tests := []struct {
		name      string
		a         AuthSettings
		pam       []string
		alone     string // the PAM-only list, "" for none
		besideKbd bool
	}{
		{"any, kbd", base, []string{"keyboard-interactive"}, "keyboard-interactive", false},
		{"any, kbd and password", with(func(a *AuthSettings) { a.Password = true }),
			[]string{"password", "keyboard-interactive"}, "password", true},
		{"key then kbd", with(func(a *AuthSettings) { a.Methods = [][]string{{"publickey", "keyboard-interactive:pam"}} }),
			[]string{"keyboard-interactive:pam"}, "", false},
		{"key then kbd, kbd off", with(func(a *AuthSettings) {
			a.KbdInteractive = false
			a.Methods = [][]string{{"publickey", "keyboard-interactive"}}
		}), nil, "", false},
		{"UsePAM no", with(func(a *AuthSettings) { a.UsePAM = false }), nil, "", false},
		{"bsdauth", with(func(a *AuthSettings) { a.Methods = [][]string{{"keyboard-interactive:bsdauth"}} }), nil, "", false},
		{"disabled list skipped", with(func(a *AuthSettings) {
			a.Methods = [][]string{{"hostbased", "keyboard-interactive"}, {"publickey"}}
		}), nil, "", false},
		{"alternatives after a key", with(func(a *AuthSettings) {
			a.Password = true
			a.Methods = [][]string{{"publickey", "password"}, {"publickey", "keyboard-interactive"}}
		}), []string{"password", "keyboard-interactive"}, "", true},
		{"sequence", with(func(a *AuthSettings) {
			a.Password = true
			a.Methods = [][]string{{"password", "keyboard-interactive"}}
		}), []string{"password", "keyboard-interactive"}, "password,keyboard-interactive", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.PAMMethods(); !reflect.DeepEqual(got, tt.pam) {
				t.Errorf("PAMMethods = %q, want %q", got, tt.pam)
			}
			list, ok := tt.a.PAMOnlyList()
			if got := strings.Join(list, ","); ok != (tt.alone != "") || got != tt.alone {
				t.Errorf("PAMOnlyList = %q, %v; want %q", got, ok, tt.alone)
			}
			if got := tt.a.PasswordBesideKbd(); got != tt.besideKbd {
				t.Errorf("PasswordBesideKbd = %v, want %v", got, tt.besideKbd)
			}
		})
	}
}

// TestOpenSSH10 reads `sshd -T` as Debian 13's OpenSSH 10.0p2 printed it
// for README's sshd settings (testdata/sshd-T-openssh-10.0p2.txt, recorded
// in the pam_vault-base:trixie image with `sshd -T -f` on HostKey, UsePAM
// yes, KbdInteractiveAuthentication yes, PasswordAuthentication no): the
// bookworm sshd the other tests run rejects PerSourcePenalties.
func TestOpenSSH10(t *testing.T) {
	out, err := os.ReadFile("testdata/sshd-T-openssh-10.0p2.txt")
	if err != nil {
		t.Fatal(err)
	}
	plain := ParseEffective(out)
	if got := plain.Get("persourcepenaltyexemptlist"); got != "none" {
		t.Fatalf("recorded output: persourcepenaltyexemptlist %q, want none", got)
	}
	exempt := ParseEffective([]byte(strings.Replace(string(out), "persourcepenaltyexemptlist none", "persourcepenaltyexemptlist 203.0.113.0/24", 1)))
	tests := []struct {
		name  string
		e     Effective
		files *ConfigFiles
		want  []want
	}{
		{"defaults", plain, nil, []want{{Warn, "penalties", "adds 5s to its source address's penalty, and past 15s"}, {OK, "methods", "keyboard-interactive"}}},
		{"exempt list", exempt, nil, []want{{OK, "penalties", "PerSourcePenaltyExemptList 203.0.113.0/24"}}},
		{"set explicitly", plain, &ConfigFiles{Directives: []Directive{{At: Position{"/etc/ssh/sshd_config", 9},
			Keyword: "persourcepenalties", Name: "PerSourcePenalties", Args: []string{"authfail:1"}}}},
			[]want{{OK, "penalties", "set at /etc/ssh/sshd_config:9"}}},
		{"off", ParseEffective([]byte(strings.Replace(string(out), "persourcepenalties crash", "persourcepenalties no\nx crash", 1))), nil,
			[]want{{OK, "penalties", "PerSourcePenalties no"}}},
		{"another PAM service", ParseEffective([]byte(strings.Replace(string(out), "pamservicename sshd", "pamservicename sshd-vault", 1))), nil,
			[]want{{Warn, "sshd", "-service sshd-vault"}, {Warn, "penalties", "NAT"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &report{}
			checkSSHD(r, &SSHDFacts{Command: "sshd -T", ConfigPath: "/etc/ssh/sshd_config", Effective: tt.e, Files: tt.files}, 0, "sshd")
			assertFindings(t, r.findings, tt.want)
		})
	}
}

// TestSSHDNotChecked covers what sshd -T cannot tell: no sshd, not root.
func TestSSHDNotChecked(t *testing.T) {
	tests := []struct {
		name string
		s    SSHDFacts
		euid int
		want want
	}{
		{"missing", SSHDFacts{Missing: true, Err: errors.New("no sshd program at /usr/sbin/sshd")}, 0,
			want{Warn, "sshd", "sshd not checked: no sshd program"}},
		{"not root", SSHDFacts{Err: errors.New("sshd -T failed: sshd: no hostkeys available -- exiting.")}, 1000,
			want{Warn, "sshd", "sshd -T needs root"}},
		{"rejected as root", SSHDFacts{Err: errors.New("sshd -T failed: Bad configuration option: UsePam2")}, 0,
			want{Fail, "sshd", "sshd rejects its configuration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &report{}
			if ctx := checkSSHD(r, &tt.s, tt.euid, "sshd"); ctx != nil {
				t.Errorf("contexts %+v from an sshd that gave no configuration", ctx)
			}
			assertFindings(t, r.findings, []want{tt.want})
		})
	}
}
