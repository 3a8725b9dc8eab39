module pam_vault

go 1.26.0

require (
	github.com/boombuler/barcode v1.1.0
	github.com/creack/pty v1.1.24
	github.com/hashicorp/hcl v1.0.0
	github.com/msteinert/pam/v2 v2.1.0
	github.com/pquerna/otp v1.5.0
	golang.org/x/crypto v0.59.0
	golang.org/x/term v0.48.0
)

require golang.org/x/sys v0.50.0
