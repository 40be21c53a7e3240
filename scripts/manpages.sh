#!/usr/bin/env bash
# The man pages, from the command table through `loopscope help --scdoc` (cli/manpage.c) and
# Debian's scdoc: loopscope(1) and loopscope-COMMAND(1) for every command `loopscope help` lists.
#   scripts/manpages.sh LOOPSCOPE OUT_DIR
set -euo pipefail
lsc=$1
out=$2
command -v scdoc >/dev/null || { echo "manpages: scdoc is missing: apt-get install scdoc" >&2; exit 1; }
mkdir -p "$out"
page() { # $1: the page's name, $2...: help's arguments
	local name=$1
	shift
	"$lsc" help --scdoc "$@" | scdoc >"$out/$name.1.tmp"
	mv "$out/$name.1.tmp" "$out/$name.1"
}
page loopscope
for c in $("$lsc" help | awk '/^commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }'); do
	page "loopscope-$c" "$c"
done
