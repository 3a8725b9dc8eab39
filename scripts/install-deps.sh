#!/bin/sh
# Installs the Debian packages pam_vault needs to build and test, when any is
# missing. Safe to run again: it does nothing when all are present.
# `install-deps.sh --list` prints the list, one package a line: it is also
# what scripts/debian-image.sh puts in the test suite's Debian images.
# `install-deps.sh --container` installs only those (Dockerfile.test runs
# it): on an image that has them all it does nothing, so it needs no
# network there.
set -eu
packages="gcc make libc6-dev libpam0g-dev pamtester libpam-wrapper openssh-server openssh-client sshpass iproute2 ca-certificates zbar-tools sudo login"
# Tools used on this machine only, never in a container: for the package
# tests (test/packages) lintian, rpm, and checkpolicy with semodule-utils
# for the SELinux module; for `make demo` oathtool, the authenticator app
# of its TOTP scene; debootstrap, which makes the Debian images of
# test/packages and make docker-test (scripts/debian-image.sh). They stay
# out of --list, which makes the test images: debootstrap cannot install
# lintian (it does not resolve the virtual package perl-openssl-abi-3).
host_packages="lintian rpm checkpolicy semodule-utils oathtool debootstrap"
case ${1:-} in
--list)
	printf '%s\n' $packages
	exit 0
	;;
--container) host_packages="" ;;
"") ;;
*)
	echo "usage: install-deps.sh [--list | --container]" >&2
	exit 64
	;;
esac
missing=""
for p in $packages $host_packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages:$missing; run as root or: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo ">>> installing Debian packages:$missing"
	apt-get update -qq
	# openssh-server is here for the tests, which run their own sshd; keep
	# the package from starting (and enabling) the machine's ssh service.
	ssh_new=no
	case " $missing " in *" openssh-server "*) ssh_new=yes ;; esac
	policy=/usr/sbin/policy-rc.d
	if [ "$ssh_new" = yes ] && [ ! -e "$policy" ]; then
		# Removed however the install ends: left behind, it would keep
		# every later package from starting its service.
		trap 'rm -f "$policy"' EXIT
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
	if [ "$ssh_new" = yes ] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
	fi
fi
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "Go 1.26 or newer is needed (go not on PATH nor in /usr/local/go)" >&2
	exit 1
fi
