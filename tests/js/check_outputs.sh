#!/usr/bin/env bash
# Renders the golden recordings in every format and has independent readers check them: pprof
# through the npm pprof-format decoder, speedscope against its published schema, SVG through
# xmllint (well-formed XML, the script present). Ends with "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
golden=$here/../golden
ls=$build/loopscope
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export NODE_PATH=$build/npm/node_modules
schema=$NODE_PATH/speedscope/dist/release/file-format-schema.json
pass=0 fail=0
check() {
	local name=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok $name"; else fail=$((fail + 1)); echo "not ok $name"; fi
}

"$here/npm-deps.sh" "$build" || { echo "0 passed, 1 failed"; exit 1; }

"$ls" flame "$golden/blocked.lsr" --format pprof -o "$out/blocked.pb.gz" &&
	check pprof_cpu node "$here/check_pprof.js" "$out/blocked.pb.gz" samples count 100 \
		handle_video rl_fs_read_file_sync main uv__io_poll
"$ls" flame "$golden/blocked.lsr" --kind blocking --format pprof -o "$out/blk.pb.gz" &&
	check pprof_blocking node "$here/check_pprof.js" "$out/blk.pb.gz" blocking nanoseconds \
		8519700000 read handle_video
"$ls" flame "$golden/node.lsr" --format pprof -o "$out/node.pb.gz" &&
	check pprof_jit_and_kernel node "$here/check_pprof.js" "$out/node.pb.gz" samples count 30 \
		"JS:*fib /app/cpu.js:2:13" ksys_write
"$ls" flame "$golden/blocked.lsr" --format speedscope -o "$out/blocked.json" &&
	check speedscope_cpu node "$here/check_speedscope.js" "$out/blocked.json" "$schema" 100 \
		handle_video main
"$ls" flame "$golden/blocked.lsr" --kind blocking --format speedscope -o "$out/blk.json" &&
	check speedscope_blocking node "$here/check_speedscope.js" "$out/blk.json" "$schema" \
		8519700000 read
"$ls" flame --folded "$golden/blocked.cpu.folded" --format speedscope -o "$out/f.json" &&
	check speedscope_from_folded node "$here/check_speedscope.js" "$out/f.json" "$schema" 100 \
		handle_video
for s in blocked node healthy; do
	"$ls" flame "$golden/$s.lsr" -o "$out/$s.svg" --title "$s <&> test" &&
		check "svg_${s}_well_formed" xmllint --noout "$out/$s.svg" &&
		# the embedded script, as the browser gets it out of its CDATA section, parses
		xmllint --xpath 'string(//*[local-name()="script"])' "$out/$s.svg" >"$out/$s.js" &&
		check "svg_${s}_script_parses" node --check "$out/$s.js"
done
"$ls" flame "$golden/blocked.lsr" --reverse --width 800 --minwidth 2 -o "$out/icicle.svg" &&
	check svg_icicle_well_formed xmllint --noout "$out/icicle.svg"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
