#!/usr/bin/env bash
# Runs the whole ctest suite of a build with a CPU hog on every core (stress-ng, from Debian),
# the way a busy CI machine or a noisy neighbour runs it: timing and growth checks must hold.
#   scripts/hog-test.sh [BUILD_DIR]     (default: build; run `make build` first)
set -euo pipefail
build=${1:-build}
command -v stress-ng >/dev/null || {
	[ "$(id -u)" = 0 ] || { echo "hog-test: stress-ng is missing: sudo apt-get install stress-ng" >&2; exit 1; }
	apt-get install -y stress-ng >/dev/null
}
stress-ng --cpu "$(nproc)" --timeout 3600s >/dev/null 2>&1 &
hog=$!
trap 'kill $hog 2>/dev/null || true' EXIT
cd "$build"
ctest --output-on-failure -j"$(nproc)"
