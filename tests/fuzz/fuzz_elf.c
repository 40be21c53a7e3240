/*
 * fuzz_elf.c — the ELF/DWARF module reader (symbols/): symbol tables, PT_LOAD segments,
 * build-id notes, DWARF line tables through libdw, C++ demangling, on mutated ELF files. The
 * seeds are real small binaries (tests/fuzz/seeds/), so mutations start from valid structure.
 */
#include "fuzz.h"
#include "lsc_symbols.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lsc_module *m;
	struct lsc_frame f;
	char path[64];
	int fd = fuzz_memfd(data, size, path, sizeof(path));
	uint64_t va, off;
	size_t len, i;

	if (fd < 0)
		return 0;
	if (lsc_module_open(path, &m) == 0) {
		lsc_module_build_id(m, &len);
		lsc_module_find(m, "main", &va);
		/* addresses through the segments, as the symbolizer reaches them */
		for (off = 0; off < size; off += 61)
			if (lsc_module_offset_to_vaddr(m, off, &va) == 0)
				lsc_module_lookup(m, va, &f);
		for (i = 0; i + 8 <= size && i < 512; i += 8) {
			memcpy(&va, data + i, 8);
			lsc_module_lookup(m, va, &f);
		}
		lsc_module_free(m);
	}
	close(fd);
	return 0;
}
