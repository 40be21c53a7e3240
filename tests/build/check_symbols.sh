#!/usr/bin/env bash
# Checks that a refloop executable carries what loopscope's probes rely on, as node does:
# libuv's internals in .symtab, the observer API and uv_* in .dynsym, refloop's USDT probes.
set -euo pipefail
exe=$1
fail() { echo "check_symbols: $exe: $*" >&2; exit 1; }
syms=$(nm "$exe")
for s in uv__io_poll uv__work_submit worker wq default_loop_struct uv__fs_work uv__queue_work; do
	grep -qE " [tTbBdD] $s\$" <<<"$syms" || fail "no '$s' in the symbol table (libuv must be linked statically, unstripped)"
done
dyn=$(nm -D --defined-only "$exe")
for s in rl_observer_register uv_default_loop uv_queue_work uv_metrics_idle_time; do
	grep -qE " T $s\$" <<<"$dyn" || fail "'$s' is not exported (see runtime/refloop.dynlist)"
done
notes=$(readelf -n "$exe")
for p in callback__begin callback__end tick__drain__begin tick__drain__end microtask__drain__begin \
	microtask__drain__end gc__begin gc__end handle__open handle__close work__submit work__start \
	work__done request__begin request__end; do
	grep -q "Name: $p\$" <<<"$notes" || fail "no USDT probe refloop:$p"
done
echo "1 passed, 0 failed"
