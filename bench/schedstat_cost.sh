#!/usr/bin/env bash
# Benchmark: what the agent's schedstat readings cost a Node server's throughput. From 2b31321
# to 567e08f the agent (agent/blocking.c) preads the loop thread's /proc/thread-self/schedstat
# before every timed call on a loop thread (the server's socket reads and writes included) and
# once more after a call over the threshold; since 567e08f, only after a call over the threshold
# and at the loop thread's SIGPROF ticks. This compares three configurations of the same app, in
# interleaved rounds (the order rotated from round to round, so a noisy machine weighs on all):
#   plain  node APP
#   prev   PREV_BUILD/loopscope run -- node APP   (a build of the commit before, without them)
#   head   BUILD/loopscope run -- node APP        (a build with them)
# APP is an express (or fastify) route that answers a small JSON body, on 127.0.0.1 only; each
# run gets a 1 s warm-up, then SECONDS of autocannon -c 8 on loopback, requests/s as autocannon's
# average over the seconds; and the loop thread's CPU time per request over the same load (its
# /proc/PID/task/PID/schedstat, ns on CPU, before and after, over autocannon's request count):
# what the loop spends per request, which bounds throughput once the loop is saturated, and
# which holds better than requests/s on a shared machine. Prints each round, the median of each
# figure by configuration, and the medians (min-max) of the per-round ratios head/prev,
# prev/plain, head/plain. Then, with perf (PERF=0 skips it), one more head run under `perf
# record -F 4999 -g`: the share of the loop thread's CPU samples spent under the agent's schedstat
# pread (libc's syscall() called from an interposed read, write, writev..., or from the agent's
# reading after a long call or at a SIGPROF tick, and what it calls in the kernel), a direct
# figure that the machine's noise hardly moves (perf's own sampling slows the process: quote the
# share; the microseconds per request are the samples' time over the requests). Not a test:
# figures go to docs/performance.md. Bounded: ROUNDS x 3 (+1) runs of 1 + SECONDS s of load on
# 127.0.0.1, plus start-up.
#   bench/schedstat_cost.sh PREV_BUILD [BUILD_DIR] [ROUNDS] [SECONDS] [express|fastify]
# Build both trees apart, so that only the one commit differs, e.g. `git worktree add /tmp/prev
# 2b31321~1 && make -C /tmp/prev build BUILD=/tmp/prev/build`, the same for 2b31321 in /tmp/head.
# NODE_PATH must reach express (or fastify), e.g. BUILD/npm/node_modules (tests/js/npm-deps.sh);
# AUTOCANNON names the load generator (default: autocannon on PATH).
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,30p' "$0" >&2; exit 2; }
prev=$(cd "$1" && pwd)
build=$(cd "${2:-build}" && pwd)
rounds=${3:-7}
secs=${4:-5}
app=${5:-express}
ac=${AUTOCANNON:-autocannon}
for b in "$prev" "$build"; do
	if ! [ -x "$b/loopscope" ] || ! [ -f "$b/libloopscope_agent.so" ]; then
		echo "schedstat_cost: no loopscope in $b: build it first" >&2
		exit 1
	fi
done
command -v "$ac" >/dev/null || { echo "schedstat_cost: set AUTOCANNON" >&2; exit 1; }
case $app in express | fastify) ;; *) echo "schedstat_cost: express or fastify" >&2; exit 2 ;; esac
node -e "require('$app')" 2>/dev/null || { echo "schedstat_cost: no $app: set NODE_PATH" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The app writes its port to the file named by its first argument; SIGTERM ends it.
cat >"$tmp/express.js" <<'EOF'
const express = require('express');
const app = express();
app.get('/', (req, res) => res.json({ ok: true, n: 42, name: 'loopscope' }));
const server = app.listen(0, '127.0.0.1', () =>
	require('fs').writeFileSync(process.argv[2], String(server.address().port)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
EOF
cat >"$tmp/fastify.js" <<'EOF'
const fastify = require('fastify')();
fastify.get('/', async () => ({ ok: true, n: 42, name: 'loopscope' }));
fastify.listen({ port: 0, host: '127.0.0.1' }).then(() =>
	require('fs').writeFileSync(process.argv[2], String(fastify.server.address().port)));
process.on('SIGTERM', () => fastify.close().then(() => process.exit(0)));
EOF
# autocannon -j's requests: the average per second and the total
cat >"$tmp/rps.js" <<'EOF'
let s = '';
process.stdin.on('data', (d) => (s += d)).on('end', () => {
	const r = JSON.parse(s).requests;
	console.log(r.average, r.total);
});
EOF

one() { # $1: plain|prev|head|perf; prints req/s, the loop thread's CPU us per request, requests
	local pid port rps total node cpu0 cpu1 rec=
	rm -f "$tmp/port"
	case $1 in
	plain) node "$tmp/$app.js" "$tmp/port" & ;;
	prev) "$prev/loopscope" run -o "$tmp/r.lsr" -- node "$tmp/$app.js" "$tmp/port" 2>/dev/null & ;;
	*) "$build/loopscope" run -o "$tmp/r.lsr" -- node "$tmp/$app.js" "$tmp/port" 2>/dev/null & ;;
	esac
	pid=$!
	for _ in $(seq 200); do
		[ -s "$tmp/port" ] && break
		sleep 0.05
	done
	port=$(cat "$tmp/port")
	node=$pid
	[ "$1" = plain ] || node=$(pgrep -P "$pid" -x node | head -1)
	"$ac" -c 8 -d 1 "http://127.0.0.1:$port/" >/dev/null 2>&1 # warm-up: the JIT, the connections
	if [ "$1" = perf ]; then
		perf record -q -F 4999 -g -p "$node" -o "$tmp/perf.data" -- sleep "$secs" >/dev/null 2>&1 &
		rec=$!
	fi
	cpu0=$(cut -d' ' -f1 "/proc/$node/task/$node/schedstat")
	read -r rps total < <("$ac" -j -c 8 -d "$secs" "http://127.0.0.1:$port/" 2>/dev/null |
		node "$tmp/rps.js")
	cpu1=$(cut -d' ' -f1 "/proc/$node/task/$node/schedstat")
	if [ -n "$rec" ]; then
		wait "$rec" || true
		perf script -i "$tmp/perf.data" --tid "$node" -F ip,sym >"$tmp/perf.txt" 2>/dev/null || true
	fi
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	rm -f "$tmp/r.lsr"
	echo "$rps $(echo "$cpu0 $cpu1 $total" | awk '{printf "%.2f", ($2 - $1) / $3 / 1000}') $total"
}

