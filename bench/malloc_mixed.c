/*
 * malloc_mixed.c — a heap profiler's other worst case, closer to a real program's mix: OPS
 * operations on a ring of 16,384 blocks, each either replacing a block (sizes: 70 % of 8–128 B,
 * 25 % of 128 B–4 KiB, 5 % of 4–64 KiB; a fifth of them from calloc) or resizing one with
 * realloc (a third of the operations: grow by half, or shrink to a quarter), on THREADS worker
 * threads with a ring each. The process always has a second thread, as every Node.js process and
 * any libuv program with a thread pool has, so glibc's malloc takes its multi-threaded path with
 * and without an agent alike.
 *   malloc_mixed [OPS] [THREADS]   (defaults 20,000,000 and 1)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16384

struct worker {
	pthread_t t;
	unsigned long ops, sum;
	unsigned seed;
	void *slot[SLOTS];
	size_t size[SLOTS];
};

static size_t pick_size(unsigned r)
{
	unsigned k = r % 100;

	if (k < 70)
		return 8 + (r >> 8) % 121;
	if (k < 95)
		return 128 + (r >> 8) % 3969;
	return 4096 + (r >> 8) % 61441;
}

static __attribute__((noinline)) void *make_block(size_t size, int zero)
{
	char *p = zero ? calloc(1, size) : malloc(size);

	if (p)
		p[0] = (char)size;
	return p;
}

static __attribute__((noinline)) void *resize_block(void *p, size_t size)
{
	char *q = realloc(p, size);

	if (q)
		q[size - 1] = 1;
	return q;
}

static void *churn(void *arg)
{
	struct worker *w = arg;
	unsigned long i;
	size_t k;

	for (i = 0; i < w->ops; i++) {
		unsigned r;

		w->seed = w->seed * 1103515245u + 12345u;
		r = w->seed >> 4;
		k = (r >> 3) % SLOTS;
		if (w->slot[k] && r % 3 == 0) {
			size_t n = (r >> 20) & 1 ? w->size[k] + w->size[k] / 2 : w->size[k] / 4 + 1;
			void *q = resize_block(w->slot[k], n);

			if (q) {
				w->slot[k] = q;
				w->size[k] = n;
			}
			continue;
		}
		free(w->slot[k]);
		w->size[k] = pick_size(w->seed * 2654435761u);
		w->slot[k] = make_block(w->size[k], r % 5 == 0);
	}
	for (k = 0; k < SLOTS; k++) {
		w->sum += w->slot[k] ? (unsigned char)*(char *)w->slot[k] : 0;
		free(w->slot[k]);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long ops = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000000ul, sum = 0;
	long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 1, i;
	struct worker *w;

	if (threads < 1 || threads > 64) {
		fprintf(stderr, "malloc_mixed: THREADS is 1 to 64\n");
		return 2;
	}
	w = calloc((size_t)threads, sizeof(*w));
	if (!w)
		return 1;
	for (i = 0; i < threads; i++) {
		w[i].ops = ops / (unsigned long)threads;
		w[i].seed = (unsigned)i + 1;
		if (pthread_create(&w[i].t, NULL, churn, &w[i])) {
			fprintf(stderr, "malloc_mixed: cannot start a thread\n");
			return 1;
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(w[i].t, NULL);
		sum += w[i].sum;
	}
	printf("malloc_mixed: %lu operations on %ld threads (%lu)\n", ops, threads, sum);
	free(w);
	return 0;
}
