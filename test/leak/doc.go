// Package leak holds pam_vault's long-run and sanitizer tests. A C program
// (testdata/cycles.c) runs thousands of pam_start/pam_authenticate/pam_end
// cycles in one process against a real Vault and reports its open file
// descriptors and resident memory; the tests assert that neither grows
// after warm-up. They need `make` to have built build/, a C compiler with
// libpam's headers, and a Vault binary (VAULT_BIN).
package leak
