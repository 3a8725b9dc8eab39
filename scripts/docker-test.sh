#!/bin/bash
# Runs pam_vault's integration suites (make container-test) in Debian
# containers built from Dockerfile.test, with no registry and no network
# inside any container:
#
#   scripts/docker-test.sh [SUITE...]     SUITE: bookworm, trixie; default both
#
# For each suite, four steps, each timed (scripts/timed.sh):
#
#   base   a Debian root with the test packages, made with debootstrap on
#          this machine and imported (scripts/debian-image.sh);
#   go     that image plus this machine's Go toolchain in /usr/local/go and
#          the Vault and step-ca binaries its own tests run
#          (scripts/vault-bin.sh, scripts/step-ca-bin.sh) in /usr/local/bin,
#          made with docker create, cp and commit: Dockerfile.test's
#          GO_IMAGE, in which nothing then needs building;
#   build  Dockerfile.test built on those two with --network none, from a
#          context staged in build/docker/context: the repository's files
#          (tracked, and untracked ones git does not ignore), VERSION
#          (scripts/version.sh; the context has no .git) and vendor/ (go mod
#          vendor, from this machine's module cache);
#   run    the image run as root, --privileged (mount and network
#          namespaces, veth links, users), with CI=true, on an internal
#          Docker network that reaches nothing outside the container. The
#          output is shown and kept in build/docker/SUITE.log.
#
# Each image is tagged with a hash of its inputs and reused while they are
# unchanged; a superseded one is removed. Every suite runs even when one
# fails; the exit status says whether all passed. Without a Docker engine
# this skips, unless CI is set in the environment: then it fails.
#
# It needs root (debootstrap, and Docker). By hand, run it under
# flock /tmp/pam_vault-root.lock, as every Docker build of the project.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
if [ $# -eq 0 ]; then
	set -- bookworm trixie
fi

if ! command -v docker >/dev/null 2>&1; then
	reason="docker is not installed"
elif ! out=$(docker info 2>&1 >/dev/null); then
	reason="the Docker engine does not answer ($(printf '%s\n' "$out" | tail -1))"
else
	reason=""
fi
if [ -n "$reason" ]; then
	if [ -n "${CI:-}" ]; then
		echo "docker-test: FAILED: $reason. CI is set, and CI runs the container suites: install Docker Engine (apt-get install docker.io) and start it." >&2
		exit 1
	fi
	echo "docker-test: skipped: $reason (with CI set this fails)" >&2
	exit 0
fi

timed="$root/scripts/timed.sh"
out=$root/build/docker
mkdir -p "$out"
network=pam_vault-offline

# hash12 prints the first 12 hex digits of the SHA-256 of its input.
hash12() { sha256sum | cut -c1-12; }

# prune removes every image of repository $1 whose tag starts with $2,
# except $3: the ones an earlier run made from other inputs.
prune() {
	docker images --format '{{.Repository}}:{{.Tag}}' "$1" |
		grep "^$1:$2" | grep -vxF "$3" | xargs -r docker rmi >/dev/null || true
}

# The pinned Vault and step-ca, built first if need be: whatever VAULT_BIN
# says, the containers run the release the scripts pin.
vault=$(scripts/vault-bin.sh --pinned)
stepca=$(scripts/step-ca-bin.sh --pinned)
goroot=$(go env GOROOT)
# What the Go image is made of; "layout" names where go_image puts it, and
# changes with go_image.
tools_hash=$( {
	echo "layout 1: /usr/local/go, /cache/pam_vault"
	head -n 1 "$goroot/VERSION"
	basename "$vault"
	sha256sum <"$vault"
	basename "$stepca"
	sha256sum <"$stepca"
} | hash12)

# stage_context fills build/docker/context and prints its hash.
stage_context() {
	local ctx=$out/context
	rm -rf "$ctx"
	mkdir -p "$ctx"
	if [ -e .git ] && command -v git >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				# Tracked files deleted in the work tree stay out.
				if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
			done |
			tar --null -T - -cf - | tar -xf - -C "$ctx"
	else
		tar --exclude=./.git --exclude=./build -cf - . | tar -xf - -C "$ctx"
	fi
	scripts/version.sh >"$ctx/VERSION"
	# The root module's dependencies only: packaging/ and bench/ are
	# modules of their own that the container neither builds nor tests.
	go mod vendor -o "$ctx/vendor"
	tar -C "$ctx" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | hash12
}

# go_image prints the name of the GO_IMAGE made on base image $1, making it
# when missing. The Vault and step-ca binaries go where the scripts look
# with XDG_CACHE_HOME=/cache, under the names they give them.
go_image() {
	local image="pam_vault-go:$(echo "$tools_hash $(docker image inspect -f '{{.Id}}' "$1")" | hash12)"
	if docker image inspect "$image" >/dev/null 2>&1; then
		echo ">>> reusing $image" >&2
	else
		# Each step runs in a shell of its own: EXIT is its end.
		container=$(docker create "$1" true)
		trap 'docker rm -f "$container" >/dev/null 2>&1 || true' EXIT
		trap 'exit 130' INT TERM HUP
		docker cp -L "$goroot" "$container:/usr/local/go"
		local bin
		for bin in "$vault" "$stepca"; do
			tar -ch --transform 's,^,cache/pam_vault/,' -C "$(dirname "$bin")" "$(basename "$bin")" |
				docker cp - "$container:/"
		done
		docker commit "$container" "$image" >/dev/null
		echo ">>> made $image" >&2
		prune pam_vault-go "" "$image"
	fi
	echo "$image"
}

# test_image prints the name of suite $1's test image on base image $2
# and Go image $3 from a context of hash $4, building it when missing.
test_image() {
	local ids
	ids=$(docker image inspect -f '{{.Id}}' "$2" "$3")
	local image="pam_vault-test:$1-$(echo "$4 $ids" | hash12)"
	if docker image inspect "$image" >/dev/null 2>&1; then
		echo ">>> reusing $image" >&2
	else
		docker build --network none -f "$out/context/Dockerfile.test" \
			--build-arg BASE_IMAGE="$2" --build-arg GO_IMAGE="$3" --build-arg GOPROXY=off \
			-t "$image" "$out/context" >&2
		prune pam_vault-test "$1-" "$image"
	fi
	echo "$image"
}

# run_flags prints the options that give a container of image $1 what the
# suites need: what --privileged gives, every capability, no seccomp or
# AppArmor filter and a writable /proc/sys. Where the Docker engine runs
# in a container that lacks a capability (this project's machines lack
# CAP_SYS_RESOURCE), runc cannot grant them all and a --privileged
# container does not start; the same is then asked for one by one,
# without the capabilities this machine's bounding set lacks.
run_flags() {
	if docker run --rm --privileged --network none "$1" true >/dev/null 2>&1; then
		echo --privileged
		return
	fi
	local caps=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
		LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
		SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
		SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
		MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)
	local bound flags=(--cap-add ALL) i
	bound=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
	for i in "${!caps[@]}"; do
		if (((bound >> i & 1) == 0)); then flags+=(--cap-drop "${caps[$i]}"); fi
	done
	echo "${flags[*]} --security-opt seccomp=unconfined --security-opt apparmor=unconfined" \
		"--security-opt systempaths=unconfined"
}

