#!/usr/bin/env bash
# Regenerates the golden recordings and their expected outputs. Run it only when a change to the
# format or an output is intended, then read the diff of every expected file before committing:
# these files are the specification the CLI test holds the code to.
#   tests/golden/regen.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
cd "$here"
for s in blocked healthy leaky pool node; do
	"$build/tests/mkrec" "$s" "$s.lsr"
	"$build/loopscope" report "$s.lsr" >"$s.report.txt" 2>/dev/null
	"$build/loopscope" report "$s.lsr" --json >"$s.report.json"
done
"$build/loopscope" flame blocked.lsr --format folded >blocked.cpu.folded
"$build/loopscope" flame blocked.lsr --kind blocking --format folded >blocked.blocking.folded
"$build/loopscope" flame healthy.lsr --format folded >healthy.cpu.folded
"$build/loopscope" flame node.lsr --format folded >node.cpu.folded
echo "regenerated: review 'git diff tests/golden' before committing"
