#!/usr/bin/env bash
# Benchmark, not a test: Node's start-up under the agent by part. A fastify app that starts,
# serves one request and exits (tests/agent/node_startup.js), with the whole agent and with one
# part of it turned off at a time, each against plain node in PAIRS interleaved pairs
# (farm-bench); prints the median wall and CPU ratios. Figures: docs/performance.md.
#   bench/startup_parts.sh [BUILD_DIR] [PAIRS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
pairs=${2:-21}
command -v farm-bench >/dev/null || { echo "startup_parts: farm-bench is missing" >&2; exit 1; }
export NODE_PATH="$build/npm/node_modules"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
app="node $here/tests/agent/node_startup.js"
for v in "" "LOOPSCOPE_HEAP=off" "LOOPSCOPE_SAMPLE_INTERVAL=1099511627776" \
	"LOOPSCOPE_JS_HEAP_INTERVAL=0" "LOOPSCOPE_CPU_HZ=0" \
	"LOOPSCOPE_HEAP=off LOOPSCOPE_JS_HEAP_INTERVAL=0 LOOPSCOPE_CPU_HZ=0"; do
	# shellcheck disable=SC2086
	r=$(farm-bench -n "$pairs" --vs "$app" -- env $v LOOPSCOPE_OUTPUT="$tmp/s.lsr" \
		LD_PRELOAD="$build/libloopscope_agent.so" $app 2>&1 |
		awk '/A\/B (wall|cpu)/ {printf "%s %s  ", $2, $4}')
	echo "${v:-the whole agent}: $r"
done
