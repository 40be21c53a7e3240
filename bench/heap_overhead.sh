#!/usr/bin/env bash
# Benchmark: the cost of native heap tracking on a malloc-heavy program, in interleaved rounds:
#   plain          the program alone;
#   thread         the program with an idle second thread (bench/idle_thread.c preloaded): what
#                  any in-process agent's own thread costs a single-threaded program, whose glibc
#                  malloc then leaves its single-thread path for good (arena locks, atomics);
#   off            the agent as `run --heap off` preloads it (libloopscope_agent_noheap.so);
#   sampled        the agent in --heap sampled, the default (libloopscope_agent.so);
#   full           the agent in --heap full;
#   heaptrack      `heaptrack -o ...` (skipped with HEAPTRACK=0, or when it is not installed).
# Each figure is the run's CPU time (user + system, from /usr/bin/time). Prints each round, the
# medians, and per configuration the median over rounds of its ratio to plain in the same round
# (pairing keeps a ratio meaningful when the machine's speed drifts between rounds). Not a test:
# figures go to docs/performance.md.
#   bench/heap_overhead.sh [BUILD_DIR] [ROUNDS] [OPS] [PROGRAM]
# PROGRAM: malloc_heavy (default: one thread, 16 B-4 KiB) or malloc_mixed (mixed sizes, calloc,
# realloc, on a second thread). The agent is preloaded by hand (LOOPSCOPE_* variables), with CPU
# samples at the default 99 Hz, so that the figure is the program's run (`loopscope run` adds its
# finalize step after the program ends).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
ops=${3:-20000000}
prog=${4:-malloc_heavy}
[ -f "$here/$prog.c" ] || { echo "heap_overhead: no program bench/$prog.c" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "heap_overhead: /usr/bin/time is missing: apt-get install time" >&2; exit 1; }
agent="$build/libloopscope_agent.so" noheap="$build/libloopscope_agent_noheap.so"
for f in "$agent" "$noheap"; do
	[ -f "$f" ] || { echo "heap_overhead: $f is missing: run make first" >&2; exit 1; }
done
configs="plain thread off sampled full"
if [ "${HEAPTRACK:-1}" != 0 ] && command -v heaptrack >/dev/null; then
	configs="$configs heaptrack"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -g -o "$tmp/$prog" "$here/$prog.c" -lpthread
cc -O2 -shared -fPIC -o "$tmp/idle_thread.so" "$here/idle_thread.c" -lpthread

cpu() { # the CPU seconds (user + system) of a command
	/usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >/dev/null 2>&1
	awk '{print $1 + $2}' "$tmp/time"
}
one() { # $1: configuration
	local run=("$tmp/$prog" "$ops") rec=(LOOPSCOPE_OUTPUT="$tmp/rec.lsr")
	case $1 in
	plain) cpu "${run[@]}" ;;
	thread) cpu env LD_PRELOAD="$tmp/idle_thread.so" "${run[@]}" ;;
	off) cpu env "${rec[@]}" LOOPSCOPE_HEAP=off LD_PRELOAD="$noheap" "${run[@]}" ;;
	sampled) cpu env "${rec[@]}" LOOPSCOPE_HEAP=sampled LD_PRELOAD="$agent" "${run[@]}" ;;
	full) cpu env "${rec[@]}" LOOPSCOPE_HEAP=full LD_PRELOAD="$agent" "${run[@]}" ;;
	heaptrack) cpu heaptrack -o "$tmp/ht" "${run[@]}" ;;
	esac
	rm -f "$tmp/rec.lsr" "$tmp"/ht*
}

declare -A times ratios
for r in $(seq "$rounds"); do
	line="round $r:"
	for c in $configs; do
		t=$(one "$c")
		times[$c]+="$t "
		line+=" $c ${t}s"
		[ "$c" = plain ] && base=$t
		ratios[$c]+="$(echo "scale=4; $t / $base" | bc) "
	done
	echo "$line"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "$prog, $ops operations, $rounds rounds: median CPU seconds, and median of the per-round ratios to plain"
for c in $configs; do
	# shellcheck disable=SC2086
	printf '  %-10s %6.3fs  %5.3fx\n' "$c" "$(median ${times[$c]})" "$(median ${ratios[$c]})"
done
