/*
 * util.c — the runtime's two small containers: a FIFO of tasks (nextTick, microtasks,
 * immediates) and a lock-free log2 histogram of nanoseconds (thread-pool queue wait).
 * A FIFO push may allocate (doubling); a pop never does. The histogram takes writers from any
 * thread.
 */
#include "rl_internal.h"

#include <stdlib.h>

int rl__taskq_push(struct rl__taskq *q, rl_task_fn fn, void *arg)
{
	if (q->len == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64, i;
		struct rl__task *nv = malloc(ncap * sizeof(*nv));

		if (!nv)
			return UV_ENOMEM;
		for (i = 0; i < q->len; i++)
			nv[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = nv;
		q->cap = ncap;
		q->head = 0;
	}
	q->v[(q->head + q->len) % q->cap] = (struct rl__task){fn, arg};
	q->len++;
	return 0;
}

int rl__taskq_pop(struct rl__taskq *q, struct rl__task *out)
{
	if (q->len == 0)
		return UV_EAGAIN;
	*out = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return 0;
}

void rl__taskq_release(struct rl__taskq *q)
{
	free(q->v);
	q->v = NULL;
	q->cap = q->head = q->len = 0;
}

void rl__hist_add(struct rl__hist *h, uint64_t ns)
{
	int b = ns ? 64 - __builtin_clzll(ns) : 0;

	if (b >= RL_HIST_BUCKETS)
		b = RL_HIST_BUCKETS - 1;
	atomic_fetch_add_explicit(&h->b[b], 1, memory_order_relaxed);
}

uint64_t rl__hist_quantile(const struct rl__hist *h, double q)
{
	uint64_t total = 0, seen = 0, want;
	int i;

	for (i = 0; i < RL_HIST_BUCKETS; i++)
		total += atomic_load_explicit(&h->b[i], memory_order_relaxed);
	if (total == 0)
		return 0;
	want = (uint64_t)(q * (double)total);
	if (want >= total)
		want = total - 1;
	for (i = 0; i < RL_HIST_BUCKETS; i++) {
		seen += atomic_load_explicit(&h->b[i], memory_order_relaxed);
		if (seen > want)
			return i == 0 ? 0 : (i >= 63 ? UINT64_MAX : (1ULL << i) - 1);
	}
	return UINT64_MAX;
}
