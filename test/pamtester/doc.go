// Package pamtester holds pam_vault's integration tests: the built module,
// driven through real libpam (pamtester under pam_wrapper, Go's
// msteinert/pam, and a forking C harness), against a real Vault dev server.
// They need `make` to have built build/ and a Vault binary (VAULT_BIN).
package pamtester
