#!/bin/sh
# A CI job's performance gate, end to end (docs/ci.md): run the service under loopscope with load
# on it, then hold the recording against a budget and a committed baseline. The job fails (exit
# 1) when a check fails, and leaves a JUnit report for the CI system to show.
#   examples/ci/loopscope-gate.sh BUILD_DIR OUT_DIR
set -eu
build=$1
out=$2
here=$(dirname "$0")
mkdir -p "$out"

# 1. Build: your build step goes here (this tree is built by `make`).
# 2. Start the service under `loopscope run` and drive load. refloop's scenarios bring their own
#    load client; a real service would be started in the background and driven with wrk or curl
#    on 127.0.0.1, then stopped with SIGTERM (run then finalizes the recording).
"$build/loopscope" run -o "$out/run.lsr" -- "$build/examples/healthy" --duration 4 --self-load 2 \
	--quiet 1

# 3. Gate: exit 0 when every check passes, 1 when one fails, 2 when the budget or a recording is
#    wrong.
"$build/loopscope" gate "$out/run.lsr" --budget "$here/budget.txt" \
	--baseline "$here/baseline.lsr" --junit "$out/loopscope-junit.xml"
