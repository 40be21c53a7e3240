#!/usr/bin/env bash
# Checks that the agent exports exactly what agent/agent.map lists (the functions it interposes)
# and nothing else: no helper of its own, nothing of libunwind or protobuf-c, may shadow a symbol
# of the program the agent is loaded into.
# The agent without the malloc family (`run --heap off`) must export the rest and none of those.
#   check_agent_exports.sh AGENT.so AGENT.map [NAME...]   (NAMEs: listed in the map, not exported)
set -euo pipefail
so=$1 map=$2
shift 2
want=$(sed -n '/global:/,/local:/p' "$map" | grep -v 'global:\|local:' | tr -s ' \t;' '\n' |
	grep -v '^$' | sort -u | comm -23 - <(printf '%s\n' "$@" | sort -u))
have=$(nm -D --defined-only "$so" | awk '$2 ~ /[TWiV]/ {print $3}' | sed 's/@.*//' | sort -u)
extra=$(comm -13 <(echo "$want") <(echo "$have"))
missing=$(comm -23 <(echo "$want") <(echo "$have"))
[ -z "$extra" ] || { echo "check_agent_exports: $so exports what agent.map does not list: $extra" >&2; exit 1; }
[ -z "$missing" ] || { echo "check_agent_exports: $so does not define: $missing" >&2; exit 1; }
echo "1 passed, 0 failed"
