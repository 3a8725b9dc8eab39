// Package sshcert holds pam_vault's end-to-end tests of the login a fleet
// uses today: an SSH certificate signed by a CA, then a Vault TOTP code as
// the second factor. Debian's sshd (internal/sshdtest) requires
// `AuthenticationMethods publickey,keyboard-interactive:pam`, trusts user
// certificates through TrustedUserCAKeys and presents a host certificate;
// its PAM auth stack is build/pam_vault.so in TOTP mode alone. Everything is
// real: a Vault dev server is the certificate authority (its SSH secrets
// engine on a mount of its own, with a user and a host certificate role)
// and checks the codes (its TOTP engine, through a token file holding a
// token that may only verify); step-ca, built by scripts/step-ca-bin.sh, is
// the second CA. Two clients log in: golang.org/x/crypto/ssh, and the
// OpenSSH client, which types the code through SSH_ASKPASS with
// SSH_ASKPASS_REQUIRE=force (askpass answers keyboard-interactive prompts
// too, and needs no terminal). Both verify the host only through an
// @cert-authority line for Vault's key, with StrictHostKeyChecking=yes.
//
//   - TestCertificateAndCode: a Vault-signed certificate and the right code
//     log in and run `id -un`; the same code again, and a wrong code, are
//     refused by pam_vault; an unsigned key, no key at all, an expired
//     certificate and a certificate for another principal are refused by
//     sshd before anyone asks for the code, and Vault's audit log shows no
//     request for it: the same code then logs in.
//   - TestHostCertificate: a host key Vault did not sign is refused by both
//     clients, without a prompt to trust it; a signed one leaves the
//     client's known_hosts as it was.
//   - TestPAMProcess: the code is checked in the "[pam]" child of the
//     connection's monitor, in process; on OpenSSH 10.0 sshd-auth, which
//     checked the certificate, has no PAM module mapped.
//   - TestStepCA: a user certificate that step-ca signed, asked for through
//     its API with a one-time token of a JWK provisioner, plus a Vault code.
//
// It runs against OpenSSH 9.2 and 10.0 alike (internal/sshdtest reads the
// release); PerSourcePenalties, which 10.0 has, are turned off, since most
// cases fail from 127.0.0.1 on purpose. Every pam_vault line must come
// from the release's sshd-session (sshd before 9.8).
//
// No typed code may appear in sshd's log, in any syslog line of sshd's
// processes, in Vault's log or audit log, or in step-ca's log.
//
// The tests need root (they create the user pvcert1, removed again at the
// end, and mount namespaces), `make` to have built build/, a Vault binary
// (VAULT_BIN) and a step-ca binary (STEP_CA_BIN, or scripts/step-ca-bin.sh's
// cache). Without one they skip with the reason, unless CI is set, in which
// case they fail. They hold pamtest.LockMachine while they run.
// SSHD_TEST_LOGS=1 prints every sshd's log and syslog lines at its end (they
// are printed anyway when a test fails).
package sshcert
