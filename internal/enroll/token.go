package enroll

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxTokenFile bounds what is read from ~/.vault-token. Vault's tokens are
// a few hundred bytes at most.
const maxTokenFile = 16 << 10

// OperatorToken returns the Vault token of the operator who runs an
// enrollment, found as Vault's own CLI finds it: the environment variable
// VAULT_TOKEN, else the file .vault-token in the home directory that
// `vault login` writes. getenv looks up an environment variable (os.Getenv)
// and home is the operator's home directory. source says where the token
// came from, for a message; the token itself never appears in an error.
//
// Only the operator's command reads these. The PAM module never does: its
// environment belongs to whoever is logging in.
func OperatorToken(getenv func(string) string, home string) (token, source string, err error) {
	if t := getenv("VAULT_TOKEN"); t != "" {
		if err := checkToken(t); err != nil {
			return "", "", fmt.Errorf("VAULT_TOKEN %w", err)
		}
		return t, "VAULT_TOKEN", nil
	}
	if home == "" {
		return "", "", errors.New("no Vault token: VAULT_TOKEN is not set and there is no home directory to find .vault-token in")
	}
	path := filepath.Join(home, ".vault-token")
	// Without blocking, so that a FIFO there fails at once.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("no Vault token: VAULT_TOKEN is not set and %s does not exist; run vault login, or set VAULT_TOKEN", path)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the Vault token: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return "", "", fmt.Errorf("reading the Vault token: %w", err)
	} else if !info.Mode().IsRegular() {
		return "", "", fmt.Errorf("reading the Vault token: %s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", "", fmt.Errorf("reading the Vault token: %w", err)
	}
	if len(b) > maxTokenFile {
		return "", "", fmt.Errorf("reading the Vault token: %s is larger than %d bytes; it holds no Vault token", path, maxTokenFile)
	}
	// vault login writes the token without a newline; editors add one.
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", "", fmt.Errorf("no Vault token: %s is empty; run vault login, or set VAULT_TOKEN", path)
	}
	if err := checkToken(t); err != nil {
		return "", "", fmt.Errorf("%s %w", path, err)
	}
	return t, path, nil
}

// checkToken refuses what cannot be a Vault token before it goes into an
// HTTP header. The error does not quote the token.
func checkToken(t string) error {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("holds a character no Vault token has (byte %d of %d)", i+1, len(t))
		}
	}
	return nil
}
