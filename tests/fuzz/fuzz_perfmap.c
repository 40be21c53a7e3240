/*
 * fuzz_perfmap.c — the loader of a JIT perf map (/tmp/perf-PID.map: "START SIZE name"),
 * then lookups around every address the input names.
 */
#include "fuzz_symmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_symmap(data, size, lsc_symmap_load_perf);
}
