#!/bin/bash
# The pam_vault demo: a throwaway Vault dev server issues a one-time SSH
# password, and real libpam (pamtester) logs in with it through pam_vault.so.
# Every command an operator would type is shown before it runs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
vault=${VAULT_BIN:?VAULT_BIN must name a vault binary; run through make demo}
build=$root/build
work=$(mktemp -d /tmp/pam_vault-demo.XXXXXX)
user=alice
port=$((18200 + RANDOM % 1000))
vault_pid=

cleanup() {
	[ -n "$vault_pid" ] && kill "$vault_pid" 2>/dev/null && wait "$vault_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Start a throwaway Vault dev server on 127.0.0.1:$port"
HOME=$work "$vault" server -dev -dev-root-token-id=demo-root \
	-dev-listen-address=127.0.0.1:$port >"$work/vault.log" 2>&1 &
vault_pid=$!
export VAULT_ADDR=http://127.0.0.1:$port VAULT_TOKEN=demo-root
for _ in $(seq 100); do
	"$vault" status >/dev/null 2>&1 && break
	sleep 0.2
done
show "$vault" status -format=table | grep -E 'Sealed|Version'

step "Enable the SSH secrets engine with an OTP role for 127.0.0.0/8"
show "$vault" secrets enable ssh
show "$vault" write ssh/roles/otp_key_role key_type=otp default_user=$user cidr_list=127.0.0.0/8

step "Write a vault-ssh-helper config.hcl (pam_vault reads it unchanged)"
cat >"$work/config.hcl" <<HCL
vault_addr = "http://127.0.0.1:$port"
ssh_mount_point = "ssh"
allowed_roles = "*"
HCL
chmod 600 "$work/config.hcl"
cat "$work/config.hcl"

step "Check the setup with pam-vault-check (dev: plain http is allowed)"
show "$build/pam-vault-check" -config="$work/config.hcl" -dev

step "A PAM service whose only auth line is pam_vault (no pam_exec, no pam_unix)"
mkdir -p "$work/pam.d"
cat >"$work/pam.d/demo" <<PAM
auth    requisite  $build/pam_vault.so config=$work/config.hcl dev
account required   pam_permit.so
PAM
printf 'auth required pam_deny.so\n' >"$work/pam.d/other"
cat "$work/pam.d/demo"

step "Ask Vault for a one-time password for $user at 127.0.0.1"
echo "\$ vault write -field=key ssh/creds/otp_key_role ip=127.0.0.1 username=$user"
otp=$("$vault" write -field=key ssh/creds/otp_key_role ip=127.0.0.1 username=$user)
echo "$otp"

pamtester_run() {
	LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
		PAM_WRAPPER_DEBUGLEVEL=2 pamtester -v demo "$user" authenticate setcred 2>&1 |
		sed -e 's/^Password: /Password: \n/' |
		sed -n -e 's/^PWRAP_[A-Z]*\[.*\] - SYSLOG([0-9]*): /syslog: pam_vault: /p' -e '/^pamtester:/p' -e '/^Password: /p'
}

step "Log in as $user with that OTP through real libpam (pamtester)"
echo "\$ echo <otp> | pamtester -v demo $user authenticate setcred"
echo "$otp" | pamtester_run

step "The same OTP again is refused: Vault deleted it when it answered"
echo "\$ echo <same otp> | pamtester -v demo $user authenticate"
if echo "$otp" | pamtester_run; then
	echo "UNEXPECTED: a used OTP was accepted" >&2
	exit 1
fi

step "A real password typed by mistake is refused without asking Vault"
echo "\$ echo hunter2 | pamtester -v demo $user authenticate"
if echo hunter2 | pamtester_run; then
	echo "UNEXPECTED: a non-OTP was accepted" >&2
	exit 1
fi

printf '\n\033[1mDemo complete.\033[0m To use pam_vault on a host: make install, then see README.md.\n'
