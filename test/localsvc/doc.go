// Package localsvc holds pam_vault's tests with the local services that load
// PAM on a host besides sshd: Debian's real sudo (1.9.13), util-linux su and
// login(1) on a terminal (Debian 12's from shadow 4.13, Debian 13's from
// util-linux 2.41), each with the built build/pam_vault.so as the only auth
// module of its PAM service, against a real Vault dev server.
//
// The tests need root (they create the users pvlocal1, who runs sudo and
// su, and pvlocal2, whom su switches to and login logs in, and remove them
// at the end; mount namespaces), `make` to have built build/, sudo and
// login installed (make deps), and a Vault binary (VAULT_BIN). Without
// root or a tool they skip with the reason, unless CI is set in the
// environment, in which case they fail.
// They take turns with the other suites that create users
// (pamtest.LockMachine).
//
//   - TestSudo: `sudo -S id -un` as pvlocal1 with an OTP on standard input,
//     and `sudo id -un` on a pseudo-terminal (sudo reads the password from
//     /dev/tty). sudo authenticates the invoking user, so the OTP is
//     pvlocal1's. A valid OTP runs the command as root; a reused OTP,
//     root's OTP, a typed password, and an OTP of a Vault that has stopped
//     (within the deadline) are refused and the command does not run; sudo
//     says "Sorry, try again." and asks again, and a valid OTP at the second
//     prompt runs the command. `sudo -i` authenticates through Debian's
//     separate sudo-i service. Both services carry README's line, with no
//     argument that chooses where the verdict is made: sudo is not sshd,
//     so the module verifies in the helper process, as its debug line says.
//   - TestSudoNeverHangs: 200 runs of `sudo -S id -un` with a valid OTP
//     under that default, none of which may hang. With the engine in
//     process (-hang-args=in_process), sudo hung now and then: a Go
//     runtime thread takes the SIGCHLD of its command, which sudo holds
//     blocked on its own thread around the fork() until its event loop's
//     handler is in place, and runs the handler that was there before.
//   - TestSu: `su pvlocal2 -c 'id -un'` as pvlocal1, with the OTP on standard
//     input and on a pseudo-terminal. su authenticates the target user, so
//     the OTP is pvlocal2's. The same refusals; su shows the module's
//     message. The verdict is made in the helper process by default; with
//     in_process on the line, in process, except that GODEBUG in the
//     caller's environment sends it to the helper, as the module's debug
//     line says. `su -l` goes through Debian's su-l service, which includes
//     su.
//   - TestLogin: `login pvlocal2` run by root on a pseudo-terminal, as getty
//     runs it, with the OTP typed at the password prompt. login
//     authenticates the user it logs in, so the OTP is pvlocal2's. A valid
//     OTP starts pvlocal2's login shell (/bin/sh), in which the test types
//     a command that prints `id -un`, and pam_unix opens a session. A
//     reused OTP, another user's OTP, a typed password and an OTP of a
//     Vault that has stopped are refused: login says "Login incorrect"
//     (after the module's message, when Vault cannot answer) and asks for
//     a user name again, where the test hangs the terminal up (login
//     would ask up to LOGIN_RETRIES times, and wait LOGIN_TIMEOUT); no
//     session is opened. Typing the user name and a valid OTP there logs
//     in. login is not sshd, so the module verifies in the helper process,
//     as its debug line says. Debian 13's login hangs its terminal up
//     (vhangup) before it prompts: the terminal then has no process for a
//     moment, which the test's terminal reader waits out.
//   - TestOTPAddress: the OTP's IP must be an address this host holds
//     (127.0.0.1, or its own address), exactly; Vault issues OTPs only for
//     addresses the role's cidr_list allows; PAM_RHOST is only logged.
//
// Every line sudo, su, login, libpam and the module sent to /dev/log is
// checked, at the end, for every token typed (pamtest.Journal). The machine's
// /etc/pam.d and /etc/sudoers are compared before and after the run, and
// the users must be gone.
//
// # How sudo, su and login get a private PAM service
//
// Each run is started by root as `unshare --mount` with pamtest.Mounts,
// which bind-mounts the test's pam.d over /etc/pam.d, its sudoers over
// /etc/sudoers, and a directory of its own over /var/log (and a file over
// /var/run/utmp, where the machine has one), so that the login records su
// and login write (btmp; utmp, wtmp) stay the test's, and gives the run a
// /dev whose /dev/log is the test's socket, then drops to pvlocal1 with
// setpriv (no PAM) and executes sudo or su, which are setuid root; login
// runs as root, as getty starts it. The sudoers keeps Debian 12's
// defaults (env_reset, secure_path, use_pty) and writes nothing outside the
// test's directory: no lecture, and no cached credentials
// (timestamp_timeout=0), so that every run authenticates. Each run has a session of its own; on a
// pseudo-terminal that terminal is its controlling terminal.
//
// Every wait is bounded; no test asserts on time, except that sudo's and
// su's refusal when Vault is gone comes within the module's timeout plus
// start-up time.
package localsvc
