#!/usr/bin/env bash
# Checks (or, with 'fix', applies) .clang-format over every C source and header the tree tracks.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v -e '^build' -e 'vmlinux.h$' || true)
[ ${#files[@]} -eq 0 ] && exit 0
if [ "$mode" = fix ]; then
	clang-format -i "${files[@]}"
	exit 0
fi
bad=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -ne 0 ]; then
	echo "loopscope: not formatted: ${bad[*]}; run 'make format'" >&2
	exit 1
fi
echo "format: ${#files[@]} files clean"
