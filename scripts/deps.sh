#!/usr/bin/env bash
# Installs from Debian's packages whatever the tree needs and this machine lacks.
# Idempotent: one dpkg-query when everything is present. Never downloads anything else.
set -euo pipefail

pkgs=(
	make cmake gcc pkg-config clang llvm clang-format
	libuv1-dev            # refloop links libuv_a.a, as Node links libuv
	libjson-c-dev         # refloop --stats, test assertions on JSON
	systemtap-sdt-dev     # <sys/sdt.h> USDT probes in refloop
	libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev  # eBPF capture, symbolization
	libc6-dbg             # libc's own function names in stacks (start_thread, clone3)
	libprotobuf-c-dev protobuf-c-compiler              # the recording format
	libunwind-dev                                      # agent stacks
	libxml2-utils                                      # xmllint: the SVG check
	libncurses-dev                                     # loopscope top's live view
	linux-libc-dev                                     # syscall names for attach
	python3                                            # the agent's exec-in-place test
	libclang-rt-14-dev                                 # libFuzzer's runtime (tests/fuzz)
	libmicrohttpd-dev                                  # the exporter's /metrics
	prometheus                                         # the exporter's tests: a real scrape, promtool
	scdoc                                              # the man pages, from the command table
	mandoc man-db                                      # their checks (mandoc -T lint, man -l)
	dpkg-dev                                           # make package: CPack's dependencies (dpkg-shlibdeps)
)

# dpkg-query exits non-zero when a package is unknown to it; that is what we are looking for.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null || true)
missing=$(printf '%s\n' "$installed" |
	awk '$2 == "ii" { ok[$1] = 1 } END { for (p in ok) print p }' |
	sort | comm -13 - <(printf '%s\n' "${pkgs[@]}" | sort -u) | tr '\n' ' ')
missing=${missing% }
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "loopscope: missing Debian packages: $missing; run 'sudo apt-get install $missing' or run make as root" >&2
	exit 1
fi
echo "deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
