package sshdtest

import (
	"slices"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tt := range []struct {
		out     string
		want    Version
		wantErr bool
	}{
		{"OpenSSH_9.2, OpenSSL 3.0.19 27 Jan 2026\n", Version{9, 2}, false},
		{"OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026\n", Version{9, 2}, false},
		{"OpenSSH_10.0p2 Debian-7, OpenSSL 3.5.1 1 Jul 2025\n", Version{10, 0}, false},
		{"unknown option -- V\nusage: sshd [-46DdeGiqTtV] ...\n", Version{}, true},
		{"OpenSSH_99999999999999999999.1", Version{}, true},
	} {
		got, err := ParseVersion(tt.out)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, error %v", tt.out, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestVersionLayout(t *testing.T) {
	for _, tt := range []struct {
		v             Version
		session, auth string
		penalties     bool
		config        []string
	}{
		{Version{9, 2}, "sshd", "sshd", false, nil},
		{Version{9, 7}, "sshd", "sshd", false, nil},
		{Version{9, 8}, "sshd-session", "sshd-session", true, []string{"PerSourcePenalties no"}},
		{Version{10, 0}, "sshd-session", "sshd-auth", true, []string{"PerSourcePenalties no"}},
		{Version{11, 0}, "sshd-session", "sshd-auth", true, []string{"PerSourcePenalties no"}},
	} {
		if got := tt.v.SessionProgram(); got != tt.session {
			t.Errorf("%v.SessionProgram() = %q, want %q", tt.v, got, tt.session)
		}
		if got := tt.v.AuthProgram(); got != tt.auth {
			t.Errorf("%v.AuthProgram() = %q, want %q", tt.v, got, tt.auth)
		}
		if got := tt.v.HasPenalties(); got != tt.penalties {
			t.Errorf("%v.HasPenalties() = %v, want %v", tt.v, got, tt.penalties)
		}
		if got := tt.v.TestConfig(); !slices.Equal(got, tt.config) {
			t.Errorf("%v.TestConfig() = %q, want %q", tt.v, got, tt.config)
		}
	}
}
