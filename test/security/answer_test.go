package security

import (
	"bytes"
	"strings"
	"testing"

	"pam_vault/test/security/faultproxy"
)

// TestAnswerReadStrictly puts between the module and the real Vault a
// server that rewrites Vault's answer to a real OTP into the forms a
// lenient JSON decoder misreads: keys in another case, a key given twice
// (the last one naming the user who logs in, while Vault issued the OTP to
// another), and errors beside the data. None may log in; each is an answer
// Vault would not give, so PAM_AUTHINFO_UNAVAIL.
func TestAnswerReadStrictly(t *testing.T) {
	e := setup(t)
	proxy, err := faultproxy.New(e.vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// replace returns a RewriteBody edit that replaces old with new in the
	// answer, and fails the test when the answer does not hold old.
	replace := func(t *testing.T, old, new string) func([]byte) []byte {
		return func(body []byte) []byte {
			if !bytes.Contains(body, []byte(old)) {
				t.Errorf("Vault's answer %s does not hold %s", body, old)
			}
			return bytes.Replace(body, []byte(old), []byte(new), 1)
		}
	}
	for _, tc := range []struct {
		name   string
		issued string // the user Vault issues the OTP to
		fault  func(t *testing.T) faultproxy.Fault
	}{
		{"keys in another case", testUser, func(t *testing.T) faultproxy.Fault {
			return faultproxy.Rewrite("keys in another case", editData(func(d map[string]any) {
				d["Username"], d["IP"] = d["username"], d["ip"]
				delete(d, "username")
				delete(d, "ip")
			}))
		}},
		{"a second user name in another case", "bob", func(t *testing.T) faultproxy.Fault {
			return faultproxy.RewriteBody("Username", replace(t, `"username":"bob"`, `"username":"bob","Username":"`+testUser+`"`))
		}},
		{"the user name twice", "bob", func(t *testing.T) faultproxy.Fault {
			return faultproxy.RewriteBody("username twice", replace(t, `"username":"bob"`, `"username":"bob","username":"`+testUser+`"`))
		}},
		{"errors beside data", testUser, func(t *testing.T) faultproxy.Fault {
			return faultproxy.Rewrite("errors beside data", func(a map[string]any) { a["errors"] = []any{"permission denied"} })
		}},
	} {
		for _, path := range []struct {
			name string
			args []string
		}{{"in process", nil}, {"helper", []string{"helper"}}} {
			t.Run(tc.name+"/"+path.name, func(t *testing.T) {
				svc, _ := e.service(t, "strict", config(proxy.URL, faultTimeout.String()), path.args...)
				otp, err := e.vault.IssueOTP(mount, role, tc.issued, loopback)
				if err != nil {
					t.Fatal(err)
				}
				proxy.SetFault(tc.fault(t))
				r := e.pamtester(t, svc, otp, nil)
				expect(t, r, "PAM_AUTHINFO_UNAVAIL")
				logged(t, r.SyslogTexts(), "Vault unavailable", "user="+testUser)
				t.Logf("%s: %s", r.code, strings.Join(r.SyslogTexts(), " | "))
			})
		}
	}
}
