#!/usr/bin/env bash
# Benchmark: how long a cluster takes to start under `loopscope run` in the default mode (heap
# sampled, children followed) against without it. bench/cluster_start.js forks WORKERS HTTP
# workers and prints the milliseconds to the moment all of them listen: from just before the
# command started (total) and from the primary's fork of them (the workers' start). Interleaved
# rounds of:
#   plain     node alone;
#   run       `loopscope run -o REC -- node ...` (what a user types: loopscope's own start, the
#             agent in the primary and in each worker, each writing its own recording);
#   heap-off  the same with --heap off (the agent without the malloc family);
#   preload   the agent preloaded by hand, as `run` sets it up (LOOPSCOPE_OUTPUT, children
#             followed): the agent's part without loopscope's own start.
# Prints each round, then per configuration and figure the median and the median of the
# per-round ratios to plain. Not a test: figures go to docs/performance.md.
#   bench/cluster_start.sh [BUILD_DIR] [ROUNDS] [WORKERS] [CONFIGS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
rounds=${2:-11}
workers=${3:-2}
configs=${4:-plain run heap-off preload}
[ -x "$build/loopscope" ] || { echo "cluster_start: $build/loopscope is missing: run make first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() { # $1: configuration; prints "TOTAL_MS FORK_MS" to all workers listening
	local app=(node "$here/cluster_start.js" "$workers") out
	# timeout: a run that hangs is killed, its whole process group (the workers too)
	local t=(timeout -s KILL 30)
	case $1 in
	plain) out=$(LSC_T0=$(date +%s%3N) "${t[@]}" env "${app[@]}") ;;
	run) out=$(LSC_T0=$(date +%s%3N) "${t[@]}" "$build/loopscope" run -o "$tmp/rec.lsr" -- \
		"${app[@]}" 2>/dev/null) ;;
	heap-off) out=$(LSC_T0=$(date +%s%3N) "${t[@]}" "$build/loopscope" run --heap off \
		-o "$tmp/rec.lsr" -- "${app[@]}" 2>/dev/null) ;;
	preload) out=$(LSC_T0=$(date +%s%3N) "${t[@]}" env LOOPSCOPE_OUTPUT="$tmp/rec.lsr" \
		LOOPSCOPE_FOLLOW_CHILDREN=1 LD_PRELOAD="$build/libloopscope_agent.so" "${app[@]}" \
		2>/dev/null) ;;
	esac
	rm -f "$tmp"/rec.lsr*
	out=$(sed -n 's/.* listening_ms \([0-9]*\) fork_to_listening_ms \([0-9.]*\).*/\1 \2/p' <<<"$out")
	[ -n "$out" ] || { echo "cluster_start: $1: no figure (the run failed, or hung and was killed)" >&2; exit 1; }
	echo "$out"
}

declare -A total fork rtotal rfork
for r in $(seq "$rounds"); do
	line="round $r:"
	for c in $configs; do
		read -r t f <<<"$(one "$c")"
		total[$c]+="$t " fork[$c]+="$f "
		line+=" $c ${t}/${f}ms"
		[ "$c" = plain ] && bt=$t bf=$f
		rtotal[$c]+="$(echo "scale=4; $t / $bt" | bc) "
		rfork[$c]+="$(echo "scale=4; $f / $bf" | bc) "
	done
	echo "$line (total/workers)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "a cluster of $workers workers, $rounds rounds: medians of ms to all listening, and of the ratios to plain"
printf '  %-9s %9s %7s %11s %7s\n' config total ratio "workers'" ratio
for c in $configs; do
	# shellcheck disable=SC2086
	printf '  %-9s %6.0f ms %6.3fx %8.1f ms %6.3fx\n' "$c" "$(median ${total[$c]})" \
		"$(median ${rtotal[$c]})" "$(median ${fork[$c]})" "$(median ${rfork[$c]})"
done
