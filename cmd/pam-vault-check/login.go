package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"pam_vault/internal/config"
	"pam_vault/internal/engine"
)

// runLogin runs the module's verdict for one OTP, or with -totp one TOTP
// code, and explains it.
func runLogin(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pam-vault-check login", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "the user name the login is for (PAM_USER)")
	rhost := fs.String("rhost", "", "the remote host, as PAM_RHOST (only logged)")
	sshConnection := fs.String("ssh-connection", "", "as sshd's SSH_CONNECTION, \"CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT\": the OTP must then be for SERVER_IP (or inside allowed_cidr_list)")
	cfgPath := fs.String("config", config.DefaultPath, "the config file")
	dev := fs.Bool("dev", false, "allow a plain http vault_addr, as the module's dev argument")
	debug := fs.Bool("debug", false, "add details to the log line, as the module's debug argument")
	totp := fs.Bool("totp", false, "verify a TOTP code instead of an OTP, as the module's totp argument")
	nullOK := fs.Bool("nullok", false, "with -totp: a user without a TOTP key is PAM_IGNORE, as the module's nullok argument")
	if err := fs.Parse(args); err != nil {
		return 64
	}
	if *user == "" || fs.NArg() != 0 {
		return usageError(stderr, errors.New("usage: pam-vault-check login -user=NAME [-totp [-nullok]] [-rhost=ADDR] [-ssh-connection=\"C CP S SP\"] [-config=PATH] [-dev] [-debug]"))
	}
	prompt, note := "One-time password for %s: ", "note: a valid OTP is used up by this check, as by a login; ask Vault for a new one to log in"
	if *totp {
		prompt, note = "Verification code for %s: ", "note: Vault takes each code once, valid or not: a code checked here cannot log in; wait for the next one"
	}
	otp, err := readOTP(stdin, stderr, fmt.Sprintf(prompt, *user))
	if err != nil {
		return usageError(stderr, err)
	}
	fmt.Fprintln(stderr, note)

	// The module needs an absolute path; the operator may type a relative one.
	abs, err := filepath.Abs(*cfgPath)
	if err != nil {
		return usageError(stderr, fmt.Errorf("config path: %w", err))
	}
	moduleArgs := []string{"config=" + abs}
	if *dev {
		moduleArgs = append(moduleArgs, "dev")
	}
	if *debug {
		moduleArgs = append(moduleArgs, "debug")
	}
	if *totp {
		moduleArgs = append(moduleArgs, "totp")
	}
	if *nullOK {
		moduleArgs = append(moduleArgs, "nullok")
	}
	v := engine.Decide(context.Background(), engine.Request{
		Args: moduleArgs, User: *user, Token: otp, RemoteHost: *rhost, Service: "pam-vault-check",
		SSHConnection: *sshConnection,
	})
	fmt.Fprintf(stdout, "verdict: %s (%s)\n", v.Result.PAMName(), explain(v.Result, *user))
	fmt.Fprintf(stdout, "log:     %s\n", v.Log)
	if v.Message != "" {
		fmt.Fprintf(stdout, "user is told: %s\n", v.Message)
	}
	return int(v.Result)
}

func explain(r engine.Result, user string) string {
	switch r {
	case engine.Success:
		return "the module would let " + user + " in"
	case engine.AuthErr:
		return "the module would refuse this password"
	case engine.Unavailable:
		return "the module could not get an answer from Vault"
	case engine.Ignore:
		return "the module would leave the decision to the rest of the stack"
	default:
		return "the module cannot work with this configuration"
	}
}

// readOTP reads one line: from the terminal without echo after prompt, or
// from a pipe.
func readOTP(stdin io.Reader, stderr io.Writer, prompt string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}
