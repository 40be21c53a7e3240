/*
 * callers.c — allocations whose immediate caller, stack pointer and frame pointer are the same
 * every time while the stack below differs: take_buffer() is called from from_orders() and from
 * from_users(), which have identical frames, alternately, 100,000 times each, with a different
 * size each (orders: 48 bytes, users: 80). Half the blocks are kept. --heap full must attribute
 * every byte to the right caller: the test checks the exact totals per path. (noipa: the compiler
 * would otherwise fold the two identical callers into one.)
 *   callers      prints "callers: orders 48 users 80 each 100000 kept 50000"
 */
#include <stdio.h>
#include <stdlib.h>

#define N 100000

static void *kept[N];

static __attribute__((noinline)) void *take_buffer(size_t n)
{
	char *p = malloc(n);

	if (p)
		p[0] = 1;
	return p;
}

static __attribute__((noipa)) void *from_orders(size_t n)
{
	void *p = take_buffer(n);

	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

static __attribute__((noipa)) void *from_users(size_t n)
{
	void *p = take_buffer(n);

	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

int main(void)
{
	size_t i;

	for (i = 0; i < N; i++) {
		void *a = from_orders(48), *b = from_users(80);

		if (i % 2) {
			kept[i] = a;
			free(b);
		} else {
			kept[i] = b;
			free(a);
		}
	}
	printf("callers: orders 48 users 80 each %d kept %d\n", N, N / 2);
	fflush(stdout);
	return kept[N - 1] == NULL;
}
