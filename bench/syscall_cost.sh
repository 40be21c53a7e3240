#!/usr/bin/env bash
# Benchmark: what `loopscope attach`'s syscall hooks cost one syscall, in ns, by whom. A tight
# loop of getppid() and of pipe write()+read() (bench/syscall_cost.c), in interleaved rounds:
#   plain      no attach anywhere
#   bystander  attach on another process (an idle refloop `healthy`): what every process on
#              the machine pays while attach runs
#   target     attach on the loop itself (--anyway; its thread made one epoll_wait first, so it
#              is a loop thread and each syscall is timed)
# Prints each round and the medians, and each mode's cost over plain. Not a test: figures go to
# docs/performance.md. Needs root (eBPF).
#   bench/syscall_cost.sh [BUILD_DIR] [ROUNDS] [N]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
n=${3:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/syscall_cost" "$here/syscall_cost.c"

attached() { # $1: attach's log; waits until attach says it is in place
	for _ in $(seq 200); do
		grep -q "attached to PID" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

one() { # $1: plain|bystander|target; prints "getppid NS write+read NS"
	local pid apid other out=$tmp/out
	case $1 in
	plain) "$tmp/syscall_cost" "$n" ;;
	bystander)
		"$build/examples/healthy" --duration 0 --port $((20000 + RANDOM % 20000)) --quiet 1 &
		other=$!
		sleep 0.3
		"$build/loopscope" attach -p "$other" -o "$tmp/rec.lsr" 2>"$tmp/attach.log" &
		apid=$!
		attached "$tmp/attach.log"
		"$tmp/syscall_cost" "$n"
		kill -INT "$apid"
		wait "$apid" 2>/dev/null || true
		kill -TERM "$other"
		wait "$other" 2>/dev/null || true
		;;
	target)
		"$tmp/syscall_cost" --wait --loop "$n" >"$out" 2>"$tmp/target.err" &
		pid=$!
		for _ in $(seq 100); do
			grep -q SIGUSR1 "$tmp/target.err" && break
			sleep 0.02
		done
		"$build/loopscope" attach --anyway -p "$pid" -o "$tmp/rec.lsr" 2>"$tmp/attach.log" &
		apid=$!
		attached "$tmp/attach.log"
		kill -USR1 "$pid"
		wait "$pid"
		cat "$out"
		wait "$apid" 2>/dev/null || true
		;;
	esac
}

declare -A g w
for r in $(seq "$rounds"); do
	line="round $r:"
	for m in plain bystander target; do
		read -r _ a _ b < <(one "$m")
		g[$m]+="$a " w[$m]+="$b "
		line+=" $m $a / $b ns"
	done
	echo "$line (getppid / write+read)"
done
median() { printf '%s\n' $@ | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pg=$(median ${g[plain]}) pw=$(median ${w[plain]})
for m in plain bystander target; do
	mg=$(median ${g[$m]}) mw=$(median ${w[$m]})
	printf '%-9s getppid %6.1f ns (+%5.1f)  write+read %6.1f ns (+%5.1f, per syscall +%5.1f)\n' \
		"$m" "$mg" "$(echo "$mg - $pg" | bc)" "$mw" "$(echo "$mw - $pw" | bc)" \
		"$(echo "($mw - $pw) / 2" | bc -l)"
done
