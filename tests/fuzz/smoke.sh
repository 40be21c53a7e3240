#!/bin/sh
# The fuzz targets' regression smoke (ctest label `fuzz`, in `make test`): one target, every
# input of its checked-in corpus, then a fixed number of mutations from a fixed seed. New inputs
# go to a scratch directory in the build tree, never into the source tree's corpus; a crash
# leaves its input there as crash-*.
#   smoke.sh FUZZER CORPUS_DIR SCRATCH_DIR RUNS
set -eu
fuzzer=$1 corpus=$2 scratch=$3 runs=$4
rm -rf "$scratch"
mkdir -p "$scratch/new"
exec "$fuzzer" -runs="$runs" -seed=1 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$scratch/" "$scratch/new" "$corpus"
