// Package security holds pam_vault's adversarial integration tests: the built
// module driven through real libpam (pamtester under pam_wrapper, and the fork
// harness of test/pamtester) against a real Vault dev server, with a hostile
// caller environment (DESIGN.md invariant 2) and with Vaults that fail in
// every way a fault-injecting proxy can make them (invariants 1 and 4).
// They need `make` to have built build/ and a Vault binary (VAULT_BIN).
package security
