#!/bin/sh
# mountns.sh DIR LOG [SOURCE TARGET]... -- COMMAND [ARG...]: runs COMMAND with
# each SOURCE bind-mounted over TARGET (a service directory over /etc/pam.d,
# say) and with a private /dev whose /dev/log is the unixgram socket LOG.
# pamtest.Mounts.Command runs it.
#
# It must run in a fresh private mount namespace
# (unshare --mount --propagation private): every mount below is then seen by
# COMMAND and its children only, and disappears with them.
set -eu
dir=$1
log=$2
shift 2

# Refuse to touch the mounts of the namespace everyone else uses.
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
	echo "mountns.sh: not in a private mount namespace; run it under unshare --mount" >&2
	exit 1
fi
mount --make-rprivate /
while [ "$1" != -- ]; do
	mount --bind "$1" "$2"
	shift 2
done
shift

# A new /dev: the device nodes sshd, su, sudo, the shell and ptys use,
# bind-mounted from the real /dev, plus /dev/log. Built on DIR/dev, then
# moved over /dev.
dev=$dir/dev
mkdir -p "$dev"
mount -t tmpfs -o mode=0755,nosuid,size=64k pam_vault-test-dev "$dev"
for node in null zero full random urandom tty; do
	: >"$dev/$node"
	mount --bind "/dev/$node" "$dev/$node"
done
for sub in pts shm; do
	mkdir "$dev/$sub"
	mount --rbind "/dev/$sub" "$dev/$sub"
done
# /dev/ptmx is a node of its own: the kernel gives a new pty in the devpts
# mounted at "pts" beside the ptmx that was opened, which a bind-mounted
# ptmx has none of (sudo's use_pty: "unable to allocate pty").
mknod -m 0666 "$dev/ptmx" c 5 2
ln -s /proc/self/fd "$dev/fd"
ln -s /proc/self/fd/0 "$dev/stdin"
ln -s /proc/self/fd/1 "$dev/stdout"
ln -s /proc/self/fd/2 "$dev/stderr"
: >"$dev/log"
mount --bind "$log" "$dev/log"
mount --move "$dev" /dev

exec "$@"