median() {
	sort -g | awk '{a[NR] = $1}
		END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
range() { sort -g "$1" | awk 'NR == 1 {a = $1} {b = $1} END {printf "%s-%s", a, b}'; }
ratio() { echo "$1 $2" | awk '{printf "%.4f\n", $1 / $2}'; }

confs=(plain prev head)
pairs=(head_prev prev_plain head_plain)
for f in "${confs[@]}" "${pairs[@]}"; do touch "$tmp/$f.rps" "$tmp/$f.us"; done
echo "$app, $rounds rounds of ${secs} s, autocannon -c 8 on 127.0.0.1; prev=$prev head=$build"
for r in $(seq "$rounds"); do
	declare -A rps=() us=()
	for k in 0 1 2; do
		c=${confs[$(((r + k) % 3))]}
		read -r "rps[$c]" "us[$c]" _ < <(one "$c")
	done
	echo "round $r: req/s plain ${rps[plain]} prev ${rps[prev]} head ${rps[head]};" \
		"loop CPU us/request plain ${us[plain]} prev ${us[prev]} head ${us[head]}"
	for c in "${confs[@]}"; do
		echo "${rps[$c]}" >>"$tmp/$c.rps"
		echo "${us[$c]}" >>"$tmp/$c.us"
	done
	for q in "${pairs[@]}"; do
		a=${q%_*} b=${q#*_}
		ratio "${rps[$a]}" "${rps[$b]}" >>"$tmp/$q.rps"
		ratio "${us[$a]}" "${us[$b]}" >>"$tmp/$q.us"
	done
	unset rps us
done
echo "median req/s: plain $(median <"$tmp/plain.rps") prev $(median <"$tmp/prev.rps")" \
	"head $(median <"$tmp/head.rps")"
echo "median loop CPU us/request: plain $(median <"$tmp/plain.us") prev $(median <"$tmp/prev.us")" \
	"head $(median <"$tmp/head.us")"
for q in "${pairs[@]}"; do
	echo "median per-round ${q/_//}: req/s $(median <"$tmp/$q.rps") ($(range "$tmp/$q.rps"))," \
		"loop CPU per request $(median <"$tmp/$q.us") ($(range "$tmp/$q.us"))"
done

[ "${PERF:-1}" != 0 ] && command -v perf >/dev/null || exit 0
read -r _ _ total < <(one perf)
# A sample is the agent's reading when libc's syscall() sits right under an interposed call (the
# pread before each call, 2b31321: the agent makes no other syscall() there, and node reaches
# these calls through the agent's symbols) or under the agent's own reading functions (since
# 567e08f: after a long call, and at the loop thread's SIGPROF ticks).
calls='read|write|writev|readv|pread|pread64|preadv|preadv64|pwrite|pwrite64|open|open64|openat'
calls+='|openat64|stat|lstat|fstat|statx|__xstat|__xstat64|__lxstat|__lxstat64|__fxstat|__fxstat64'
calls+='|fsync|fdatasync|nanosleep|clock_nanosleep|usleep|sleep|getaddrinfo|connect|flock|fcntl'
calls+='|fcntl64|waitpid|system|sched_read|lsc__sched_refresh|sched_measure|blocking_event'
awk -v total="$total" -v calls="$calls" '
	BEGIN {RS = ""; re = "[0-9a-f]+ syscall\n[ \t]+[0-9a-f]+ (" calls ")\n"}
	{n++}
	$0 ~ re {p++}
	END {
		printf "perf, head, %d requests: %d of the loop thread'"'"'s %d samples", total, p, n
		printf " under the schedstat pread (%.2f%%), %.2f us per request at 4999 Hz\n",
			100 * p / n, p / 4999 * 1e6 / total
	}' "$tmp/perf.txt"
