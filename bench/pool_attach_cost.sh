#!/usr/bin/env bash
# Benchmark: what attach's thread-pool probes cost a job (bpf/pool.bpf.h). A Node app submits
# JOBS tiny jobs back to back (bench/pool_attach_app.js: fs.stat through uv__work_submit, and
# crypto.pbkdf2 of one iteration through uv_queue_work; 8 chains, UV_THREADPOOL_SIZE=4) under
# three conditions in interleaved rounds: no attach; attach without the submission probes
# (LOOPSCOPE_TEST_NO_POOL_PROBES=1: the syscall tracepoints and the queue walk only); attach as
# it runs. Prints each round's wall time for the jobs and the process's CPU time (all threads),
# the medians, the ratios to no attach and the probes' cost per job (the difference of the
# medians over JOBS). Needs root. Not a test: figures go to docs/performance.md.
#   bench/pool_attach_cost.sh [BUILD_DIR] [ROUNDS] [JOBS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
rounds=${2:-7}
jobs=${3:-200000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export UV_THREADPOOL_SIZE=4

one() { # $1 kind, $2 none|noprobes|probes: prints the jobs' wall and CPU time in ms
	local pid apid="" ms
	: >"$tmp/app.out" # before node starts: a stale "ready" would be read too early
	node "$here/pool_attach_app.js" "$1" "$jobs" 8 >>"$tmp/app.out" &
	pid=$!
	for _ in $(seq 100); do grep -q ready "$tmp/app.out" && break; sleep 0.05; done
	if [ "$2" != none ]; then
		: >"$tmp/attach.log"
		if [ "$2" = noprobes ]; then
			LOOPSCOPE_TEST_NO_POOL_PROBES=1 "$build/loopscope" attach -p "$pid" \
				-o "$tmp/rec.lsr" 2>"$tmp/attach.log" &
		else
			"$build/loopscope" attach -p "$pid" -o "$tmp/rec.lsr" 2>"$tmp/attach.log" &
		fi
		apid=$!
		for _ in $(seq 200); do grep -q "attached to PID" "$tmp/attach.log" && break; sleep 0.05; done
	fi
	kill -USR2 "$pid"
	wait "$pid"
	ms=$(tail -1 "$tmp/app.out")
	[ -n "$apid" ] && { wait "$apid" 2>/dev/null || true; rm -f "$tmp/rec.lsr"; }
	echo "$ms"
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for kind in stat pbkdf2; do
	for c in none noprobes probes; do : >"$tmp/$c"; done
	for r in $(seq "$rounds"); do
		for c in none noprobes probes; do one "$kind" "$c" >>"$tmp/$c"; done
		echo "$kind round $r (wall, CPU ms): none $(tail -1 "$tmp/none"), attach without probes $(tail -1 "$tmp/noprobes"), attach $(tail -1 "$tmp/probes")"
	done
	for f in 1 2; do
		n=$(cut -d' ' -f$f "$tmp/none" | median)
		q=$(cut -d' ' -f$f "$tmp/noprobes" | median)
		p=$(cut -d' ' -f$f "$tmp/probes" | median)
		awk -v n="$n" -v q="$q" -v p="$p" -v j="$jobs" -v k="$kind" -v f="$f" 'BEGIN {
			printf "%s %s: medians none %.0f ms, attach without probes %.0f ms (%.3f), attach %.0f ms (%.3f); the probes %.2f us a job\n",
				k, f == 1 ? "wall" : "CPU", n, q, q / n, p, p / n, (p - q) * 1000 / j }'
	done
done
