/*
 * fuzz_symmap.h — the two symbol-map loaders (kallsyms, JIT perf maps) fuzzed the same way: the
 * input loaded by one of them, then lookups around every address it names.
 */
#ifndef LSC_FUZZ_SYMMAP_H
#define LSC_FUZZ_SYMMAP_H

#include "fuzz.h"
#include "lsc_symbols.h"

#include <string.h>

static inline int fuzz_symmap(const uint8_t *data, size_t size,
			      int (*load)(const char *path, struct lsc_symmap **out))
{
	struct lsc_symmap *m;
	char path[64];
	int fd = fuzz_memfd(data, size, path, sizeof(path));
	size_t i;

	if (fd < 0)
		return 0;
	if (load(path, &m) == 0) {
		uint64_t off, a;

		/* every 8 bytes of the input, read as an address */
		for (i = 0; i + 8 <= size; i += 8) {
			memcpy(&a, data + i, 8);
			lsc_symmap_lookup(m, a, &off);
		}
		lsc_symmap_lookup(m, 0, &off);
		lsc_symmap_lookup(m, UINT64_MAX, NULL);
		lsc_symmap_free(m);
	}
	close(fd);
	return 0;
}

#endif
