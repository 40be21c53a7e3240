#!/usr/bin/env bash
# Benchmark: the cost of native heap tracking on a malloc-heavy program (bench/malloc_heavy.c:
# OPS malloc/free pairs a few calls deep), without a profiler, with the agent preloaded in
# --heap sampled and --heap full, and under heaptrack, in interleaved rounds. Prints each round,
# the medians, and the share of heaptrack's extra run time that --heap full adds (the goal: at
# most a third). Not a test: figures go to docs/performance.md.
#   bench/heap_overhead.sh [BUILD_DIR] [ROUNDS] [OPS]
# The agent is preloaded by hand (LOOPSCOPE_* variables), so that the figure is the program's run
# time; `loopscope run` would add its finalize step (symbols) after the program ends.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
ops=${3:-20000000}
command -v heaptrack >/dev/null || { echo "heap_overhead: heaptrack is missing: apt-get install heaptrack" >&2; exit 1; }
agent="$build/libloopscope_agent.so"
[ -f "$agent" ] || { echo "heap_overhead: $agent is missing: run make first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -g -o "$tmp/malloc_heavy" "$(dirname "$0")/malloc_heavy.c"

secs() { # the wall time of a command, in seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}
agent_run() { # $1: heap mode
	secs env LOOPSCOPE_OUTPUT="$tmp/rec.lsr" LOOPSCOPE_HEAP="$1" LD_PRELOAD="$agent" \
		"$tmp/malloc_heavy" "$ops"
	rm -f "$tmp/rec.lsr"
}

base=() sampled=() full=() ht=()
for r in $(seq "$rounds"); do
	a=$(secs "$tmp/malloc_heavy" "$ops")
	b=$(agent_run sampled)
	c=$(agent_run full)
	d=$(secs heaptrack -o "$tmp/ht" "$tmp/malloc_heavy" "$ops")
	rm -f "$tmp"/ht*
	base+=("$a") sampled+=("$b") full+=("$c") ht+=("$d")
	echo "round $r: baseline ${a}s, --heap sampled ${b}s, --heap full ${c}s, heaptrack ${d}s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(median "${base[@]}") ms=$(median "${sampled[@]}") mf=$(median "${full[@]}") mh=$(median "${ht[@]}")
echo "medians: baseline ${mb}s, sampled ${ms}s, full ${mf}s, heaptrack ${mh}s"
echo "slowdown: sampled $(echo "scale=2; $ms / $mb" | bc)x, full $(echo "scale=2; $mf / $mb" | bc)x, heaptrack $(echo "scale=2; $mh / $mb" | bc)x"
echo "full's extra time / heaptrack's extra time = $(echo "scale=3; ($mf - $mb) / ($mh - $mb)" | bc)"
