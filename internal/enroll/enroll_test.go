package enroll

import (
	"strings"
	"testing"
)

func TestCheckUser(t *testing.T) {
	for _, tc := range []struct {
		user string
		ok   bool
	}{
		{"alice", true},
		{"alice.smith@example.com", true},
		{"", false},
		{"-alice", false},
		{"alice/../bob", false},
		{"DOMAIN\\alice", false},
		{"ålice", false},
	} {
		err := CheckUser(tc.user)
		if (err == nil) != tc.ok {
			t.Errorf("CheckUser(%q) = %v, want ok=%v", tc.user, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "cannot name a Vault TOTP key") {
			t.Errorf("CheckUser(%q): unclear error %v", tc.user, err)
		}
	}
}

func TestCheckIssuer(t *testing.T) {
	for _, tc := range []struct {
		issuer  string
		wantErr string
	}{
		{"vault.example.com", ""},
		{"Example Corp", ""},
		{"Société Générale", ""},
		{"", "empty"},
		{"vault:8200", "colon"},
		{"a\nb", "control character"},
		{"a\x7fb", "control character"},
	} {
		err := CheckIssuer(tc.issuer)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckIssuer(%q) = %v, want nil", tc.issuer, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckIssuer(%q) = %v, want an error about %q", tc.issuer, err, tc.wantErr)
		}
	}
}

func TestCheckKeyURL(t *testing.T) {
	const secret = "V7MBSK324I7KF6KVW34NDFH2GYHIF6JY"
	for _, tc := range []struct {
		url     string
		wantErr string
	}{
		{"otpauth://totp/Vault:alice?algorithm=SHA1&digits=6&issuer=Vault&period=30&secret=" + secret, ""},
		{"", "no url"},
		{"otpauth://hotp/Vault:alice?secret=" + secret, "not otpauth://totp/"},
		{"https://totp/Vault:alice?secret=" + secret, "not otpauth://totp/"},
		{"otpauth://totp/Vault:alice?issuer=Vault", "without a secret"},
		{"otpauth://totp/%zz?secret=" + secret, "does not parse"},
	} {
		err := checkKeyURL(tc.url)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("checkKeyURL(%q) = %v, want nil", tc.url, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("checkKeyURL(%q) = %v, want an error about %q", tc.url, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("checkKeyURL's error quotes the secret: %v", err)
		}
	}
}

func TestAnswerError(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   []string
	}{
		{403, `{"errors":["permission denied"]}`, []string{"Vault refused the token", "permission denied", "read and update", "totp/keys/*"}},
		{403, `{"errors":["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]}`, []string{"(HTTP 403: 2 errors occurred: * permission denied * invalid token)"}},
		{404, `{"errors":["no handler for route \"totp/keys/alice\". route entry not found."]}`, []string{"no TOTP secrets engine answers at totp", "no handler for route", "totp_mount_point"}},
		{503, `{"errors":["Vault is sealed"]}`, []string{"sealed"}},
		{400, `{"errors":["the issuer value is required for generated keys"]}`, []string{"HTTP 400", "issuer value is required"}},
		{500, `not json`, []string{"HTTP 500"}},
	} {
		err := answerError("creating", "totp", "totp/keys/alice", tc.status, []byte(tc.body))
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("HTTP %d: %v lacks %q", tc.status, err, w)
			}
		}
		if strings.ContainsAny(err.Error(), "\n\t") {
			t.Errorf("HTTP %d: %q is not one line", tc.status, err)
		}
		if !strings.HasPrefix(err.Error(), "creating totp/keys/alice: ") {
			t.Errorf("HTTP %d: %v does not say what was being done", tc.status, err)
		}
	}
}
