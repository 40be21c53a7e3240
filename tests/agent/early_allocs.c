/*
 * early_allocs.c — a library whose constructor allocates before the agent's constructor has run
 * (a needed library's constructors run before a preloaded one's; GLib's GSlice allocates its
 * page-aligned slabs there): the agent's bootstrap arena must honour every alignment it is asked
 * for. allocs links it and fails when early_allocs_check() names a call that did not.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *early_allocs_check(void);

static const char *bad;

static void check(void *p, size_t align, size_t n, const char *what)
{
	if (!p || ((uintptr_t)p & (align - 1))) {
		if (!bad)
			bad = what;
		return;
	}
	memset(p, 0x5a, n);
}

__attribute__((constructor)) static void allocate_early(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), a;
	void *p;

	for (a = 16; a <= 16 * page; a *= 2) {
		p = NULL;
		if (posix_memalign(&p, a, a / 2 + 8) == 0)
			check(p, a, a / 2 + 8, "posix_memalign before the agent started");
		else
			bad = "posix_memalign failed before the agent started";
		free(p);
		p = memalign(a, 100);
		check(p, a, 100, "memalign before the agent started");
		p = realloc(p, 3 * a);
		check(p, 16, 3 * a, "realloc before the agent started");
		free(p);
		p = aligned_alloc(a, a);
		check(p, a, a, "aligned_alloc before the agent started");
	}
	check(valloc(10), page, 10, "valloc before the agent started");
}

const char *early_allocs_check(void)
{
	return bad;
}
