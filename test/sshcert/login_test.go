package sshcert

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"pam_vault/internal/pamtest"
)

// TestCertificateAndCode logs in with both clients the way a fleet does: a
// certificate Vault signed, then a code. With the right code the user is
// in and `id -un` runs. pam_vault refuses the same code again and a wrong
// code. sshd refuses an unsigned key, no key, an expired certificate and a
// certificate for another principal before the code is asked for: the
// client is never prompted, Vault's audit log shows no request for a code,
// and the code those attempts carried then logs in.
func TestCertificateAndCode(t *testing.T) {
	e := setup(t)
	s := e.startServer(t, serverOptions{})
	signed := e.vaultIdentity(t, "", userName)
	unsigned := newIdentity(t)
	other := e.vaultIdentity(t, "", otherPrincipal)
	expired := e.vaultIdentity(t, "1s", userName)
	// Vault backdates a certificate's start; its end is the TTL from now.
	time.Sleep(time.Until(time.Unix(int64(expired.cert.ValidBefore), 0).Add(time.Second)))

	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			code := e.code(t)
			t.Run("certificate and code", func(t *testing.T) {
				s.expectLogin(t, e, c, attempt{userName, signed, code})
			})
			t.Run("the same code again", func(t *testing.T) {
				s.expectCodeRefused(t, e, c, attempt{userName, signed, code}, "code rejected: already used")
			})
			t.Run("a wrong code", func(t *testing.T) {
				s.expectCodeRefused(t, e, c, attempt{userName, signed, e.wrongCode(t)}, "code rejected: not this user's current code")
			})

			// One right code for every attempt sshd refuses before PAM.
			spare := e.code(t)
			for _, tc := range []struct {
				name string
				id   *identity
				log  []string // a line of sshd's log the refusal writes
			}{
				{"an unsigned key", unsigned, []string{"Failed publickey for " + userName}},
				{"no key", nil, []string{"Connection closed by authenticating user " + userName}},
				{"an expired certificate", expired, []string{"Certificate invalid: expired"}},
				{"a certificate for another principal", other, []string{"Certificate invalid: name is not a listed principal"}},
			} {
				t.Run(tc.name+" and a right code", func(t *testing.T) {
					s.expectKeyRefused(t, e, c, attempt{userName, tc.id, spare}, tc.log...)
				})
			}
			t.Run("the code those attempts carried", func(t *testing.T) {
				s.expectLogin(t, e, c, attempt{userName, signed, spare})
			})
		})
	}
}

// TestHostCertificate: both clients trust the host only through Vault's
// CA. An sshd whose host key Vault did not sign is refused before any
// authentication, with no prompt to trust the key; the signed host of
// TestCertificateAndCode left the OpenSSH client's known_hosts unchanged.
func TestHostCertificate(t *testing.T) {
	e := setup(t)
	s := e.startServer(t, serverOptions{unsignedHost: true})
	signed := e.vaultIdentity(t, "", userName)
	// Both clients carry the same right code: neither may send it.
	code := e.code(t)
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			mark, audit := s.log.Mark(), e.auditMark(t)
			r := e.login(c, s, attempt{userName, signed, code})
			if !r.hostRefused || len(r.asked) != 0 || r.knownHostsChanged {
				t.Fatalf("want the host key refused without a prompt and known_hosts untouched, got %v (known_hosts changed: %t)", r, r.knownHostsChanged)
			}
			if lines := s.log.Since(mark); countAny(lines, "Accepted", "Partial", "Failed") > 0 {
				t.Errorf("sshd saw an authentication from a client that refused its host key:\n%s", pamtest.FormatLines(lines))
			}
			if n := e.codeRequests(t, audit); n != 0 {
				t.Errorf("Vault got %d requests for a code; want none", n)
			}
		})
	}
}

