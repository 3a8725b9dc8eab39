#!/bin/bash
# Runs a command and says how long it took, so that CI's output shows where
# its time goes:
#
#   scripts/timed.sh NAME COMMAND [ARG...]
#
# prints "=== NAME" before the command and "=== NAME: ok, 3m05s" or
# "=== NAME: FAILED (exit 2), 0m41s" after it, on standard error, and exits
# with the command's status. When TIMED_LOG names a file, the second line is
# also appended to it: .ci/run prints that file as its summary.
set -u
name=${1:?usage: scripts/timed.sh NAME COMMAND [ARG...]}
shift
[ $# -gt 0 ] || {
	echo "usage: scripts/timed.sh NAME COMMAND [ARG...]" >&2
	exit 64
}
echo "=== $name" >&2
start=$(date +%s)
"$@"
rc=$?
took=$(($(date +%s) - start))
if [ "$rc" = 0 ]; then
	verdict=ok
else
	verdict="FAILED (exit $rc)"
fi
line=$(printf '=== %s: %s, %dm%02ds' "$name" "$verdict" $((took / 60)) $((took % 60)))
echo "$line" >&2
if [ -n "${TIMED_LOG:-}" ]; then
	echo "$line" >>"$TIMED_LOG"
fi
exit "$rc"
