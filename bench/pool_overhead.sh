#!/usr/bin/env bash
# Benchmark: what the agent's view of libuv's thread pool (agent/pool.c) costs.
#  1. mutex_heavy.c: OPS uncontended pthread_mutex_lock/unlock pairs, plain and with the agent
#     preloaded (libloopscope_agent_noheap.so, CPU samples off): the interposition alone, per
#     call, for a mutex that is not the pool's.
#  2. node: tests/agent/node_pool.js (fastify, 8 pbkdf2 per request, UV_THREADPOOL_SIZE=2, 384
#     jobs), plain and with the agent preloaded as `run --heap off` preloads it (CPU samples at
#     99 Hz; without run's finalize step and its NODE_OPTIONS): everything the agent does in a
#     process that submits a job every few milliseconds, the pool's part included.
#  ROUNDS interleaved rounds (plain, agent); prints each round's CPU seconds (user + system, from
# /usr/bin/time) and the median of the per-round ratios. Not a test: figures go to
# docs/performance.md.
#   bench/pool_overhead.sh [BUILD_DIR] [ROUNDS] [OPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
rounds=${2:-11}
ops=${3:-50000000}
src=$(cd "$here/.." && pwd)
noheap="$build/libloopscope_agent_noheap.so"
[ -f "$noheap" ] && [ -x "$build/loopscope" ] || { echo "pool_overhead: run make first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "pool_overhead: /usr/bin/time is missing: apt-get install time" >&2; exit 1; }
"$src/tests/js/npm-deps.sh" "$build"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/mutex_heavy" "$here/mutex_heavy.c" -lpthread

cpu() { # the CPU seconds (user + system) of a command
	/usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >/dev/null 2>&1
	awk '{print $1 + $2}' "$tmp/time"
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

export NODE_PATH="$build/npm/node_modules" UV_THREADPOOL_SIZE=2
for what in mutex node; do
	: >"$tmp/ratios"
	for r in $(seq "$rounds"); do
		if [ $what = mutex ]; then
			a=$(cpu "$tmp/mutex_heavy" "$ops")
			b=$(cpu env LOOPSCOPE_OUTPUT="$tmp/m.lsr" LOOPSCOPE_CPU_HZ=0 LD_PRELOAD="$noheap" \
				"$tmp/mutex_heavy" "$ops")
			rm -f "$tmp/m.lsr"
		else
			a=$(cpu node "$src/tests/agent/node_pool.js" "$tmp/out.json")
			b=$(cpu env LOOPSCOPE_OUTPUT="$tmp/n.lsr" LD_PRELOAD="$noheap" \
				node "$src/tests/agent/node_pool.js" "$tmp/out.json")
			rm -f "$tmp/n.lsr"
		fi
		echo "$what round $r: plain ${a}s agent ${b}s"
		awk -v a="$a" -v b="$b" 'BEGIN {if (a > 0) printf "%.4f\n", b / a}' >>"$tmp/ratios"
	done
	echo "$what: agent / plain, median of $rounds rounds: $(median <"$tmp/ratios")"
done
