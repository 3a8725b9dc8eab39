// Package cluster tests pam_vault against a real three-node Vault cluster
// with integrated (raft) storage on loopback ports, which the tests start,
// initialise and unseal: a vault_addr listing every node keeps logins
// working while the first node is hung or killed, standbys forward the
// verify call to the active node, and with every node down a login ends in
// PAM_AUTHINFO_UNAVAIL within the configured timeout. They need `make` to
// have built build/, pamtester and pam_wrapper, and a Vault binary
// (VAULT_BIN).
package cluster
