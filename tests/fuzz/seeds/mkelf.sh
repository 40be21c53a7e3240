#!/usr/bin/env bash
# Builds the ELF seeds of the fuzz_elf corpus from elf_c.c and elf_cpp.cc: real, complete,
# small binaries (static without libc, a shared object; DWARF 4 and 5; with .symtab and stripped
# to .dynsym), each with a build-id. Run from anywhere; writes into ../corpus/elf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/../corpus/elf
cc=${CC:-clang-14}
cxx=${CXX:-clang++-14}
mkdir -p "$out"
common=(-Os -nostdlib -fno-asynchronous-unwind-tables -Wl,--build-id=sha1 -Wl,-z,noseparate-code
	-Wl,-z,max-page-size=64 -Wl,--hash-style=gnu)
"$cc" "${common[@]}" -static -g -gdwarf-5 "$here/elf_c.c" -o "$out/static-dwarf5"
"$cc" "${common[@]}" -static -g -gdwarf-4 "$here/elf_c.c" -o "$out/static-dwarf4"
"$cc" "${common[@]}" -static "$here/elf_c.c" -o "$out/static-symtab"
"$cxx" "${common[@]}" -shared -fPIC -g "$here/elf_cpp.cc" -o "$out/shared-cpp"
"$cxx" "${common[@]}" -shared -fPIC "$here/elf_cpp.cc" -o "$out/shared-dynsym"
strip --strip-all "$out/shared-dynsym"
ls -l "$out"
