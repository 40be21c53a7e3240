/*
 * malloc_heavy.c — a program that does little but allocate and free: OPS operations on a ring
 * of 4096 slots, each replacing a block of a random size (16 B to 4 KiB) allocated a few calls
 * deep, so that a heap profiler's per-call cost is what its run time measures.
 *   malloc_heavy [OPS]   (default 20,000,000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

static void *slot[SLOTS];

static __attribute__((noinline)) void *make_block(size_t size)
{
	char *p = malloc(size);

	if (p)
		p[0] = (char)size;
	return p;
}

static __attribute__((noinline)) void churn(unsigned long ops, unsigned seed)
{
	unsigned long i;

	for (i = 0; i < ops; i++) {
		unsigned k;

		seed = seed * 1103515245u + 12345u;
		k = (seed >> 8) % SLOTS;
		free(slot[k]);
		slot[k] = make_block(16 + (seed >> 16) % 4081);
	}
}

int main(int argc, char **argv)
{
	unsigned long ops = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000000ul;
	unsigned long sum = 0;
	size_t k;

	churn(ops, 1);
	for (k = 0; k < SLOTS; k++) {
		sum += slot[k] ? (unsigned char)*(char *)slot[k] : 0;
		free(slot[k]);
	}
	printf("malloc_heavy: %lu operations (%lu)\n", ops, sum);
	return 0;
}
