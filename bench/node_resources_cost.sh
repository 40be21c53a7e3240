#!/usr/bin/env bash
# Benchmark: what Node's resources reading costs the main thread under `loopscope run`, on an
# express or fastify route under load. Once a window, at a poll, the agent runs a small script
# in the app's context (agent/node_resources.c): process.getActiveResourcesInfo() by type, and
# each socket's writableLength (process._getActiveHandles()), for the resources, shutdown-hang
# and backpressure-ignored findings. Its cost grows with the resources alive (one string per
# resource, one handle per socket): so the load keeps CONNS keep-alive connections open, each a
# TCPSocketWrap and a socket to read. The agent times each reading on the main thread and the
# footer keeps the count and the sum (node_resources_readings, node_resources_read_ns); this
# script reads them from `report --json`, with the run's length and the loop thread's CPU time
# over the run (its /proc schedstat), and prints per round: the readings, the time of one, and
# their share of the loop's CPU and of the run; then the medians over the rounds. A direct
# figure: the reading's own time, not a with/without difference the machine's noise would hide.
# Not a test: figures go to docs/performance.md. Bounded: ROUNDS runs per app of SECONDS of
# autocannon on 127.0.0.1.
#   bench/node_resources_cost.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNS] [express|fastify|both]
# NODE_PATH must reach express and fastify (BUILD/npm/node_modules, tests/js/npm-deps.sh);
# AUTOCANNON names the load generator (default: autocannon on PATH).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
secs=${3:-5}
conns=${4:-64}
which=${5:-both}
ac=${AUTOCANNON:-autocannon}
[ -x "$build/loopscope" ] || { echo "node_resources_cost: no loopscope in $build: build it first" >&2; exit 1; }
command -v "$ac" >/dev/null || { echo "node_resources_cost: set AUTOCANNON" >&2; exit 1; }
case $which in express | fastify) apps=("$which") ;; both) apps=(express fastify) ;;
*) echo "node_resources_cost: express, fastify or both" >&2; exit 2 ;; esac
for app in "${apps[@]}"; do
	node -e "require('$app')" 2>/dev/null || { echo "node_resources_cost: no $app: set NODE_PATH" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The app writes its port to the file named by its first argument; SIGTERM ends it.
cat >"$tmp/express.js" <<'EOF'
const express = require('express');
const app = express();
app.get('/', (req, res) => res.json({ ok: true, n: 42, name: 'loopscope' }));
const server = app.listen(0, '127.0.0.1', () =>
	require('fs').writeFileSync(process.argv[2], String(server.address().port)));
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
EOF
cat >"$tmp/fastify.js" <<'EOF'
const fastify = require('fastify')({ forceCloseConnections: true });
fastify.get('/', async () => ({ ok: true, n: 42, name: 'loopscope' }));
fastify.listen({ port: 0, host: '127.0.0.1' }).then(() =>
	require('fs').writeFileSync(process.argv[2], String(fastify.server.address().port)));
process.on('SIGTERM', () => fastify.close().then(() => process.exit(0)));
EOF
# the footer's counters and the run's length from report --json: readings, ns, run ns
cat >"$tmp/counters.js" <<'EOF'
const r = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
let c;
(function find(o) {
	if (!o || typeof o !== 'object' || c) return;
	if (o.counters && 'node_resources_readings' in o.counters) { c = o; return; }
	Object.values(o).forEach(find);
})(r);
if (!c) { console.log('0 0 0'); process.exit(0); }
console.log(c.counters.node_resources_readings, c.counters.node_resources_read_ns, c.duration_ns);
EOF

one() { # $1: app; prints readings, us per reading, % of the loop's CPU, % of the run, requests
	local pid port node cpu0 cpu1 total n ns dur
	rm -f "$tmp/port" "$tmp/r.lsr"
	"$build/loopscope" run -o "$tmp/r.lsr" -- node "$tmp/$1.js" "$tmp/port" 2>/dev/null &
	pid=$!
	for _ in $(seq 200); do
		[ -s "$tmp/port" ] && break
		sleep 0.05
	done
	port=$(cat "$tmp/port")
	node=$(pgrep -P "$pid" -x node | head -1)
	cpu0=$(cut -d' ' -f1 "/proc/$node/task/$node/schedstat")
	total=$("$ac" -j -c "$conns" -d "$secs" "http://127.0.0.1:$port/" 2>/dev/null |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).requests.total))')
	cpu1=$(cut -d' ' -f1 "/proc/$node/task/$node/schedstat")
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	"$build/loopscope" report --json "$tmp/r.lsr" >"$tmp/r.json"
	read -r n ns dur < <(node "$tmp/counters.js" "$tmp/r.json")
	echo "$n $ns $dur $cpu0 $cpu1 $total" | awk '{
		printf "%d %.0f %.4f %.4f %d\n", $1, $1 ? $2 / $1 / 1000 : 0,
			100 * $2 / ($5 - $4), 100 * $2 / $3, $6}'
}

median() {
	sort -g | awk '{a[NR] = $1}
		END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

echo "$rounds rounds of ${secs} s, autocannon -c $conns on 127.0.0.1, under $build/loopscope run"
for app in "${apps[@]}"; do
	: >"$tmp/us" && : >"$tmp/cpu" && : >"$tmp/run"
	for r in $(seq "$rounds"); do
		read -r n us cpu run req < <(one "$app")
		echo "$app round $r: $n readings, $us us each, $cpu % of the loop's CPU, $run % of the run ($req requests)"
		echo "$us" >>"$tmp/us"
		echo "$cpu" >>"$tmp/cpu"
		echo "$run" >>"$tmp/run"
	done
	echo "$app median: $(median <"$tmp/us") us per reading, $(median <"$tmp/cpu") % of the loop's CPU, $(median <"$tmp/run") % of the run"
done
