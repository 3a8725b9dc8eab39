#!/bin/bash
# The pam_vault demo: one throwaway Vault dev server, and one scene for each
# of the module's modes, each logging in through real libpam (pamtester)
# with pam_vault.so. OTP mode: Vault's SSH secrets engine issues a one-time
# password. TOTP mode: Vault's TOTP secrets engine holds a user's key,
# pam-vault-check enroll shows it as an authenticator app scans it, and
# oathtool, standing in for the app, computes the code. Every command an
# operator would type is shown before it runs.
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

scene() { printf '\n\033[1;7m %s \033[0m\n' "$*"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# pamtester_run SERVICE OPERATION...: what the user typed is on stdin; shows
# the prompts, what pam_vault logged and pamtester's verdict.
pamtester_run() {
	local service=$1
	shift
	LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
		PAM_WRAPPER_DEBUGLEVEL=2 pamtester -v "$service" "$user" "$@" 2>&1 |
		sed -e 's/^\(Password\|Verification code\): /&\n/' |
		sed -n -e 's/^PWRAP_[A-Z]*\[.*\] - SYSLOG([0-9]*): /syslog: pam_vault: /p' -e '/^pamtester:/p' \
			-e '/^Password: /p' -e '/^Verification code: /p'
}

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

scene "OTP mode: a one-time SSH password from Vault's SSH secrets engine"

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

step "Log in as $user with that OTP through real libpam (pamtester)"
echo "\$ echo <otp> | pamtester -v demo $user authenticate setcred"
echo "$otp" | pamtester_run demo authenticate setcred

step "The same OTP again is refused: Vault deleted it when it answered"
echo "\$ echo <same otp> | pamtester -v demo $user authenticate"
if echo "$otp" | pamtester_run demo authenticate; then
	echo "UNEXPECTED: a used OTP was accepted" >&2
	exit 1
fi

step "A real password typed by mistake is refused without asking Vault"
echo "\$ echo hunter2 | pamtester -v demo $user authenticate"
if echo hunter2 | pamtester_run demo authenticate; then
	echo "UNEXPECTED: a non-OTP was accepted" >&2
	exit 1
fi

scene "TOTP mode: a code from an authenticator app, checked by Vault's TOTP secrets engine"

step "Enable the TOTP secrets engine, and a policy that can check codes and nothing else"
show "$vault" secrets enable totp
policy='path "totp/code/*" {
  capabilities = ["update"]
}'
printf '$ vault policy write pam-vault-totp - <<POLICY\n%s\nPOLICY\n' "$policy"
printf '%s\n' "$policy" | "$vault" policy write pam-vault-totp -
echo "update on totp/code/* checks a code. Never grant read there: a GET generates the user's current code."

step "A token with that policy only, in a file only root can read"
echo "On a host, Vault Agent logs in, keeps the token renewed and writes this file (README: Vault Agent)."
echo "pam_vault holds the file to its rules: a regular file owned by root, not writable by group or"
echo "others, not readable by others, in directories nobody else can write."
echo "\$ (umask 077; vault token create -policy=pam-vault-totp -ttl=1h -field=token > $work/totp-token)"
(umask 077 && "$vault" token create -policy=pam-vault-totp -ttl=1h -field=token >"$work/totp-token")
show ls -l "$work/totp-token"

step "Write the TOTP config: where Vault is, the TOTP mount, the token file"
cat >"$work/totp.hcl" <<HCL
vault_addr       = "http://127.0.0.1:$port"
totp_mount_point = "totp"
token_file       = "$work/totp-token"
HCL
chmod 600 "$work/totp.hcl"
cat "$work/totp.hcl"

step "Check the setup with pam-vault-check -totp: the token file, the token, its policy, the mount"
show "$build/pam-vault-check" -totp -config="$work/totp.hcl" -dev

step "Enroll $user: Vault generates the key, pam-vault-check shows it for $user's authenticator app"
echo "An operator's command: it sends the operator's own token (VAULT_TOKEN, here the dev server's"
echo "root token), never the module's, which cannot create keys. It refuses to replace a key."
echo "\$ pam-vault-check enroll -user=$user -config=$work/totp.hcl -dev -issuer=\"pam_vault demo\""
"$build/pam-vault-check" enroll -user=$user -config="$work/totp.hcl" -dev -issuer="pam_vault demo" >"$work/enroll.out"
cat "$work/enroll.out"
url=$(grep '^otpauth://' "$work/enroll.out")
secret=$(printf '%s\n' "$url" | sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p')
if [ -z "$secret" ]; then
	echo "UNEXPECTED: enroll printed no URL with a secret" >&2
	exit 1
fi

step "The authenticator app: oathtool computes the current code from the secret in that URL"
echo "(SHA1, 6 digits, 30-second periods: Vault's defaults, which every app supports)"
echo "\$ oathtool --totp --base32 <the secret= of the URL>"
code=$(oathtool --totp --base32 "$secret")
echo "$code"

step "A PAM service: the password first, then pam_vault in TOTP mode with its own prompt"
cat >"$work/pam.d/demo-totp" <<PAM
# The first factor. pam_permit stands in for the password check, so that the
# demo needs no local account; on a host this is the usual pam_unix line.
auth    requisite  pam_permit.so
auth    requisite  $build/pam_vault.so totp config=$work/totp.hcl dev
account required   pam_permit.so
PAM
cat "$work/pam.d/demo-totp"

step "Log in as $user with that code through real libpam (pamtester)"
echo "\$ echo <code> | pamtester -v demo-totp $user authenticate setcred"
echo "$code" | pamtester_run demo-totp authenticate setcred

step "The same code again is refused: Vault takes each code once"
echo "\$ echo <same code> | pamtester -v demo-totp $user authenticate"
if echo "$code" | pamtester_run demo-totp authenticate; then
	echo "UNEXPECTED: a used code was accepted" >&2
	exit 1
fi

step "A wrong code is refused"
# Vault accepts the codes of the period before and after the current one
# too: the wrong code is none of the codes of those three periods.
now=$(date +%s)
valid=$(oathtool --totp --base32 --window=2 --now="@$((now - 30))" "$secret")
wrong=$code
while grep -qx "$wrong" <<<"$valid"; do
	wrong=$(printf '%06d' $(((10#$wrong + 123457) % 1000000)))
done
echo "\$ echo $wrong | pamtester -v demo-totp $user authenticate"
if echo "$wrong" | pamtester_run demo-totp authenticate; then
	echo "UNEXPECTED: a wrong code was accepted" >&2
	exit 1
fi

printf '\n\033[1mDemo complete.\033[0m To use pam_vault on a host: make install, then see README.md.\n'
