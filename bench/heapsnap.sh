#!/usr/bin/env bash
# Benchmark, not a test: `loopscope heap` on large V8 heap snapshots, against DevTools' own engine
# (npm heap-snapshot-toolkit: parse, dominators, retained sizes) and memlab (npm, installed here
# into BUILD/npm-bench, Chromium not downloaded: only its snapshot analyses are used).
#
# One Node process grows a Map in a closure and a global array of Session objects and writes a
# snapshot at each of SIZES entries (the default makes files of about 100, 290 and 830 MiB, as
# #18's set). For each snapshot: loopscope's full analysis (`heap FILE --json`: read,
# dominators, retained sizes, classes, top retainers and their paths) and DevTools' engine, wall
# time and peak RSS (GNU time), medians of RUNS, the file in the page cache; the phases of
# loopscope's (bench/snap_parse.c: read(2) of the file, parse, analysis); time and memory per
# node (linear scaling). Then the three together, the leak verdict: `loopscope heap s1 s2 s3`
# (RUNS), memlab find-leaks with its default settings and memlab analyze object-size on the
# largest (once each: minutes). Figures: docs/performance.md.
#   bench/heapsnap.sh [BUILD_DIR] [RUNS] [SIZES...]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-3}
shift 2 || true
sizes=("${@:-}")
[ -n "${sizes[0]}" ] || sizes=(145000 430000 1200000)
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/tests/js/npm-deps.sh" "$build"
toolkit=$build/npm/node_modules/heap-snapshot-toolkit
if [ ! -x "$build/npm-bench/node_modules/.bin/memlab" ]; then
	mkdir -p "$build/npm-bench"
	(cd "$build/npm-bench" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund \
		--silent memlab@2.0.5 >/dev/null)
fi
memlab=$build/npm-bench/node_modules/.bin/memlab
cc -O2 -I "$here/analysis" -I "$here/include" -o "$tmp/snap_parse" "$here/bench/snap_parse.c" \
	"$build/analysis/liblsc_analysis.a" -ljson-c
cat >"$tmp/make.js" <<'JS'
const v8 = require('v8');
const [prefix, ...sizes] = process.argv.slice(2);
class Session {
  constructor(i) { this.id = i; this.user = 'user' + i; this.started = new Date(i); this.tags = ['t' + (i % 7), 'u' + i]; }
}
const handler = (() => {
  const cache = new Map();
  return (k) => cache.set('key' + k, { k, body: { path: '/item/' + k, headers: { host: 'h' + k } }, rows: [k, 'r' + k, k + 1] });
})();
module.exports = { handler };
globalThis.sessions = [];
let n = 0;
sizes.forEach((size, r) => {
  for (; n < +size; n++) {
    handler(n);
    if (n % 8 === 0) globalThis.sessions.push(new Session(n));
  }
  v8.writeHeapSnapshot(`${prefix}/s-${r + 1}.heapsnapshot`);
});
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
ratio() { python3 -c "print(round($1 / $2, 1))"; }
mkdir "$tmp/snaps"
node --max-old-space-size=16384 "$tmp/make.js" "$tmp/snaps" "${sizes[@]}"
files=()
for k in $(seq ${#sizes[@]}); do
	f=$tmp/snaps/s-$k.heapsnapshot
	files+=("$f")
	mib=$(($(stat -c %s "$f") / 1048576))
	nodes=$("$build/loopscope" heap "$f" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["objects"])')
	cat "$f" >/dev/null # in the page cache, as for every run below
	for tool in loopscope devtools phases; do
		for _ in $(seq "$runs"); do
			case $tool in
			loopscope) /usr/bin/time -f "%e %M" -o "$tmp/t" "$build/loopscope" heap "$f" --json -o /dev/null ;;
			devtools) /usr/bin/time -f "%e %M" -o "$tmp/t" node --max-old-space-size=16384 \
				"$tmp/devtools.mjs" "$toolkit" "$f" >/dev/null ;;
			phases) "$tmp/snap_parse" "$f" >"$tmp/t" ;;
			esac
			cat "$tmp/t"
		done >"$tmp/$tool"
	done
	lt=$(cut -d' ' -f1 "$tmp/loopscope" | median)
	lm=$(cut -d' ' -f2 "$tmp/loopscope" | median)
	dt=$(cut -d' ' -f1 "$tmp/devtools" | median)
	dm=$(cut -d' ' -f2 "$tmp/devtools" | median)
	rd=$(cut -d' ' -f1 "$tmp/phases" | median)
	ps=$(cut -d' ' -f2 "$tmp/phases" | median)
	an=$(cut -d' ' -f3 "$tmp/phases" | median)
	echo "$mib MiB, $nodes nodes: loopscope ${lt} s, $((lm / 1024)) MiB peak ($(python3 -c "print(round($lt / $nodes * 1e9))") ns and $(python3 -c "print(round($lm * 1024 / $nodes))") bytes a node; read(2) ${rd} s, parse ${ps} s, analysis ${an} s); DevTools' engine ${dt} s, $((dm / 1024)) MiB: $(ratio "$dt" "$lt")x the time, $(ratio "$dm" "$lm")x the memory"
done
for _ in $(seq "$runs"); do
	/usr/bin/time -f "%e %M" -o "$tmp/t" "$build/loopscope" heap "${files[@]}" -o "$tmp/verdict"
	cat "$tmp/t"
done >"$tmp/three"
echo "the ${#files[@]} snapshots together, the leak verdict: loopscope $(cut -d' ' -f1 "$tmp/three" | median) s, $(($(cut -d' ' -f2 "$tmp/three" | median) / 1024)) MiB peak; it names:"
sed -n '/^Keeps growing/,/^$/p' "$tmp/verdict"
last=${files[${#files[@]} - 1]}
/usr/bin/time -f "%e %M" -o "$tmp/t" "$memlab" find-leaks --baseline "${files[0]}" \
	--target "${files[1]}" --final "$last" >"$tmp/memlab.out" 2>&1 || true
echo "memlab find-leaks (default settings): $(cut -d' ' -f1 "$tmp/t") s, $(($(cut -d' ' -f2 "$tmp/t") / 1024)) MiB; it says: $(grep -o 'MemLab found [0-9]* leak(s)' "$tmp/memlab.out" || tail -1 "$tmp/memlab.out")"
/usr/bin/time -f "%e %M" -o "$tmp/t" "$memlab" analyze object-size --snapshot "$last" >/dev/null 2>&1 || true
echo "memlab analyze object-size on the largest: $(cut -d' ' -f1 "$tmp/t") s, $(($(cut -d' ' -f2 "$tmp/t") / 1024)) MiB"
