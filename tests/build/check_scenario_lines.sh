#!/usr/bin/env bash
# docs/scenarios.md cites the line of each pitfall (examples/X.c:N). Check every cited line still is
# the call it names: a refloop call or malloc, not a blank, brace or comment after an edit moved it.
set -euo pipefail
root=$1
n=0
while IFS=: read -r file line; do
	text=$(sed -n "${line}p" "$root/$file")
	if ! grep -qE '(rl_[a-z_0-9]+|malloc)\(' <<<"$text"; then
		echo "check_scenario_lines: docs/scenarios.md cites $file:$line, which is now: '$text'" >&2
		exit 1
	fi
	n=$((n + 1))
done < <(grep -oE 'examples/[a-z_]+\.c:[0-9]+' "$root/docs/scenarios.md")
[ "$n" -ge 9 ] || { echo "check_scenario_lines: only $n citations found" >&2; exit 1; }
echo "1 passed, 0 failed"
