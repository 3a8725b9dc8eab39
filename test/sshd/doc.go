// Package sshd holds pam_vault's end-to-end tests: real SSH logins with Vault
// OTPs through Debian's OpenSSH server (/usr/sbin/sshd), with the built
// build/pam_vault.so as the only auth module of sshd's PAM service, against a
// real Vault dev server. Two clients log in: golang.org/x/crypto/ssh
// answering keyboard-interactive, and the OpenSSH client driven by sshpass.
//
// The tests need root (they create a user, pvtest1, removed again at the
// end; mount namespaces; network namespaces), `make` to have built build/,
// and a Vault binary (VAULT_BIN). Without root or a tool they skip with the
// reason, unless CI is set in the environment, in which case they fail.
// It takes turns with other runs and with the other suites that create
// users (pamtest.LockMachine). SSHD_TEST_LOGS=1 prints
// every sshd's log and syslog lines at its end (they are printed anyway
// when a test fails).
//
//   - TestLogin: a valid OTP logs in and runs `id -un` (sshd kept the session
//     after pam_setcred); the same OTP again, another user's OTP, an OTP
//     never issued and a non-OTP are each an authentication failure.
//   - TestPasswordThenKeyboardInteractive: the helper path of DESIGN.md, taken
//     when a password attempt loaded the engine into sshd's monitor before
//     keyboard-interactive forks from it. Under the control [default=ok], a
//     failed password attempt followed by a valid OTP logs in. Under
//     requisite sshd then fails pam_setcred ("PAM: pam_setcred(): Permission
//     denied") and ends the connection: libpam replays in the monitor the
//     auth chain the failed attempt froze there as failed, while the
//     successful pam_authenticate ran in the forked child. The test pins
//     this, shows that a pam_unix-only stack behaves the same, and that with
//     AuthenticationMethods password,keyboard-interactive the helper path
//     completes a login under requisite too.
//   - TestPAMProcess: which process ran pam_vault for each method, and which
//     path it took there, on the installed OpenSSH release: the "[pam]"
//     child in process for keyboard-interactive, the "[priv]" monitor for
//     password, the "[pam]" child through the helper after a password
//     attempt. The test lists the connection's processes while the client
//     answers and matches them with the program and pid of each syslog
//     line; on OpenSSH 10.0 the unprivileged sshd-auth has no PAM module
//     mapped.
//   - TestPerSourcePenalties (OpenSSH 9.8 and later; skipped on earlier
//     releases, which have no penalties): with OpenSSH's defaults a few
//     failed logins make sshd drop a valid OTP's connection before PAM, and
//     the OTP stays valid in Vault; PerSourcePenaltyExemptList and a
//     smaller authfail penalty each let it through.
//   - TestLoad: 100 sequential and 20 concurrent logins.
//   - TestHostAddress: the OTP's IP against real interface addresses, IPv4
//     and IPv6, including allowed_cidr_list.
//
// The suite runs against whatever /usr/sbin/sshd is installed: OpenSSH 9.2
// (Debian 12) and 10.0 (Debian 13). internal/sshdtest reads the release
// from `sshd -V`; from 9.8 the per-connection processes are sshd-session
// (and from 10.0 sshd-auth), and every test sshd but
// TestPerSourcePenalties' turns PerSourcePenalties off, since the suite
// fails logins from 127.0.0.1 on purpose. Every pam_vault line must come
// from the release's sshd-session (sshd before 9.8).
//
// Every wait is bounded; no test asserts on time.
//
// # How sshd gets a private PAM service
//
// sshd always uses the PAM service name "sshd" (OpenSSH 9.2 has no
// PAMServiceName option), and the machine's /etc/pam.d/sshd must not change.
// Each sshd therefore runs in a private mount namespace (pamtest.Mounts,
// which test/localsvc shares): it bind-mounts the test's own pam.d
// directory over /etc/pam.d and replaces /dev with a small tmpfs holding the
// usual device nodes (bind-mounted from the real /dev) and a /dev/log that
// is the test's unixgram socket (pamtest.SyslogSink). The mounts exist only for
// that sshd and its children and vanish when the last of them exits; nothing
// is written to the real /etc or /dev. The socket makes every pam_syslog line
// of the module (and of pam_unix) visible to the test, including pam_vault's
// LOG_DEBUG lines, which say whether a verdict was made in process or in the
// helper process.
//
// pam_wrapper (LD_PRELOAD=libpam_wrapper.so, the tool test/pamtester uses)
// was tried first. It works under sshd's fork model while sshd's stderr is a
// pipe, but it was not chosen: its pam_syslog capture is debug output on
// stderr, and with stderr on a regular file sshd's sandboxed
// pre-authentication child, whose RLIMIT_FSIZE is 0, was killed by SIGXFSZ
// ("preauth child terminated by signal 25") right after authenticating; it
// runs a patched copy of libpam on a copy of the service directory, and
// leaves a /tmp/pam.X directory behind for every process killed before its
// destructor runs. The mount namespace runs the unmodified libpam on
// /etc/pam.d, as production does, and captures syslog at every priority
// through a real /dev/log.
//
// # Host addresses
//
// The host-address tests create a network namespace, pv-host, joined to the
// root namespace by a veth pair holding 10.200.1.0/24 and fd00:200::/64, and
// run sshd inside it (`ip netns exec pv-host …`). The client connects from the
// root namespace, so the module sees the root side's address as the client's.
// Vault stays on 127.0.0.1; a small TCP forwarder in the test, bound to the
// root side's veth addresses, lets the module inside pv-host reach it. The
// namespace, the link and the forwarder are removed when the test ends.
package sshd