// expectLogin makes attempt a with c and checks it logged in: one prompt,
// pam_vault's, then the command ran; sshd accepted the certificate as the
// first of two methods and the code as the second; the OpenSSH client did
// not touch known_hosts.
func (s *server) expectLogin(t *testing.T, e *env, c client, a attempt) {
	t.Helper()
	sysMark, logMark := s.syslog.Mark(), s.log.Mark()
	r := e.login(c, s, a)
	if r.err != nil || r.output != a.user+"\n" {
		t.Fatalf("%s: want a login that prints %q, got %v", c.name, a.user+"\n", r)
	}
	if !askedForCode(r) {
		t.Errorf("%s: prompts %q, want only pam_vault's %q", c.name, r.asked, codePrompt)
	}
	if r.knownHostsChanged {
		t.Errorf("%s: the client wrote to known_hosts", c.name)
	}
	// The certificate, signed by the CA that signed a.id's, was the first
	// of the two methods.
	ca := ssh.FingerprintSHA256(a.id.cert.SignatureKey)
	s.expectLog(t, logMark, "Accepted certificate ID \""+a.id.cert.KeyId+"\"", "signed by", ca)
	s.expectLog(t, logMark, "Partial publickey for "+a.user, "-CERT", "CA", ca)
	s.expectLog(t, logMark, "Accepted keyboard-interactive/pam for "+a.user)
	s.expectSyslog(t, sysMark, "pam_vault(sshd:auth): accepted Vault TOTP code", "user="+a.user)
	s.expectSyslog(t, sysMark, "pam_unix(sshd:session): session opened for user "+a.user)
}

// askedForCode reports whether the client was shown one prompt, pam_vault's.
// The OpenSSH client puts "(user@host) " before a keyboard-interactive
// prompt.
func askedForCode(r result) bool {
	return len(r.asked) == 1 && strings.HasSuffix(r.asked[0], codePrompt)
}

// expectCodeRefused makes attempt a, whose certificate is good, and checks
// that sshd accepted the certificate and pam_vault refused the code with
// a line holding why.
func (s *server) expectCodeRefused(t *testing.T, e *env, c client, a attempt, why string) {
	t.Helper()
	sysMark, logMark := s.syslog.Mark(), s.log.Mark()
	r := e.login(c, s, a)
	if !r.refused || !askedForCode(r) {
		t.Fatalf("%s: want the code asked for once and refused, got %v", c.name, r)
	}
	s.expectLog(t, logMark, "Partial publickey for "+a.user)
	s.expectLog(t, logMark, "Failed keyboard-interactive/pam for "+a.user)
	s.expectSyslog(t, sysMark, "pam_vault(sshd:auth): ", "user="+a.user, why)
}

// expectKeyRefused makes attempt a, whose key sshd must refuse, and checks
// that the client was refused without being asked for the code, that sshd
// logged a line holding every part of logged, and that Vault received no
// request for a code.
func (s *server) expectKeyRefused(t *testing.T, e *env, c client, a attempt, logged ...string) {
	t.Helper()
	sysMark, logMark, audit := s.syslog.Mark(), s.log.Mark(), e.auditMark(t)
	r := e.login(c, s, a)
	if !r.refused || len(r.asked) != 0 {
		t.Fatalf("%s: want a refusal before any prompt, got %v", c.name, r)
	}
	s.expectLog(t, logMark, logged...)
	if lines := s.log.Since(logMark); countAny(lines, "Partial publickey", "Accepted") > 0 {
		t.Errorf("%s: sshd accepted a key it should have refused:\n%s", c.name, pamtest.FormatLines(lines))
	}
	if lines := s.syslog.Since(sysMark); countAny(lines, "pam_vault") > 0 {
		t.Errorf("%s: pam_vault ran for a key sshd refused:\n%s", c.name, pamtest.FormatLines(lines))
	}
	if n := e.codeRequests(t, audit); n != 0 {
		t.Errorf("%s: Vault got %d requests for a code; want none", c.name, n)
	}
}
