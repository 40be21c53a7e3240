#!/usr/bin/env bash
# make demo: loopscope diagnosing refloop's sync-read scenario (the readFileSync pitfall).
# Records 5 s of it under `loopscope run` with the scenario's own loopback load, prints the
# report with its diagnosis, and writes a CPU and a blocking-call flame graph and the HTML page
# next to the recording. Bounded: 5 s of load, loopback only.
set -euo pipefail
build=${1:-build}
out=$(cd "$build" && pwd)/demo
mkdir -p "$out"
rec=$out/sync-read.lsr
ls=$build/loopscope

echo "== recording refloop's sync-read scenario: an HTTP handler that reads a 32 MiB file"
echo "== synchronously, under 5 s of load from 2 loopback connections"
"$ls" run -o "$rec" -- "$build/examples/sync-read" --duration 5 --self-load 2 \
	--stats "$out/sync-read.stats.json" --quiet 1
echo
"$ls" report "$rec"
"$ls" flame "$rec" --kind cpu -o "$out/cpu.svg" --title "sync-read: CPU"
"$ls" flame "$rec" --kind blocking -o "$out/blocking.svg" --title "sync-read: blocking calls on the loop"
"$ls" report "$rec" -o "$out/report.html"
echo
echo "The whole story on one page (diagnosis, timelines, flame graphs, memory):"
echo "  $out/report.html"
echo
echo "Flame graphs (open in a browser: click to zoom, Ctrl-F to search):"
echo "  $out/cpu.svg"
echo "  $out/blocking.svg"
echo "Recording: $rec   Ground truth from inside refloop: $out/sync-read.stats.json"
