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
//	pam-vault-check doctor [-service=NAME] [-sshd-config=FILE] [-pam-dir=DIR] [-json]
//	    Reads the host's effective sshd configuration (sshd -T) and PAM
//	    service and prints one finding a line, OK, WARN or FAIL, with the
//	    fix. Exits non-zero when any finding is a FAIL.
//
//	pam-vault-check helper
//	    The PAM module's fallback: reads one request on standard input and
//	    writes its verdict on standard output (internal/engine/wire.go).
//
//	pam-vault-check enroll -user=NAME [-config=PATH] [-dev] [-issuer=NAME] [-png=FILE] [-force]
//	    Creates the user's key in Vault's TOTP engine with the operator's
//	    token (VAULT_TOKEN or ~/.vault-token) and shows it as a QR code.
//
//	pam-vault-check -h
//	    Lists the commands, one line each.
//
//	pam-vault-check -version
//	    Prints the version pam_vault was built as.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time by the Makefile (-X main.version=...), from
// scripts/version.sh.
var version = "unknown"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is a subcommand: its name, the one line -h shows for it, and the
// function that runs it with the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands are the subcommands, in the order -h lists them.
var commands = []command{
	{"check", "check the config file, TLS, Vault and its SSH mount, or with -totp its TOTP mount and token (the default)", runChecks},
	{"login", "run the module's verdict for one OTP, or with -totp one TOTP code, and explain it", runLogin},
	{"doctor", "check the host's sshd and PAM configuration for pam_vault", runDoctor},
	{"helper", "the module's fallback: one request on stdin, its verdict on stdout", runHelper},
	{"enroll", "create a user's TOTP key in Vault and show it as a QR code", runEnroll},
}

// run dispatches on the first argument and returns the exit status. Without
// a command it checks, as vault-ssh-helper's -verify-only did.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			return printCommands(stdout)
		case "-version", "--version":
			fmt.Fprintf(stdout, "pam-vault-check %s\n", version)
			return 0
		}
		for _, c := range commands {
			if args[0] == c.name {
				return c.run(args[1:], stdin, stdout, stderr)
			}
		}
	}
	return runChecks(args, stdin, stdout, stderr)
}

// printCommands lists the commands, one line each.
func printCommands(stdout io.Writer) int {
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	fmt.Fprintf(stdout, "usage: pam-vault-check [command] [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(stdout, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(stdout, "\npam-vault-check COMMAND -h shows a command's flags.\n")
	return 0
}

// usageError reports a command-line mistake and returns the exit status for it.
func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "pam-vault-check: %v\n", err)
	return 64 // EX_USAGE
}
