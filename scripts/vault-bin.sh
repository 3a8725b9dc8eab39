#!/bin/sh
# Prints the path of the Vault server the tests and the demo run: $VAULT_BIN,
# else a vault on PATH, else the pinned release built from source once and
# cached outside the repository. `vault-bin.sh --pinned` looks at neither
# VAULT_BIN nor PATH: it prints the cached pinned release's path, building
# it first if need be (make docker-test copies it into its containers, under
# the same name, where this script finds it). Two callers at once take
# turns, as in step-ca-bin.sh: the second waits for the first one's build.
set -eu
if [ "${1:-}" != --pinned ]; then
	if [ -n "${VAULT_BIN:-}" ]; then
		echo "$VAULT_BIN"
		exit 0
	fi
	if command -v vault >/dev/null 2>&1; then
		command -v vault
		exit 0
	fi
fi
version=v1.21.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pam_vault"
bin="$cache/vault-$version"
if [ ! -x "$bin" ]; then
	mkdir -p "$cache"
	exec 9>"$cache/vault.lock"
	flock 9
fi
if [ ! -x "$bin" ]; then
	echo ">>> building Vault $version from source into $bin" >&2
	echo ">>> this happens once: about 12 minutes and 4 GB of Go module downloads" >&2
	here=$(cd "$(dirname "$0")/.." && pwd)
	# A private temporary name, renamed when complete: a reader never
	# sees half a binary.
	tmp=$(mktemp "$bin.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	(cd "$here/test/vault" && go build -trimpath -o "$tmp" .) >&2
	mv "$tmp" "$bin"
fi
echo "$bin"
