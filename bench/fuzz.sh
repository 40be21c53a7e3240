#!/usr/bin/env bash
# Long fuzzing runs of the libFuzzer targets in tests/fuzz (built by `make build` in
# build/fuzz), resumable: each target's corpus grows in WORK/<target> across runs and sessions,
# each run's output stays in WORK/logs/<target>-<time>.log, and `total` adds up the executions
# of every run (its final stats, or the last progress line of a run cut short), the figure
# docs/fuzzing.md records. The checked-in corpus (tests/fuzz/corpus/<target>) is read, never written, except
# by `merge`.
#
#   bench/fuzz.sh run [-t SECONDS] [-n RUNS] [TARGET...]   fuzz each target in turn (default:
#                                                         all, 600 s each), niced
#   bench/fuzz.sh total [TARGET...]                       executions so far, per target
#   bench/fuzz.sh merge [-m BYTES] [TARGET...]            add to the checked-in corpus the
#                                                         inputs of WORK/<target> (at most
#                                                         BYTES long, default 2048) that add
#                                                         coverage (libFuzzer -merge=1)
#
# BUILD (default build) and WORK (default $BUILD/fuzz/work) come from the environment. A crash
# stops that target's run and leaves its input as WORK/<target>.crash-*: fix it, add the input
# to the corpus (it is then a regression case of the ctest smoke), run again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
work=${WORK:-$build/fuzz/work}
cmd=${1:-run}
shift || true
secs=600 runs=-1 maxbytes=2048
while getopts "t:n:m:" o; do
	case $o in
	t) secs=$OPTARG ;;
	n) runs=$OPTARG ;;
	m) maxbytes=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in "$root"/tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		targets+=("${f%.c}")
	done
fi
mkdir -p "$work/logs"

# The executions of one run: libFuzzer's final stats, or the last "#N" progress line.
executions() {
	local n
	n=$(awk '/^stat::number_of_executed_units:/ { n = $2 } END { print n }' "$1")
	[ -n "$n" ] || n=$(awk '/^#[0-9]+\t/ { n = substr($1, 2) } END { print n + 0 }' "$1")
	echo "$n"
}

total() {
	local t=$1 sum=0 f
	for f in "$work/logs/$t"-*.log; do
		[ -e "$f" ] && sum=$((sum + $(executions "$f")))
	done
	echo "$sum"
}

for t in "${targets[@]}"; do
	bin=$build/fuzz/fuzz_$t
	seeds=$root/tests/fuzz/corpus/$t
	[ -x "$bin" ] || { echo "fuzz: no $bin; run 'make build' first" >&2; exit 1; }
	case $cmd in
	run)
		mkdir -p "$work/$t"
		log=$work/logs/$t-$(date -u +%Y%m%dT%H%M%S).log
		# libFuzzer writes new inputs to the first directory only
		rc=0
		nice -n 19 "$bin" -max_total_time="$secs" -runs="$runs" -timeout=20 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$t." \
			"$work/$t" "$seeds" >"$log" 2>&1 || rc=$?
		echo "fuzz_$t: $(executions "$log") executions this run, $(total "$t") in all, exit $rc"
		if [ "$rc" != 0 ]; then
			grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error)" "$log" | head -5 >&2
			exit 1
		fi
		;;
	total)
		echo "fuzz_$t: $(total "$t") executions"
		;;
	merge)
		# Into the checked-in corpus: only inputs that add coverage are copied, and none
		# is removed (the named seeds and regression inputs stay). Short inputs only, and
		# only for new edges (-use_counters=0: not for new hit counts of known ones), so
		# that the corpus stays small and the ctest smoke fast.
		small=$(mktemp -d)
		find "$work/$t" -type f -size -$((maxbytes + 1))c -exec cp {} "$small" \;
		"$bin" -merge=1 -use_counters=0 -timeout=20 -rss_limit_mb=2048 "$seeds" "$small" \
			>"$work/logs/$t.merge" 2>&1
		rm -rf "$small"
		echo "fuzz_$t: $(ls "$seeds" | wc -l) inputs, $(cat "$seeds"/* | wc -c) bytes"
		;;
	*)
		echo "usage: bench/fuzz.sh run|total|merge [-t SECONDS] [-n RUNS] [-m BYTES] [TARGET...]" >&2
		exit 2
		;;
	esac
done
