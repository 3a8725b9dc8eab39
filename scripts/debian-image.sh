#!/bin/sh
# Prints the name of a local Docker image holding a minimal Debian root of
# SUITE (bookworm or trixie) with every Debian package the test suite needs,
# building it first when no image of that name exists.
#
#   scripts/debian-image.sh bookworm   ->  pam_vault-base:bookworm-<hash>
#
# No registry is needed: the root is made on the host with debootstrap from
# Debian's mirror and loaded with `docker import`. The name carries a hash of
# the suite, the package list and this script, so an image is reused until
# one of those changes. Set DEBIAN_MIRROR to use another mirror.
set -eu
suite=${1:?usage: scripts/debian-image.sh bookworm|trixie}
case $suite in
bookworm | trixie) ;;
*)
	echo "debian-image.sh: unknown suite $suite; use bookworm or trixie" >&2
	exit 64
	;;
esac
here=$(cd "$(dirname "$0")" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=$("$here/install-deps.sh" --list | tr '\n' ',' | sed 's/,$//')
hash=$( (echo "$suite $mirror $packages" && cat "$0") | sha256sum | cut -c1-12)
image="pam_vault-base:$suite-$hash"

if docker image inspect "$image" >/dev/null 2>&1; then
	echo "$image"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "debian-image.sh: building $image needs root (debootstrap)" >&2
	exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
	echo ">>> installing debootstrap" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

start=$(date +%s)
root=$(mktemp -d "${TMPDIR:-/tmp}/pam_vault-$suite.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo ">>> debootstrap $suite into $root (packages: $packages)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
	tail -30 "$root.log" >&2
	rm -f "$root.log"
	exit 1
}
rm -f "$root.log"
# A container of this image never reaches the mirror; what apt downloaded is
# dead weight. The services the packages would start stay off (the tests run
# their own sshd).
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
tar -C "$root" -c . | docker import \
	-c 'ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	-c 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo ">>> built $image in $(($(date +%s) - start)) s" >&2
echo "$image"
