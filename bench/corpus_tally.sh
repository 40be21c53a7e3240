#!/usr/bin/env bash
# Tally, not a timing: the diagnosis corpus (tests/corpus/, docs/diagnosis.md) RUNS times. Each
# run of the test binary records every app of the corpus once under `loopscope run` and once
# under `loopscope attach` (root) and prints a "# TALLY APP MODE PATH hit|miss" line per
# recording; this counts them per app, mode and path. Not a test: 10 runs take about 11 minutes
# on a 2-core machine, the loads being on 127.0.0.1 and bounded in requests.
#   bench/corpus_tally.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-10}
bin="$build/tests/corpus_test_corpus"
[ -x "$bin" ] || { echo "corpus_tally: build the tests first (make build)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "corpus_tally: attach needs root (CAP_BPF, CAP_PERFMON)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$runs"); do
	# every case; a failed one still printed its lines (and the next case runs)
	(cd "$build" && "$bin" >>"$out" 2>&1) || true
	echo "run $r of $runs done" >&2
done
echo "app mode path hits/runs"
grep '^# TALLY ' "$out" | awk '{k=$3" "$4" "$5; n[k]++; if ($6=="hit") h[k]++}
	END {for (k in n) printf "%s %d/%d\n", k, h[k], n[k]}' | sort
echo "misses, with the first finding:"
grep '^# TALLY .* miss ' "$out" | sed 's/^# TALLY /  /' | sort | uniq -c || true
