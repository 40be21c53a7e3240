#!/usr/bin/env bash
# make demo: run the sync-read scenario (the readFileSync pitfall) on refloop with its own
# loopback load, and show the ground truth it measured from the inside. Bounded: 5 s of load.
set -euo pipefail
build=${1:-build}
out="$build/demo"
mkdir -p "$out"
stats="$out/sync-read.stats.json"

echo "== refloop sync-read: an HTTP handler that reads a 32 MiB file synchronously"
echo "== 5 s of load from 2 loopback connections (the scenario's built-in client)"
"$build/examples/sync-read" --duration 5 --self-load 2 --stats "$stats"

# A few numbers from the stats file, read with the tree's own JSON reader (no jq needed).
"$build/tests/demo_summary" "$stats"
