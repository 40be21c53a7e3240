#!/usr/bin/env bash
# Benchmark: what the agent costs Node's start-up, and how often it names the right JS function
# (JS frames named from V8's own objects read from each frame: agent/node_frames.c,
# node_names.c, jsmap.c).
#  1. start-up: `node -e 0` and a fastify app that starts, serves one request and exits
#     (tests/agent/node_startup.js), plain and with the agent preloaded as `run` preloads it
#     (--heap sampled, CPU samples at 99 Hz, JS heap sampled; no flag added to node), in
#     interleaved rounds: the median of the per-round ratios of wall time.
#  2. a tally: RUNS runs of tests/agent/node_json.js under `loopscope run`; in each, the owner of
#     the report's top CPU stack and of its top busy stretch must be roundTrip (node_json.js:12).
# Not a test: figures go to docs/performance.md.
#   bench/js_names.sh [BUILD_DIR] [ROUNDS] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
rounds=${2:-11}
runs=${3:-10}
src=$(cd "$here/.." && pwd)
agent="$build/libloopscope_agent.so"
[ -f "$agent" ] && [ -x "$build/loopscope" ] || { echo "js_names: run make first" >&2; exit 1; }
"$src/tests/js/npm-deps.sh" "$build"
export NODE_PATH="$build/npm/node_modules"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

wall() { # wall seconds of a command
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo "scale=6; ($t1 - $t0) / 1000000000" | bc
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for what in "node -e 0" "node $src/tests/agent/node_startup.js"; do
	: >"$tmp/ratios"
	for r in $(seq "$rounds"); do
		# shellcheck disable=SC2086
		a=$(wall $what)
		# shellcheck disable=SC2086
		b=$(wall env LOOPSCOPE_OUTPUT="$tmp/s.lsr" LD_PRELOAD="$agent" $what)
		rm -f "$tmp/s.lsr"
		awk -v a="$a" -v b="$b" 'BEGIN {if (a > 0) printf "%.4f\n", b / a}' >>"$tmp/ratios"
		echo "start-up '$what' round $r: plain ${a}s agent ${b}s"
	done
	echo "start-up '$what': agent / plain, median of $rounds rounds: $(median <"$tmp/ratios")"
done

right=0
for r in $(seq "$runs"); do
	"$build/loopscope" run -o "$tmp/j.lsr" -- node "$src/tests/agent/node_json.js" "$tmp/j.json" \
		>/dev/null 2>&1
	"$build/loopscope" report --json "$tmp/j.lsr" >"$tmp/j.report.json"
	verdict=$(node -e '
		const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const ok = (s) => s && s.owner && s.owner.function === "roundTrip" &&
			/node_json\.js$/.test(s.owner.file || "") && s.owner.line === 12;
		const cpu = ok((r.cpu && r.cpu.top || [])[0]), busy = ok((r.busy_long && r.busy_long.top || [])[0]);
		console.log(cpu && busy ? "right" : "wrong cpu=" + cpu + " busy=" + busy);
	' "$tmp/j.report.json")
	echo "run $r: $verdict"
	[ "$verdict" = right ] && right=$((right + 1))
	rm -f "$tmp/j.lsr"
done
echo "roundTrip named with its script and line: $right of $runs runs"
