#!/usr/bin/env bash
# Tally, not a timing: RUNS runs of tests/agent/node_sync_read.js (an HTTP handler that reads a
# 16 MiB file with fs.readFileSync, driven by a client process for SECONDS) under `loopscope run`.
# In each, the report's blocking-calls finding must name handleVideo with its script and line, and
# a failing gate check on blocking time must name it too. Not a test (10 runs take a minute or
# two): the figure goes to docs/performance.md.
#   bench/sync_read_tally.sh [BUILD_DIR] [RUNS] [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
secs=${3:-3}
src=$(cd "$here/.." && pwd)
[ -x "$build/loopscope" ] || { echo "sync_read_tally: run make first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'blocking.total <= 10ms\n' >"$tmp/budget"
right=0
for r in $(seq "$runs"); do
	"$build/loopscope" run -o "$tmp/s.lsr" -- node "$src/tests/agent/node_sync_read.js" \
		"$tmp/big.bin" "$secs" "$tmp/s.json" >/dev/null 2>&1
	"$build/loopscope" report --json "$tmp/s.lsr" >"$tmp/s.report.json"
	finding=$(node -e '
		const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const f = (r.diagnosis || []).find((d) => d.id === "blocking-calls");
		const ok = f && f.frame && f.frame.function === "handleVideo" &&
			/node_sync_read\.js$/.test(f.frame.file || "") && f.frame.line > 0;
		console.log(ok ? "named" : "not named: " + JSON.stringify(f ? f.frame : null));
	' "$tmp/s.report.json")
	gate=$("$build/loopscope" gate "$tmp/s.lsr" --budget "$tmp/budget" 2>&1 || true)
	case "$gate" in
	*"FAIL"*"handleVideo (node_sync_read.js:"*) g=named ;;
	*) g="not named: $gate" ;;
	esac
	echo "run $r: finding $finding; gate $g"
	[ "$finding" = named ] && [ "$g" = named ] && right=$((right + 1))
	rm -f "$tmp/s.lsr"
done
echo "the readFileSync handler named by the blocking finding and the gate: $right of $runs runs"
