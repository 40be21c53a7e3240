#!/usr/bin/env bash
# Benchmark, not a test: `loopscope heap FILE.heapsnapshot` on large V8 heap snapshots, against
# DevTools' own engine (npm heap-snapshot-toolkit, from BUILD/npm: tests/js/npm-deps.sh) on the
# same files: wall time and peak memory (GNU time), the medians of RUNS, and the time and memory
# per node (linear scaling). The snapshots are written here by Node from a program that grows a
# Map in a closure and a global array of objects to N entries each (SIZES: the entries; the
# default makes files of about 100, 300 and 850 MiB). Figures: docs/performance.md.
#   bench/heapsnap.sh [BUILD_DIR] [RUNS] [SIZES...]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-3}
shift 2 || true
sizes=("${@:-}")
[ -n "${sizes[0]}" ] || sizes=(400000 1200000 3400000)
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/tests/js/npm-deps.sh" "$build"
toolkit=$build/npm/node_modules/heap-snapshot-toolkit
cat >"$tmp/make.js" <<'JS'
const v8 = require('v8');
const n = +process.argv[2];
const handler = (() => { const cache = new Map(); return (k) => cache.set('k' + k, { k, v: [k, k + 1] }); })();
globalThis.items = [];
for (let i = 0; i < n; i++) { handler(i); globalThis.items.push({ i, name: 'item' + i }); }
v8.writeHeapSnapshot(process.argv[3]);
setTimeout(() => handler(-1), 1).unref();
JS
cat >"$tmp/devtools.mjs" <<'JS'
const { parse } = await import(process.argv[2] + '/index.js');
const { createReadStream } = await import('node:fs');
const s = await parse(createReadStream(process.argv[3]));
let top = 0;
for (let i = 1; i < s.nodeCount; i++) if (s.retainedSizes[i] > top) top = s.retainedSizes[i];
console.log(s.nodeCount, top);
JS
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for n in "${sizes[@]}"; do
	f=$tmp/s-$n.heapsnapshot
	node --max-old-space-size=16384 "$tmp/make.js" "$n" "$f"
	mib=$(($(stat -c %s "$f") / 1048576))
	nodes=$("$build/loopscope" heap "$f" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["objects"])')
	cat "$f" >/dev/null # in the page cache, as for every run below
	for tool in loopscope devtools; do
		for _ in $(seq "$runs"); do
			if [ $tool = loopscope ]; then
				/usr/bin/time -f "%e %M" -o "$tmp/t" "$build/loopscope" heap "$f" --json -o /dev/null
			else
				/usr/bin/time -f "%e %M" -o "$tmp/t" node --max-old-space-size=16384 \
					"$tmp/devtools.mjs" "$toolkit" "$f" >/dev/null
			fi
			cat "$tmp/t"
		done >"$tmp/$tool"
	done
	read -r rd < <(/usr/bin/time -f "%e" cat "$f" 2>&1 >/dev/null | tail -1)
	lt=$(cut -d' ' -f1 "$tmp/loopscope" | median)
	lm=$(cut -d' ' -f2 "$tmp/loopscope" | median)
	dt=$(cut -d' ' -f1 "$tmp/devtools" | median)
	dm=$(cut -d' ' -f2 "$tmp/devtools" | median)
	echo "$mib MiB, $nodes nodes: loopscope ${lt} s, $((lm / 1024)) MiB peak ($(python3 -c "print(round($lt / $nodes * 1e9))") ns and $(python3 -c "print(round($lm * 1024 / $nodes))") bytes a node); DevTools' engine ${dt} s, $((dm / 1024)) MiB; reading the file ${rd} s"
	rm -f "$f"
done
