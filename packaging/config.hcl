# Example /etc/vault-ssh-helper.d/config.hcl for pam_vault (pam_vault(8)).
# It is vault-ssh-helper's file format; an existing file works unchanged.
# Keep it owned by root and not writable by group or others.

# The Vault server(s), https; several addresses separated by commas are
# tried in order.
vault_addr = "https://vault.example.com:8200"

# Mount path of the SSH secrets engine that issues the OTPs.
ssh_mount_point = "ssh"

# The CA that signed Vault's certificate (else the system's CA bundle).
ca_cert = "/etc/vault-ssh-helper.d/vault-ca.pem"

# OTP roles whose passwords this host accepts ("*" for every role).
# Unset or empty, nobody can log in.
allowed_roles = "otp_key_role"

# Addresses an OTP may be issued for besides this host's own, for example
# the public address of a NAT in front of it.
# allowed_cidr_list = "203.0.113.7/32"

# Seconds one verification may take, at most 30.
# timeout = 5