# run_suite runs image $2's suites for suite $1, with the output shown and
# kept in build/docker/$1.log.
run_suite() {
	local name="pam_vault-test-$1" flags
	flags=$(run_flags "$2")
	docker run --rm --network none "$2" sh -c 'printf ">>> in %s: Debian %s, %s, %s\n" "$1" \
		"$(cat /etc/debian_version)" "$(ssh -V 2>&1 | cut -d, -f1)" \
		"$(dpkg-query -W -f "\${Package} \${Version} " libpam0g sudo)"' sh "$2" >&2
	echo ">>> docker run $flags" >&2
	docker rm -f "$name" >/dev/null 2>&1 || true
	trap "docker rm -f '$name' >/dev/null 2>&1 || true" EXIT
	trap 'exit 130' INT TERM HUP
	# Docker turns IPv6 off in a container's namespace, ::1 included; the
	# suites expect a host's loopback to hold ::1, as it does outside one.
	# shellcheck disable=SC2086 # flags is a list of options
	docker run --rm --name "$name" $flags --network "$network" \
		--sysctl net.ipv6.conf.all.disable_ipv6=0 -e CI=true "$2" 2>&1 |
		tee "$out/$1.log"
}

if ! docker network inspect "$network" >/dev/null 2>&1; then
	# --internal: no route out of the network, only between its members.
	docker network create --internal "$network" >/dev/null
fi

# step NAME FUNCTION [ARG...] runs one of the functions above through
# scripts/timed.sh, which runs commands, so in a bash that is given them.
export -f hash12 prune stage_context go_image test_image run_flags run_suite
export out network vault stepca goroot tools_hash
step() {
	local name=$1
	shift
	"$timed" "$name" bash -euo pipefail -c '"$@"' step "$@"
}

context=$(step "docker-test: build context" stage_context)
# One GO_IMAGE for every suite, made on the first one's base: it only
# supplies files to copy, so its Debian does not matter, and with one the
# Vault stage is built once.
goimage=""
failed=""
for suite in "$@"; do
	if base=$(step "docker-test $suite: base image" scripts/debian-image.sh "$suite") &&
		{ [ -n "$goimage" ] || goimage=$(step "docker-test: go image" go_image "$base"); } &&
		image=$(step "docker-test $suite: test image" test_image "$suite" "$base" "$goimage" "$context") &&
		step "docker-test $suite: run" run_suite "$suite" "$image"; then
		:
	else
		failed="$failed $suite"
	fi
done
if [ -n "$failed" ]; then
	echo "docker-test: FAILED in:$failed (logs in build/docker/)" >&2
	exit 1
fi
echo "docker-test: passed in $*" >&2
