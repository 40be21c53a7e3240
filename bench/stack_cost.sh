#!/usr/bin/env bash
# Benchmark: what a CPU sample's stack costs under `loopscope attach`, by --stacks mode, and how
# whole the stacks are. For each target and mode, in interleaved rounds: the target runs, attach
# samples it at 999 Hz for SECONDS, and the kernel's own accounting of the sampler program
# (kernel.bpf_stats_enabled, turned on for the run and restored after) gives its time per run
# and per recorded sample; attach's own CPU time (utime + stime) per sample is the user-space
# part (unwinding a copy with --stacks dwarf, naming, interning); report --json gives the share
# of samples whose stack reaches its thread's root. Prints each round and the medians. Not a
# test: figures go to docs/performance.md. Needs root (eBPF), node at /usr/bin/node.
#   bench/stack_cost.sh [BUILD_DIR] [ROUNDS] [SECONDS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
secs=${3:-4}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_was"; rm -rf "$tmp"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1

targets=(node-js node-pbkdf2 refloop-hash)
read -r -a modes <<<"${MODES:-fp auto dwarf}" # MODES="fp dwarf": a build before auto

start_target() { # $1: target; prints its pid once it waits for SIGUSR2
	local ms=$(((secs + 3) * 1000))
	case $1 in
	node-js) /usr/bin/node "$src/tests/bpf/node_stacks.js" js "$ms" 2>"$tmp/t.err" >/dev/null & ;;
	node-pbkdf2) UV_THREADPOOL_SIZE=2 /usr/bin/node "$src/tests/bpf/node_stacks.js" pbkdf2 "$ms" \
		2>"$tmp/t.err" >/dev/null & ;;
	refloop-hash) "$build/examples/hash-on-loop" --wait-signal 1 --quiet 1 --duration \
		$((secs + 3)) --self-load 2 2>"$tmp/t.err" >/dev/null & ;;
	esac
	local pid=$!
	for _ in $(seq 200); do
		grep -q "waiting" "$tmp/t.err" 2>/dev/null && break
		sleep 0.05
	done
	echo "$pid"
}

one() { # $1 target, $2 mode; prints "ns_per_run ns_per_sample user_us_per_sample rooted samples"
	local t apid ids prog run ns cpu0 cpu1 samples rooted
	t=$(start_target "$1")
	"$build/loopscope" attach -p "$t" --cpu-hz 999 --stacks "$2" -o "$tmp/r.lsr" \
		2>"$tmp/a.err" >/dev/null &
	apid=$!
	for _ in $(seq 200); do
		grep -q "attached to PID" "$tmp/a.err" 2>/dev/null && break
		sleep 0.05
	done
	kill -USR2 "$t"
	cpu0=$(awk '{print $14 + $15}' "/proc/$apid/stat")
	sleep "$secs"
	ids=$(grep -h "^prog_id:" /proc/"$apid"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u)
	run=0 ns=0
	for prog in $ids; do
		if bpftool prog show id "$prog" 2>/dev/null | grep -q "name on_cpu_sample"; then
			read -r run ns < <(bpftool prog show id "$prog" -j |
				python3 -c 'import json,sys; p=json.load(sys.stdin); print(p.get("run_cnt",0), p.get("run_time_ns",0))')
		fi
	done
	cpu1=$(awk '{print $14 + $15}' "/proc/$apid/stat" 2>/dev/null || echo "$cpu0")
	kill -INT "$apid"
	wait "$apid" || true
	kill "$t" 2>/dev/null || true
	wait "$t" 2>/dev/null || true
	samples=$("$build/loopscope" flame "$tmp/r.lsr" --format folded | awk '{n += $NF} END {print n + 0}')
	rooted=$("$build/loopscope" report "$tmp/r.lsr" --json |
		python3 -c 'import json,sys; c=json.load(sys.stdin)["run"]["counters"]; print(c.get("stacks_cpu_rooted", -1))')
	python3 -c "
run, ns, s, r = $run, $ns, $samples, $rooted
tick = $(getconf CLK_TCK)
print('%.0f %.0f %.1f %s %d' % (ns / max(run, 1), ns / max(s, 1),
      ($cpu1 - $cpu0) * 1e6 / tick / max(s, 1), '%.3f' % (r / max(s, 1)) if r >= 0 else '-', s))"
}

declare -A res
for r in $(seq "$rounds"); do
	for t in "${targets[@]}"; do
		for m in "${modes[@]}"; do
			v=$(one "$t" "$m")
			echo "round $r: $t --stacks $m: ns/run ns/sample user-us/sample rooted samples = $v"
			# (a reading that found no sampler program is left out of the medians)
			if [ "${v%% *}" != 0 ]; then res[$t.$m]+="$v"$'\n'; fi
		done
	done
done
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "medians over $rounds rounds (999 Hz, ${secs} s):"
printf '%-13s %-6s %10s %12s %18s %8s\n' target stacks ns/run ns/sample user-us/sample rooted
for t in "${targets[@]}"; do
	for m in "${modes[@]}"; do
		col() { printf '%s' "${res[$t.$m]}" | awk -v c="$1" 'NF {print $c}' | median; }
		printf '%-13s %-6s %10s %12s %18s %8s\n' "$t" "$m" "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)"
	done
done
