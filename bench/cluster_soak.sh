#!/usr/bin/env bash
# A soak for host safety: start a two-worker cluster (bench/cluster_start.js) under
# `loopscope run` N times, each bounded to 20 s, and count the runs that did not end by
# themselves (a hang once seen in ~400 starts: a worker spinning in libuv's loop on epoll_ctl;
# docs/performance.md). Prints the failing runs' last lines and the tally.
#   bench/cluster_soak.sh [BUILD_DIR] [N]      (defaults: build, 300)
set -uo pipefail
build=${1:-build}
n=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
for i in $(seq 1 "$n"); do
	rm -f "$tmp"/r.lsr*
	LSC_T0=$(date +%s%3N) timeout -s KILL 20 "$build/loopscope" run -o "$tmp/r.lsr" -- \
		node "$here/cluster_start.js" 2 >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fails=$((fails + 1))
		echo "run $i: exit $rc"
		tail -3 "$tmp/out"
		pkill -9 -f "$here/cluster_start.js" || true
	fi
done
echo "cluster_soak: $n runs, $fails did not end by themselves"
