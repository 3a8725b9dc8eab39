#!/bin/sh
# pamns.sh DIR COMMAND [ARG...]: runs COMMAND with DIR/pam.d as /etc/pam.d
# and with a private /dev whose /dev/log is the socket DIR/log.sock.
#
# It must run in a fresh private mount namespace
# (unshare --mount --propagation private): every mount below is then seen by
# COMMAND and its children only, and disappears with them.
set -eu
dir=$1
shift

# Refuse to touch the mounts of the namespace everyone else uses.
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
	echo "pamns.sh: not in a private mount namespace; run it under unshare --mount" >&2
	exit 1
fi
mount --make-rprivate /
mount --bind "$dir/pam.d" /etc/pam.d

# A new /dev: the device nodes sshd, the shell and ptys use, bind-mounted from
# the real /dev, plus /dev/log. Built on DIR/dev, then moved over /dev.
dev=$dir/dev
mount -t tmpfs -o mode=0755,nosuid,size=64k pam_vault-test-dev "$dev"
for node in null zero full random urandom tty ptmx; do
	: >"$dev/$node"
	mount --bind "/dev/$node" "$dev/$node"
done
for sub in pts shm; do
	mkdir "$dev/$sub"
	mount --rbind "/dev/$sub" "$dev/$sub"
done
ln -s /proc/self/fd "$dev/fd"
ln -s /proc/self/fd/0 "$dev/stdin"
ln -s /proc/self/fd/1 "$dev/stdout"
ln -s /proc/self/fd/2 "$dev/stderr"
: >"$dev/log"
mount --bind "$dir/log.sock" "$dev/log"
mount --move "$dev" /dev

exec "$@"
