#!/usr/bin/env bash
# Benchmark: render ~250 MB of folded stacks (300,000 lines, 40,000 distinct stacks of depth
# 10-60) to an SVG with `loopscope flame --folded`. Prints the median wall time and peak RSS of
# RUNS runs, and the ratio to a plain read of the same file (cat > /dev/null) measured in the same
# interleaved runs, so a noisy machine shows up in both. Not a test: figures go to
# docs/performance.md.
#   bench/flame_render.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=${1:-build}
runs=${2:-5}
dir=$build/bench
mkdir -p "$dir"
input=$dir/big.folded
if [ ! -s "$input" ]; then
	cc -O2 -o "$dir/gen_folded" "$(dirname "$0")/gen_folded.c"
	"$dir/gen_folded" 300000 40000 >"$input"
fi
size=$(stat -c %s "$input")
lines=$(wc -l <"$input")
echo "input: $input, $((size / 1000000)) MB, $lines lines"

render=() base=() rss=()
for i in $(seq "$runs"); do
	# interleaved: the baseline read, then the render
	t0=$(date +%s.%N); cat "$input" >/dev/null; t1=$(date +%s.%N)
	base+=("$(echo "$t1 - $t0" | bc)")
	out=$(/usr/bin/time -f "%e %M" "$build/loopscope" flame --folded "$input" -o "$dir/big.svg" 2>&1 >/dev/null | tail -1)
	render+=("${out% *}")
	rss+=("${out#* }")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mr=$(median "${render[@]}") mb=$(median "${base[@]}") mm=$(median "${rss[@]}")
echo "render: median ${mr} s over $runs runs (runs: ${render[*]})"
echo "peak RSS: median $((mm / 1024)) MB"
echo "plain read of the input: median ${mb} s; render / read = $(echo "scale=1; $mr / $mb" | bc)x"
echo "svg: $(stat -c %s "$dir/big.svg") bytes, $(grep -c '<g class="f"' "$dir/big.svg") frames drawn"
