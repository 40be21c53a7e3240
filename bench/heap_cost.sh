#!/usr/bin/env bash
# Benchmark: where heap tracking's cost goes, in instructions, which (unlike time on a shared
# machine) repeat to the unit: for each configuration of bench/heap_overhead.sh (plain, thread,
# off, sampled, full), the instructions per operation of the program's busiest thread under
# callgrind, as the difference between a run of 2*OPS and one of OPS operations (start-up and
# exit cancel out). CPU samples are off (valgrind does not deliver SIGPROF to the agent usefully).
# Instructions are not time: a locked instruction (glibc's arena lock, once a second thread
# exists) counts one here and costs tens of cycles. Not a test: figures go to
# docs/performance.md.
#   bench/heap_cost.sh [BUILD_DIR] [OPS] [PROGRAM]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
ops=${2:-1000000}
prog=${3:-malloc_heavy}
[ -f "$here/$prog.c" ] || { echo "heap_cost: no program bench/$prog.c" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "heap_cost: valgrind is missing: apt-get install valgrind" >&2; exit 1; }
agent="$build/libloopscope_agent.so" noheap="$build/libloopscope_agent_noheap.so"
for f in "$agent" "$noheap"; do
	[ -f "$f" ] || { echo "heap_cost: $f is missing: run make first" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -g -o "$tmp/$prog" "$here/$prog.c" -lpthread
cc -O2 -shared -fPIC -o "$tmp/idle_thread.so" "$here/idle_thread.c" -lpthread

instructions() { # $1: operations, then the command's environment: the busiest thread's count
	local n=$1
	shift
	rm -rf "$tmp/cg" && mkdir "$tmp/cg"
	valgrind --tool=callgrind --trace-children=yes --separate-threads=yes \
		--callgrind-out-file="$tmp/cg/out.%p" env LOOPSCOPE_CPU_HZ=0 "$@" "$tmp/$prog" "$n" \
		>/dev/null 2>&1
	cat "$tmp"/cg/out* | awk '/^summary:/ { if ($2 > m) m = $2 } END { print m }'
}
per_op() { # $1: label, then the environment
	local label=$1 a b
	shift
	a=$(instructions "$ops" "$@")
	b=$(instructions $((2 * ops)) "$@")
	printf '  %-10s %6d instructions per operation\n' "$label" $(((b - a) / ops))
	rm -f "$tmp/rec.lsr"
}
echo "$prog: instructions per operation of its busiest thread (callgrind, $((2 * ops)) - $ops operations)"
per_op plain
per_op thread LD_PRELOAD="$tmp/idle_thread.so"
per_op off LOOPSCOPE_OUTPUT="$tmp/rec.lsr" LOOPSCOPE_HEAP=off LD_PRELOAD="$noheap"
per_op sampled LOOPSCOPE_OUTPUT="$tmp/rec.lsr" LOOPSCOPE_HEAP=sampled LD_PRELOAD="$agent"
per_op full LOOPSCOPE_OUTPUT="$tmp/rec.lsr" LOOPSCOPE_HEAP=full LD_PRELOAD="$agent"
