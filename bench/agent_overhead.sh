#!/usr/bin/env bash
# Benchmark: throughput of refloop's `healthy` scenario under wrk on loopback, without and with
# the agent (`loopscope run`, default settings), in interleaved rounds so that a noisy machine
# weighs on both alike. Prints each round and the medians and their ratio. Not a test: figures go
# to docs/performance.md. Bounded: ROUNDS x 2 runs of SECONDS of load on 127.0.0.1.
#   bench/agent_overhead.sh [BUILD_DIR] [ROUNDS] [SECONDS]
# SCENARIO_ARGS adds flags to the scenario, e.g. "--db-us 0" for a loop-bound variant; RUN_ARGS
# adds flags to `loopscope run`, e.g. "--heap full".
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
secs=${3:-5}
command -v wrk >/dev/null || { echo "agent_overhead: wrk is missing: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() { # $1: with|without; prints requests per second
	local port=$((20000 + RANDOM % 20000)) pid rps
	if [ "$1" = with ]; then
		"$build/loopscope" run -o "$tmp/rec.lsr" ${RUN_ARGS:-} -- "$build/examples/healthy" --duration 0 \
			--port "$port" --quiet 1 ${SCENARIO_ARGS:-} 2>/dev/null &
	else
		"$build/examples/healthy" --duration 0 --port "$port" --quiet 1 ${SCENARIO_ARGS:-} &
	fi
	pid=$!
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.05
	done
	rps=$(wrk -t1 -c8 -d"${secs}s" "http://127.0.0.1:$port/users" | awk '/Requests\/sec/ {print $2}')
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	echo "$rps"
}

without=() with=()
for r in $(seq "$rounds"); do
	a=$(one without)
	b=$(one with)
	without+=("$a")
	with+=("$b")
	echo "round $r: without ${a} req/s, with ${b} req/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${without[@]}") ma=$(median "${with[@]}")
echo "median without: $mw req/s; with the agent: $ma req/s; with/without = $(echo "scale=3; $ma / $mw" | bc)"
