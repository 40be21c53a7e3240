/*
 * fuzz_perfmap.c — the loader of a JIT perf map (/tmp/perf-PID.map: "START SIZE name"),
 * then lookups around every address the input names.
 */
#include "fuzz.h"
#include "lsc_symbols.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lsc_symmap *m;
	char path[64];
	int fd = fuzz_memfd(data, size, path, sizeof(path));
	size_t i;

	if (fd < 0)
		return 0;
	if (lsc_symmap_load_perf(path, &m) == 0) {
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
