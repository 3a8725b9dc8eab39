#!/bin/sh
# Prints the path of the step-ca server the certificate tests run:
# $STEP_CA_BIN, else a step-ca on PATH, else the pinned release built from
# the Go module proxy once and cached outside the repository. Two callers at
# once take turns: the second waits for the first one's build and uses it.
# `step-ca-bin.sh --pinned` looks at neither STEP_CA_BIN nor PATH, as
# vault-bin.sh --pinned.
set -eu
if [ "${1:-}" != --pinned ]; then
	if [ -n "${STEP_CA_BIN:-}" ]; then
		echo "$STEP_CA_BIN"
		exit 0
	fi
	if command -v step-ca >/dev/null 2>&1; then
		command -v step-ca
		exit 0
	fi
fi
version=v0.30.2
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pam_vault"
bin="$cache/step-ca-$version"
mkdir -p "$cache"
exec 9>"$cache/step-ca.lock"
flock 9
if [ ! -x "$bin" ]; then
	echo ">>> building step-ca $version from the Go module proxy into $bin" >&2
	echo ">>> this happens once: about 5 minutes" >&2
	gobin=$(mktemp -d "$cache/step-ca-build.XXXXXX")
	trap 'rm -rf "$gobin"' EXIT
	# Without cgo step-ca needs no C libraries (with it, libpcsclite for
	# YubiKeys, which the tests do not use). go install with a version
	# builds outside any module, so the repository's go.mod is not touched.
	GOBIN="$gobin" CGO_ENABLED=0 go install -trimpath \
		"github.com/smallstep/certificates/cmd/step-ca@$version" >&2
	mv "$gobin/step-ca" "$bin"
fi
echo "$bin"
