// Command vault is the real HashiCorp Vault server, built from its published
// module so that pam_vault's tests run against the genuine article.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
