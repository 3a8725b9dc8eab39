package enroll

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"pam_vault/internal/config"
	"pam_vault/internal/verify"
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

// Answers of Vault 1.21.0's TOTP engine, as a dev server sent them (the
// secret replaced): a key read, the 404 for a key that is not there, and
// the answer to creating a key with qr_size=0, which has no barcode.
const (
	realKeyRead    = `{"request_id":"69487af5-24d5-db1e-bf46-31b429eed23e","lease_id":"","renewable":false,"lease_duration":0,"data":{"account_name":"alice","algorithm":"SHA1","digits":6,"issuer":"Vault","period":30},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"totp"}`
	realNoKey      = `{"errors":[]}`
	realKeyCreated = `{"request_id":"6147a8b4-4220-8bbe-b0c7-50e6193cdddb","lease_id":"","renewable":false,"lease_duration":0,"data":{"url":"otpauth://totp/Vault:alice?algorithm=SHA1\u0026digits=6\u0026issuer=Vault\u0026period=30\u0026secret=V7MBSK324I7KF6KVW34NDFH2GYHIF6JY"},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"totp"}`
	keyURL         = "otpauth://totp/Vault:alice?algorithm=SHA1&digits=6&issuer=Vault&period=30&secret=V7MBSK324I7KF6KVW34NDFH2GYHIF6JY"
)

// TestEnrollReadsAnswersStrictly runs Enroll against a server that answers
// the key read and the key write with the given bodies. Answers are read
// by the engine's strict decoder: a key named twice, a key that differs in
// case, or errors beside data are failures, never a value; and a 404 that
// is not exactly Vault's "no such key" never leads to a write.
func TestEnrollReadsAnswersStrictly(t *testing.T) {
	type answer struct {
		status int
		body   string
	}
	tests := []struct {
		name        string
		read, write answer
		wantWrite   bool   // the key was written
		wantURL     string // Enroll's key URL; "" for an error
		wantErr     string // a part of the error
	}{
		{"no key, created", answer{404, realNoKey}, answer{200, realKeyCreated}, true, keyURL, ""},
		{"no key, errors member absent", answer{404, `{}`}, answer{200, realKeyCreated}, true, keyURL, ""},
		{"a key exists", answer{200, realKeyRead}, answer{}, false, "", `alice already has a TOTP key at totp/keys/alice (issuer "Vault")`},
		{"read: issuer twice", answer{200, strings.Replace(realKeyRead, `"issuer":"Vault"`, `"issuer":"Vault","issuer":"x"`, 1)}, answer{}, false, "", `duplicate key "issuer"`},
		{"read: issuer in another case", answer{200, strings.Replace(realKeyRead, `"issuer"`, `"Issuer"`, 1)}, answer{}, false, "", "in case only"},
		{"read: errors beside data", answer{200, strings.Replace(realKeyRead, `"warnings":null`, `"errors":["x"]`, 1)}, answer{}, false, "", "errors beside its data"},
		{"read: no issuer", answer{200, strings.Replace(realKeyRead, `"issuer":"Vault",`, ``, 1)}, answer{}, false, "", "data.issuer is missing"},
		{"404 with errors twice", answer{404, `{"errors":[],"errors":["no handler for route"]}`}, answer{}, false, "", `duplicate key "errors"`},
		{"404 with Errors", answer{404, `{"Errors":["no handler for route"]}`}, answer{}, false, "", "in case only"},
		{"404 that is not JSON", answer{404, `404 page not found`}, answer{}, false, "", "an answer Vault would not send"},
		{"write: url twice", answer{404, realNoKey}, answer{200, strings.Replace(realKeyCreated, `"data":{`, `"data":{"url":"otpauth://totp/x:y?secret=AAAA",`, 1)}, true, "", `duplicate key "url"`},
		{"write: URL in another case", answer{404, realNoKey}, answer{200, strings.Replace(realKeyCreated, `"url"`, `"URL"`, 1)}, true, "", "in case only"},
		{"write: errors beside data", answer{404, realNoKey}, answer{200, strings.Replace(realKeyCreated, `"warnings":null`, `"errors":["x"]`, 1)}, true, "", "errors beside its data"},
		{"write: no url", answer{404, realNoKey}, answer{200, `{"data":{"barcode":"iVBORw0KGgo="}}`}, true, "", "data.url is missing"},
		{"write: trailing garbage", answer{404, realNoKey}, answer{200, realKeyCreated + `{}`}, true, "", "more after the object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wrote atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a := tt.read
				if r.Method == http.MethodPut {
					wrote.Store(true)
					a = tt.write
				}
				if r.URL.Path != "/v1/totp/keys/alice" || a.status == 0 {
					http.Error(w, "unexpected request", http.StatusTeapot)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(a.status)
				io.WriteString(w, a.body)
			}))
			defer srv.Close()
			cfg, err := config.Parse("test.hcl", []byte(fmt.Sprintf("vault_addr = %q\n", srv.URL)))
			if err != nil {
				t.Fatal(err)
			}
			client, err := verify.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			key, err := Enroll(context.Background(), client.WithToken("operator"), Request{Mount: "totp", User: "alice", Issuer: "Vault"})
			if wrote.Load() != tt.wantWrite {
				t.Errorf("the key was written: %v, want %v", wrote.Load(), tt.wantWrite)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Enroll: %v", err)
			case tt.wantErr == "" && key.URL != tt.wantURL:
				t.Fatalf("Enroll returned the URL %q, want %q", key.URL, tt.wantURL)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Enroll = %+v, %v; want an error containing %q", key, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "V7MBSK324I7KF6KVW34NDFH2GYHIF6JY") {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
}
