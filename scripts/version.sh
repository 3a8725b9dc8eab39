#!/bin/sh
# Prints pam_vault's version: the one string the packages, their file names
# and `pam-vault-check -version` carry. It must be a valid Debian and RPM
# version, so `git describe` output is mapped:
#
#   v1.2.0                  ->  1.2.0
#   v1.2.0-3-gabc1234       ->  1.2.0+3.gabc1234    (3 commits after v1.2.0)
#   v1.3.0-rc1              ->  1.3.0~rc1           (sorts before 1.3.0)
#   no v* tag yet           ->  0.0.0+41.gabc1234   (41 commits in all)
#   uncommitted changes     ->  ... .dirty appended
#
# '+' and '~' order the same way in dpkg and rpm; '-' is kept out, as it
# separates the Debian revision and is not allowed in an RPM version.
# Without a .git (a release tarball, a Docker build context) the first line
# of the file VERSION at the top of the tree is printed as it is; without
# either, 0.0.0+unknown, with a warning.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -e "$root/.git" ] && command -v git >/dev/null 2>&1; then
	if desc=$(git -C "$root" describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		:
	else
		# No release tag yet: count every commit, so versions still grow.
		desc="v0.0.0-$(git -C "$root" rev-list --count HEAD)-g$(git -C "$root" describe --always --dirty)"
	fi
	dirty=""
	case $desc in *-dirty)
		dirty=dirty
		desc=${desc%-dirty}
		;;
	esac
	tag=$desc
	since=""
	if printf '%s\n' "$desc" | grep -Eq -- '-[0-9]+-g[0-9a-f]+$'; then
		tag=$(printf '%s\n' "$desc" | sed -E 's/-[0-9]+-g[0-9a-f]+$//')
		since=$(printf '%s\n' "$desc" | sed -E 's/^.*-([0-9]+)-(g[0-9a-f]+)$/\1.\2/')
	fi
	tag=$(printf '%s\n' "${tag#v}" | tr - '~')
	meta=$since
	[ -z "$dirty" ] || meta=${meta:+$meta.}$dirty
	version=$tag${meta:++$meta}
	printf '%s\n' "$version"
elif [ -f "$root/VERSION" ]; then
	head -n 1 "$root/VERSION"
else
	echo "version.sh: no .git and no VERSION file; calling this build 0.0.0+unknown" >&2
	echo 0.0.0+unknown
fi
