// Command pam-vault-check is pam_vault's diagnostic tool. It runs the same
// engine as the PAM module.
//
// Usage:
//
//	pam-vault-check [-config=PATH] [-dev] [-totp]
//	    Checks the configuration, TLS, that Vault is reachable and unsealed,
//	    and that the SSH secrets engine answers at the configured mount and
//	    namespace. vault-ssh-helper's -verify-only is accepted and means the
//	    same. With -totp, checks a config for TOTP codes instead: the token
//	    file or Vault Proxy socket, the token, its capabilities on
//	    <totp_mount_point>/code/* and the TOTP mount. Exits non-zero when any
//	    check fails.
//
//	pam-vault-check login -user=NAME [-totp [-nullok]] [-rhost=ADDR] [-config=PATH] [-dev] [-debug]
//	    Reads a one-time password, or with -totp a TOTP code, from the
//	    terminal or standard input and runs exactly the verdict the module
//	    would. A valid OTP is consumed, and Vault takes each code once.
//	    Exits 0 for PAM_SUCCESS, 1 for PAM_AUTH_ERR, 2 for
//	    PAM_AUTHINFO_UNAVAIL, 3 for PAM_SERVICE_ERR, 4 for PAM_IGNORE.
//
//	pam-vault-check helper
//	    The PAM module's fallback: reads one request on standard input and
//	    writes its verdict on standard output (internal/engine/wire.go).
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches on the first argument and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "login":
			return runLogin(args[1:], stdin, stdout, stderr)
		case "helper":
			return runHelper(stdin, stdout)
		}
	}
	return runChecks(args, stdout, stderr)
}

// usageError reports a command-line mistake and returns the exit status for it.
func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "pam-vault-check: %v\n", err)
	return 64 // EX_USAGE
}
