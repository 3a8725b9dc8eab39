// Package testvault starts and drives a real Vault dev server for
// pam_vault's tests.
//
// The server binary comes from Bin: $VAULT_BIN, a vault on PATH, or the
// pinned build that `make vault` caches. Each Server runs in its own process
// group with a minimal environment, on a free loopback port, and is driven
// through Vault's HTTP API by a client that reads no proxy or VAULT_*
// variables.
package testvault

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// PinnedVersion is the Vault version the project builds and caches.
const PinnedVersion = "v1.21.0"

// Bin returns the path of the Vault binary to run: $VAULT_BIN if set, else
// vault on PATH, else $XDG_CACHE_HOME/pam_vault/vault-v1.21.0 (with
// XDG_CACHE_HOME defaulting to $HOME/.cache) if it exists.
func Bin() (string, error) {
	if p := os.Getenv("VAULT_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("VAULT_BIN: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p, nil
	}
	var tried string
	if cache, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(cache, "pam_vault", "vault-"+PinnedVersion)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
		tried = " or " + p
	}
	return "", errors.New("no Vault binary: VAULT_BIN is unset and there is no vault on PATH" + tried +
		"; run `make vault` (builds the pinned Vault " + PinnedVersion + ", about 12 minutes the first time)")
}
