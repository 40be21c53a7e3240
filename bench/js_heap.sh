#!/usr/bin/env bash
# Benchmark: what Node.js's JS heap sites cost (agent/node_heap.c: V8's sampling heap profiler,
# started by the agent, read now and then on the loop thread at a poll), by sampling interval.
#  1. throughput: bench/js_heap_app.js, an express route that builds 300 orders per request
#     (about 770 KB of JS allocation, a 28 KB JSON answer), REQUESTS requests from a client in
#     the same process over 127.0.0.1, then exit. Each round runs plain node, then `loopscope
#     run --js-heap-interval I` for I = 0 (no JS heap sites), 32768, 131072 (the default),
#     262144 and 524288, in an order rotated from round to round. Two figures per run: the
#     command's wall time (start-up and run's finalize step included) and the app's own time for
#     the load. Prints the median of the per-round ratios to the same round's
#     `--js-heap-interval 0`, and of run's default to plain node.
#  2. the loop's reading: the recording's footer counts the readings and the loop thread's time
#     in them (js_heap_readings, js_heap_read_ns); used when `loopscope report --json` shows
#     them. Otherwise, with perf: CPU samples at 10 kHz with frame-pointer call chains (node and
#     the agent keep frame pointers), the node main thread's samples under
#     lsc__node_heap_poll (the readings, and the cheap check at the polls in between) over all its
#     samples, and that time divided by the readings (`loopscope heap --json`: js.snapshots).
#     perf's own sampling slows the process (by a sixth here): the share holds, the microseconds
#     are an upper bound.
# Not a test: figures go to docs/performance.md.
#   bench/js_heap.sh [BUILD_DIR] [ROUNDS] [REQUESTS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
rounds=${2:-7}
requests=${3:-3000}
src=$(cd "$here/.." && pwd)
[ -f "$build/libloopscope_agent.so" ] && [ -x "$build/loopscope" ] ||
	{ echo "js_heap: run make first" >&2; exit 1; }
"$src/tests/js/npm-deps.sh" "$build"
export NODE_PATH="$build/npm/node_modules"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
app="$here/js_heap_app.js"
confs=(plain 0 32768 131072 262144 524288)

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

one() { # $1: plain or an interval; prints "wall_ms load_ms"
	local t0 t1 out
	t0=$(date +%s%N)
	if [ "$1" = plain ]; then
		out=$(node "$app" "$requests" 2>/dev/null)
	else
		out=$("$build/loopscope" run --js-heap-interval "$1" -o "$tmp/r.lsr" -- \
			node "$app" "$requests" 2>/dev/null)
	fi
	t1=$(date +%s%N)
	rm -f "$tmp/r.lsr"
	echo "$(((t1 - t0) / 1000000)) $(echo "$out" | sed -n 's/.*"ms":\([0-9]*\).*/\1/p')"
}

one plain >/dev/null # warm-up: the page cache, node's code cache
for r in $(seq "$rounds"); do
	n=${#confs[@]}
	for k in $(seq 0 $((n - 1))); do
		c=${confs[$(((r + k) % n))]}
		read -r wall load < <(one "$c")
		echo "$wall $load" >"$tmp/$c"
	done
	line="round $r:"
	for c in "${confs[@]}"; do
		read -r wall load <"$tmp/$c"
		line="$line $c ${wall}ms/${load}ms"
	done
	echo "$line (command wall / the app's load)"
	read -r w0 l0 <"$tmp/0"
	read -r wp lp <"$tmp/plain"
	for c in 32768 131072 262144 524288; do
		read -r wall load <"$tmp/$c"
		awk -v a="$wall" -v b="$w0" 'BEGIN {printf "%.4f\n", a / b}' >>"$tmp/wall.$c"
		awk -v a="$load" -v b="$l0" 'BEGIN {printf "%.4f\n", a / b}' >>"$tmp/load.$c"
	done
	read -r wall load <"$tmp/131072"
	awk -v a="$wall" -v b="$wp" 'BEGIN {printf "%.4f\n", a / b}' >>"$tmp/wall.plain"
	awk -v a="$load" -v b="$lp" 'BEGIN {printf "%.4f\n", a / b}' >>"$tmp/load.plain"
done
for c in 32768 131072 262144 524288; do
	echo "--js-heap-interval $c / 0, median of $rounds rounds: wall $(median <"$tmp/wall.$c")," \
		"load $(median <"$tmp/load.$c")"
done
echo "run (default) / plain node, median of $rounds rounds: wall $(median <"$tmp/wall.plain")," \
	"load $(median <"$tmp/load.plain")"

# 2. the loop's reading, one run per interval
for c in 32768 131072 262144 524288; do
	"$build/loopscope" run --js-heap-interval "$c" -o "$tmp/c.lsr" -- \
		node "$app" "$requests" >/dev/null 2>&1
	"$build/loopscope" report --json "$tmp/c.lsr" >"$tmp/report.json"
	from_footer=$(node -e '
		const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		let n, ns; // wherever the report puts them
		(function find(o) {
			if (!o || typeof o !== "object") return;
			if ("js_heap_readings" in o) n = o.js_heap_readings;
			if ("js_heap_read_ns" in o) ns = o.js_heap_read_ns;
			Object.values(o).forEach(find);
		})(r);
		if (n > 0 && ns >= 0)
			console.log(`${n} readings, ${(ns / n / 1e3).toFixed(0)} us each, ` +
				`${(100 * ns / r.run.duration_ns).toFixed(3)} % of the run`);
	' "$tmp/report.json")
	if [ -n "$from_footer" ]; then
		echo "--js-heap-interval $c: the loop's reading (footer): $from_footer"
		continue
	fi
	if ! command -v perf >/dev/null; then
		echo "--js-heap-interval $c: the reading's counters are not in report --json, and perf is missing"
		continue
	fi
	perf record -q -F 10000 --call-graph fp -o "$tmp/perf.data" -- \
		"$build/loopscope" run --js-heap-interval "$c" -o "$tmp/p.lsr" -- \
		node "$app" "$requests" >/dev/null 2>&1
	pid=$("$build/loopscope" report --json "$tmp/p.lsr" | node -e '
		let s = ""; process.stdin.on("data", (d) => (s += d));
		process.stdin.on("end", () => console.log(JSON.parse(s).run.pid));')
	readings=$("$build/loopscope" heap --json "$tmp/p.lsr" | node -e '
		let s = ""; process.stdin.on("data", (d) => (s += d));
		process.stdin.on("end", () => console.log(JSON.parse(s).js.snapshots));')
	perf script -i "$tmp/perf.data" -F tid,ip,sym 2>/dev/null |
		awk -v main="$pid" -v readings="$readings" -v c="$c" 'BEGIN {RS = ""}
			{split($0, l, "\n"); split(l[1], h, " "); if (h[1] != main) next; n++}
			/lsc__node_heap_poll/ {p++}
			END {printf "--js-heap-interval %s: the loop'\''s reading (perf, 10 kHz): %d of the" \
				" main thread'\''s %d samples (%.3f %%), %d readings, %.0f us each\n", c, p, n,
				100 * p / n, readings, p * 100 / readings}'
	rm -f "$tmp/perf.data" "$tmp/p.lsr"
done
