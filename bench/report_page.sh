#!/usr/bin/env bash
# Benchmark, not a test: `loopscope report REC -o page.html` on a long recording: its size and
# the time to build it (the median of RUNS). The recording: refloop's sync-read scenario under
# its own loopback load for SECONDS (default 600, the issue's ten minutes) with `loopscope run`.
# Figures: docs/performance.md.
#   bench/report_page.sh [BUILD_DIR] [SECONDS] [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
secs=${2:-600}
runs=${3:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/loopscope" run -o "$tmp/long.lsr" -- "$build/examples/sync-read" --duration "$secs" \
	--self-load 2 --quiet 1 2>/dev/null
echo "recording: $secs s, $(stat -c %s "$tmp/long.lsr") bytes"
for _ in $(seq "$runs"); do
	s=$(date +%s%N)
	"$build/loopscope" report "$tmp/long.lsr" -o "$tmp/page.html"
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
done | sort -n | awk -v n="$runs" '{ t[NR] = $1 } END { printf "build: median %d ms (min %d, max %d) over %d runs\n", t[int((n + 1) / 2)], t[1], t[n], n }'
echo "page: $(stat -c %s "$tmp/page.html") bytes"
