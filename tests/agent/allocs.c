/*
 * allocs.c — every entry point of the malloc family, with the contents, zeroing, alignment and
 * usable size checked, for the agent's heap modes to be run against (test_run.c runs it with
 * every allocation sampled, where each sampled block sits at a page boundary). grow_kept() keeps
 * KEPT blocks grown by realloc to 4000 bytes, a leak whose size the test asserts. Prints which
 * object serves malloc (the agent, or libc under --heap off). It links early_allocs.c, whose
 * constructor allocates before the agent's constructor has run.
 *   allocs      prints "allocs ok: malloc from <object>"
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEPT 100

const char *early_allocs_check(void); /* early_allocs.c */

static void *kept[KEPT];

static void fail(const char *what, size_t n)
{
	fprintf(stderr, "allocs: %s (size %zu)\n", what, n);
	exit(1);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

static void check_block(void *p, size_t n, size_t align, const char *what)
{
	if (!p)
		fail(what, n);
	if ((uintptr_t)p % align)
		fail("misaligned block", n);
	if (malloc_usable_size(p) < n)
		fail("usable size below the size asked", n);
}

static __attribute__((noinline)) void grow_kept(int i)
{
	unsigned char *p = malloc(100);

	check_block(p, 100, 16, "malloc");
	fill(p, 100, (unsigned)i);
	p = realloc(p, 4000);
	check_block(p, 4000, 16, "realloc");
	if (!same(p, 100, (unsigned)i))
		fail("realloc lost the contents", 4000);
	kept[i] = p;
}

int main(void)
{
	static const size_t sizes[] = {1, 16, 24, 100, 1000, 4080, 4096, 5000, 70000, 300000};
	size_t page = (size_t)sysconf(_SC_PAGESIZE), i, a;
	Dl_info info;
	int round;

	if (early_allocs_check())
		fail(early_allocs_check(), 0);
	for (round = 0; round < 20; round++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i], k;
			unsigned char *p = malloc(n), *q;
			void *v;

			check_block(p, n, 16, "malloc");
			fill(p, n, (unsigned)(round + i));
			/* grow, then shrink, keeping what fits */
			q = realloc(p, n * 3 + 1);
			check_block(q, n * 3 + 1, 16, "realloc up");
			if (!same(q, n, (unsigned)(round + i)))
				fail("realloc up lost the contents", n);
			p = realloc(q, n / 2 + 1);
			check_block(p, n / 2 + 1, 16, "realloc down");
			if (!same(p, n / 2 + 1, (unsigned)(round + i)))
				fail("realloc down lost the contents", n);
			p = reallocarray(p, n, 2);
			check_block(p, n * 2, 16, "reallocarray");
			if (!same(p, n / 2 + 1, (unsigned)(round + i)))
				fail("reallocarray lost the contents", n);
			if (realloc(p, 0) != NULL) /* glibc: frees it */
				fail("realloc to 0 returned a block", n);
			q = calloc(n, 1);
			check_block(q, n, 16, "calloc");
			for (k = 0; k < n; k++)
				if (q[k])
					fail("calloc block not zeroed", n);
			free(q);
			for (a = 32; a <= 2 * page; a *= 4) {
				p = memalign(a, n);
				check_block(p, n, a, "memalign");
				fill(p, n, 3);
				q = realloc(p, n + 100);
				check_block(q, n + 100, 16, "realloc of an aligned block");
				if (!same(q, n, 3))
					fail("realloc of an aligned block lost the contents", n);
				free(q);
				if (posix_memalign(&v, a, n))
					fail("posix_memalign", n);
				check_block(v, n, a, "posix_memalign");
				free(v);
				v = aligned_alloc(a, (n + a - 1) / a * a);
				check_block(v, n, a, "aligned_alloc");
				free(v);
			}
			v = valloc(n);
			check_block(v, n, page, "valloc");
			free(v);
			v = pvalloc(n);
			check_block(v, n, page, "pvalloc");
			free(v);
		}
	}
	if (posix_memalign(&kept[0], 24, 8) != EINVAL)
		fail("posix_memalign took an alignment that is not a power of two", 8);
	free(NULL);
	for (i = 0; i < KEPT; i++)
		grow_kept((int)i);
	if (!dladdr(dlsym(RTLD_DEFAULT, "malloc"), &info) || !info.dli_fname)
		fail("no object serves malloc", 0);
	printf("allocs ok: malloc from %s\n",
	       strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname);
	return 0;
}
