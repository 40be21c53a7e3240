#!/usr/bin/env bash
# Benchmark: what `--heap full` costs per allocation on worker_threads against the main thread.
# bench/heap_workers.js does the same allocation-heavy work (a zero-filled Buffer and, every
# fourth operation, a SHA-1 context: about six mallocs an operation) on the main thread alone or
# spread over THREADS Worker threads, and prints its work phase (the start-up left out): the
# process's CPU time over it (every thread's) and its wall time. Interleaved rounds of four runs:
# main and workers, each plain (`node`) and under `loopscope run --heap MODE` (full by default).
# Prints each round, then per shape the median CPU and wall ms of the work phase and the medians
# over rounds of the ratios MODE / plain (pairing keeps a ratio meaningful when the machine's
# speed drifts), and the workers' CPU ratio over the main thread's: 1 when an allocation costs
# a worker what it costs the main thread. Not a test: figures go to docs/performance.md.
#   bench/heap_workers.sh [BUILD_DIR] [ROUNDS] [OPS] [THREADS] [MODE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
ops=${3:-100000}
threads=${4:-4}
mode=${5:-full}
[ -x "$build/loopscope" ] || { echo "heap_workers: $build/loopscope is missing: run make first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() { # $1 main|workers, $2 plain|MODE: "CPU_MS WALL_MS" of the work phase
	local app=(node "$here/heap_workers.js" "$1" "$threads" "$ops") out
	if [ "$2" = plain ]; then
		out=$("${app[@]}")
	else
		out=$("$build/loopscope" run --heap "$2" -o "$tmp/rec.lsr" -- "${app[@]}" 2>/dev/null)
	fi
	rm -f "$tmp"/rec.lsr*
	sed -n 's/.*work_ms \([0-9.]*\) cpu_ms \([0-9.]*\).*/\2 \1/p' <<<"$out" | head -1
}

declare -A cpu wall rcpu rwall
for r in $(seq "$rounds"); do
	line="round $r:"
	for shape in main workers; do
		read -r pc pw <<<"$(one "$shape" plain)"
		read -r fc fw <<<"$(one "$shape" "$mode")"
		cpu[$shape.plain]+="$pc " wall[$shape.plain]+="$pw "
		cpu[$shape.$mode]+="$fc " wall[$shape.$mode]+="$fw "
		rcpu[$shape]+="$(echo "scale=4; $fc / $pc" | bc) "
		rwall[$shape]+="$(echo "scale=4; $fw / $pw" | bc) "
		line+=" $shape plain ${pc}/${pw} $mode ${fc}/${fw} ms (cpu/wall)"
	done
	echo "$line"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "$ops operations, main thread or $threads workers, $rounds rounds: work phase, medians"
printf '  %-8s %12s %12s %10s %12s %12s %10s\n' shape "plain cpu" "$mode cpu" ratio "plain wall" "$mode wall" ratio
for shape in main workers; do
	# shellcheck disable=SC2086
	printf '  %-8s %10.1fms %10.1fms %9.2fx %10.1fms %10.1fms %9.2fx\n' "$shape" \
		"$(median ${cpu[$shape.plain]})" "$(median ${cpu[$shape.$mode]})" "$(median ${rcpu[$shape]})" \
		"$(median ${wall[$shape.plain]})" "$(median ${wall[$shape.$mode]})" "$(median ${rwall[$shape]})"
done
# shellcheck disable=SC2086
echo "  workers' CPU ratio / main's: $(echo "scale=3; $(median ${rcpu[workers]}) / $(median ${rcpu[main]})" | bc)"
