package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name     string
		argv     []string
		want     Args
		warnings []string // a part of each warning, in order
		err      string   // a part of the error; "" for none
	}{
		{"none", nil, Args{ConfigPath: DefaultPath}, nil, ""},
		{"empty slice", []string{}, Args{ConfigPath: DefaultPath}, nil, ""},
		{"config", []string{"config=/etc/pam_vault/config.hcl"}, Args{ConfigPath: "/etc/pam_vault/config.hcl"}, nil, ""},
		{"config with =", []string{"config=/etc/a=b.hcl"}, Args{ConfigPath: "/etc/a=b.hcl"}, nil, ""},
		{"all flags", []string{"dev", "debug", "use_first_pass", "try_first_pass", "helper", "in_process"},
			Args{ConfigPath: DefaultPath, Dev: true, Debug: true, UseFirstPass: true, TryFirstPass: true, Helper: true, InProcess: true}, nil, ""},
		{"in_process", []string{"in_process"}, Args{ConfigPath: DefaultPath, InProcess: true}, nil, ""},
		{"in_process misspelt", []string{"inprocess"}, Args{ConfigPath: DefaultPath}, []string{`unknown module argument "inprocess"`}, ""},
		{"totp mode", []string{"totp", "nullok", "config=/etc/pam_vault/totp.hcl"},
			Args{ConfigPath: "/etc/pam_vault/totp.hcl", TOTP: true, NullOK: true}, nil, ""},
		{"config and dev", []string{"dev", "config=/tmp/c.hcl"}, Args{ConfigPath: "/tmp/c.hcl", Dev: true}, nil, ""},
		{"repeated flag", []string{"debug", "debug"}, Args{ConfigPath: DefaultPath, Debug: true}, nil, ""},
		{"empty config", []string{"config="}, Args{ConfigPath: DefaultPath}, nil, "config= has an empty path"},
		{"relative config", []string{"config=config.hcl"}, Args{ConfigPath: DefaultPath}, nil, `config="config.hcl" is not an absolute path`},
		{"config twice", []string{"config=/a.hcl", "config=/b.hcl"}, Args{ConfigPath: "/b.hcl"}, []string{"more than once"}, ""},
		{"unknown", []string{"verbose"}, Args{ConfigPath: DefaultPath}, []string{`unknown module argument "verbose"`}, ""},
		{"case matters", []string{"DEV"}, Args{ConfigPath: DefaultPath}, []string{`"DEV"`}, ""},
		{"no config prefix match", []string{"config"}, Args{ConfigPath: DefaultPath}, []string{`unknown module argument "config"`}, ""},
		{"dev with value", []string{"dev=1"}, Args{ConfigPath: DefaultPath}, []string{`"dev=1"`}, ""},
		{"empty argument", []string{""}, Args{ConfigPath: DefaultPath}, []string{`unknown module argument ""`}, ""},
		{"control characters quoted", []string{"a\nb"}, Args{ConfigPath: DefaultPath}, []string{`"a\nb"`}, ""},
		{"mixed", []string{"bogus", "use_first_pass", "config=/x.hcl"},
			Args{ConfigPath: "/x.hcl", UseFirstPass: true}, []string{`"bogus"`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := ParseArgs(tt.argv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseArgs(%q) error = %v, want one containing %q", tt.argv, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseArgs(%q): %v", tt.argv, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseArgs(%q) = %+v, want %+v", tt.argv, got, tt.want)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d matching %q", warnings, len(tt.warnings), tt.warnings)
			}
			for i, w := range warnings {
				if !strings.Contains(w, tt.warnings[i]) {
					t.Errorf("warning %d = %q, want it to contain %q", i, w, tt.warnings[i])
				}
				if strings.ContainsAny(w, "\n\r") {
					t.Errorf("warning %d = %q holds a line break", i, w)
				}
			}
		})
	}
}
