/*
 * fuzz_kallsyms.c — the loader of /proc/kallsyms ("ADDR TYPE name [module]"),
 * then lookups around every address the input names.
 */
#include "fuzz_symmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_symmap(data, size, lsc_symmap_load_kallsyms);
}
