#!/usr/bin/env bash
# Benchmark: throughput of a server under wrk on loopback, without and with `loopscope attach`
# (default probes, 99 Hz CPU samples) attached for the whole wrk run, in interleaved rounds.
# Prints each round, the medians and their ratio, and the median of the rounds' ratios. Not a
# test: figures go to docs/performance.md. Needs root (eBPF). Bounded: ROUNDS x 2 runs of SECONDS
# on 127.0.0.1.
#   bench/attach_overhead.sh [BUILD_DIR] [ROUNDS] [SECONDS]
# TARGET=healthy (default): refloop's `healthy` scenario, GET /users; SCENARIO_ARGS adds flags to
# it, e.g. "--db-us 0" for a loop-bound variant. TARGET=node: bench/attach_http.js, a plain
# node:http server (GET /, a small JSON body), loop-bound. ATTACH_ARGS adds flags to attach.
# EXPORTER=1: `loopscope exporter -p PID` watches the server instead of attach (no recording,
# no CPU samples: docs/exporter.md). BASE=attach: the "without" runs are attached to as well,
# with LOOPSCOPE_NO_HANDLE_SITES=1 (no uprobes at libuv's uv_*_init): what those probes add.
# CLOSE=1: every request on a new connection (wrk -H 'Connection: close'), so a uv_tcp_init
# each.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
route=/users
[ "${TARGET:-healthy}" = node ] && route=/
rounds=${2:-5}
secs=${3:-5}
command -v wrk >/dev/null || { echo "attach_overhead: wrk is missing: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() { # $1: with|without; prints requests per second
	local port=$((20000 + RANDOM % 20000)) pid apid="" rps
	if [ "${TARGET:-healthy}" = node ]; then
		node "$here/attach_http.js" "$port" &
	else
		"$build/examples/healthy" --duration 0 --port "$port" --quiet 1 ${SCENARIO_ARGS:-} &
	fi
	pid=$!
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.05
	done
	if [ "$1" = with ] && [ -n "${EXPORTER:-}" ]; then
		"$build/loopscope" exporter -p "$pid" --listen "127.0.0.1:$((port + 1))" ${EXPORTER_ARGS:-} \
			2>"$tmp/attach.log" &
		apid=$!
		for _ in $(seq 200); do
			grep -q "watching PID" "$tmp/attach.log" 2>/dev/null && break
			sleep 0.05
		done
	elif [ "$1" = with ] || [ "${BASE:-}" = attach ]; then
		if [ "$1" = with ]; then
			"$build/loopscope" attach -p "$pid" -o "$tmp/rec.lsr" ${ATTACH_ARGS:-} 2>"$tmp/attach.log" &
		else
			LOOPSCOPE_NO_HANDLE_SITES=1 "$build/loopscope" attach -p "$pid" -o "$tmp/rec.lsr" \
				${ATTACH_ARGS:-} 2>"$tmp/attach.log" &
		fi
		apid=$!
		for _ in $(seq 200); do
			grep -q "attached to PID" "$tmp/attach.log" 2>/dev/null && break
			sleep 0.05
		done
	fi
	local close=()
	[ -n "${CLOSE:-}" ] && close=(-H 'Connection: close')
	rps=$(wrk -t1 -c8 -d"${secs}s" "${close[@]}" "http://127.0.0.1:$port$route" |
		awk '/Requests\/sec/ {print $2}')
	[ -n "$apid" ] && { kill -INT "$apid"; wait "$apid" 2>/dev/null || true; }
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
ratios=()
for i in "${!with[@]}"; do
	ratios+=("$(echo "scale=4; ${with[$i]} / ${without[$i]}" | bc)")
done
echo "median without: $mw req/s; with attach: $ma req/s; with/without = $(echo "scale=3; $ma / $mw" | bc)"
echo "rounds' ratios: ${ratios[*]}; their median $(median "${ratios[@]}")"
