package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"syscall"

	"pam_vault/internal/config"
	"pam_vault/internal/enroll"
	"pam_vault/internal/verify"
)

// enrollHelp is printed by enroll -h above the flags.
const enrollHelp = `usage: pam-vault-check enroll -user=NAME [-config=PATH] [-dev] [-issuer=NAME] [-png=FILE] [-force]

Creates the TOTP key of user NAME in Vault's TOTP secrets engine and shows it
as a QR code for an authenticator app, with its otpauth:// URL. Both hold the
user's secret: show them to that user only.

This is an operator's command, never run by PAM. It sends the operator's own
Vault token, found as Vault's CLI finds it: VAULT_TOKEN, else ~/.vault-token
(vault login writes it). The PAM module never reads either. The token needs
the read and update capabilities on <totp_mount_point>/keys/*. vault_addr,
the CA settings, namespace and totp_mount_point come from the config file;
its token_file is not used.

A user who already has a key keeps it: Vault would replace it, and the
user's app would stop producing codes it accepts. -force replaces it.

`

// enrollArgs are enroll's command line.
type enrollArgs struct {
	user, config, issuer, png string
	dev, force                bool
}

// runEnroll creates a user's TOTP key with the operator's token and shows it.
// It exits 0 when the key was created and shown, 1 when it was not created
// or the QR code or PNG file could not be made, and 64 for a usage error.
func runEnroll(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	a, status := parseEnrollArgs(args, stderr)
	if status >= 0 {
		return status
	}
	home, _ := os.UserHomeDir() // none is reported by OperatorToken when it matters
	token, source, err := enroll.OperatorToken(os.Getenv, home)
	if err != nil {
		return enrollFailed(stderr, err)
	}
	cfg, err := config.LoadChecked(a.config, a.dev)
	if err != nil {
		return enrollFailed(stderr, err)
	}
	if a.issuer == "" {
		a.issuer = defaultIssuer(cfg)
	}
	client, err := verify.NewClient(cfg)
	if err != nil {
		return enrollFailed(stderr, err)
	}
	// The PNG file is made before Vault is asked, so that a name already
	// taken fails before a key exists.
	var pngFile *os.File
	if a.png != "" {
		if pngFile, err = createSecretFile(a.png); err != nil {
			return enrollFailed(stderr, err)
		}
		defer pngFile.Close()
	}

	key, err := enroll.Enroll(context.Background(), client.WithToken(token), enroll.Request{
		Mount: cfg.TOTPMountPoint, User: a.user, Issuer: a.issuer, Force: a.force,
	})
	if err != nil {
		if pngFile != nil {
			os.Remove(pngFile.Name())
		}
		var exists *enroll.ExistsError
		if errors.As(err, &exists) {
			err = fmt.Errorf("%w; nothing was changed. To replace it anyway, run again with -force and have %s scan the new code", err, a.user)
		}
		return enrollFailed(stderr, err)
	}

	// The key exists now, so it is shown whatever fails from here on: the
	// URL alone lets the user set up the app.
	code, err := enroll.NewQR(key.URL)
	if pngFile != nil {
		if err == nil {
			err = writePNG(pngFile, code)
		}
		if err != nil {
			os.Remove(pngFile.Name())
			pngFile = nil
		}
	}
	fmt.Fprintf(stdout, "Created the TOTP key %s for %s (issuer %q) with the token from %s.\n", key.Path, a.user, a.issuer, source)
	if key.Replaced != nil {
		fmt.Fprintf(stdout, "It replaced %s's previous key (issuer %q): codes from that key no longer work.\n", a.user, key.Replaced.Issuer)
	}
	if pngFile != nil {
		fmt.Fprintf(stdout, "Wrote the QR code to %s (mode 0600); delete it once %s has scanned it.\n", pngFile.Name(), a.user)
	}
	fmt.Fprintf(stdout, "The QR code and the URL hold %s's secret: show them to %s only.\n", a.user, a.user)
	fmt.Fprintf(stdout, "Scan the QR code with an authenticator app, or enter the URL into it:\n\n%s\n\n", key.URL)
	if err != nil {
		return enrollFailed(stderr, err)
	}
	// The QR code comes last, so that a terminal too short for all of the
	// output still shows as much of it as fits.
	fmt.Fprint(stdout, code.Terminal())
	return 0
}

// parseEnrollArgs parses enroll's command line. It returns a status to exit
// with when enroll must not go on (help, or a usage error, reported on
// stderr), and -1 otherwise. A user name or issuer Vault or an app cannot
// use is a usage error, found before anything is read or sent.
func parseEnrollArgs(args []string, stderr io.Writer) (enrollArgs, int) {
	var a enrollArgs
	fs := flag.NewFlagSet("pam-vault-check enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), enrollHelp)
		fs.PrintDefaults()
	}
	fs.StringVar(&a.user, "user", "", "the user to enroll; the key is named after the user, as the module looks it up by PAM_USER")
	fs.StringVar(&a.config, "config", config.DefaultPath, "the config file")
	fs.BoolVar(&a.dev, "dev", false, "allow a plain http vault_addr, as the module's dev argument")
	fs.StringVar(&a.issuer, "issuer", "", "the issuer the authenticator app shows beside the user (default: the host of vault_addr)")
	fs.StringVar(&a.png, "png", "", "also write the QR code to this new PNG file, mode 0600")
	fs.BoolVar(&a.force, "force", false, "replace the user's existing key; the codes of their authenticator app stop working")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return a, 0
		}
		return a, 64
	}
	var err error
	switch {
	case fs.NArg() != 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case a.user == "":
		err = errors.New("-user is required")
	default:
		err = enroll.CheckUser(a.user)
	}
	if err == nil && a.issuer != "" {
		if err = enroll.CheckIssuer(a.issuer); err != nil {
			err = fmt.Errorf("-issuer: %w", err)
		}
	}
	if err != nil {
		return a, usageError(stderr, fmt.Errorf("enroll: %w", err))
	}
	return a, -1
}

// enrollFailed reports err and returns enroll's failure status.
func enrollFailed(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "pam-vault-check: enroll: %v\n", err)
	return 1
}

// defaultIssuer names the key's issuer after the host of the first
// vault_addr, the Vault that holds the key. An address without a host name
// that fits an otpauth label (an IPv6 literal) gives "Vault".
func defaultIssuer(cfg *config.Config) string {
	if len(cfg.VaultAddrs) > 0 {
		if u, err := url.Parse(cfg.VaultAddrs[0]); err == nil && enroll.CheckIssuer(u.Hostname()) == nil {
			return u.Hostname()
		}
	}
	return "Vault"
}

// createSecretFile creates path for the caller alone to read: mode 0600,
// and never an existing file or a symbolic link, whose mode or target
// another user may have chosen.
func createSecretFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("-png: %s already exists; remove it or name a new file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("-png: %w", err)
	}
	return f, nil
}

// writePNG writes the QR code to f and closes it.
func writePNG(f *os.File, code *enroll.QR) error {
	if err := code.WritePNG(f); err != nil {
		f.Close()
		return fmt.Errorf("-png: %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("-png: %w", err)
	}
	return nil
}
