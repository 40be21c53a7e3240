/*
 * stretch.c — the writer's view of where a long busy stretch of a loop went: every CPU sample of
 * the loop thread inside it, not one. A stretch (a busy segment of 10 ms or more: the agent's
 * "(busy loop)" event) is pushed at its end, after the SIGPROF samples taken during it, in the
 * same thread's ring; so the writer keeps each loop thread's latest samples (time and interned
 * stack) in a ring of STRETCH_SAMPLES, and when the stretch arrives counts those within it by
 * stack. 99 Hz fills the ring in about 5 s: a longer stretch is attributed from its last 5 s,
 * and the event says how many samples it had (docs/format.md, BlockingEvent cpu_stack_ids).
 *
 * Writer thread only: no lock. One buffer per loop thread, LSC_AGENT_MAX_LOOPS of them, in the
 * library's bss (about 50 KiB): a thread beyond those keeps the old rule, the last sample.
 */
#include "writer.h"

#include <stdlib.h>
#include <string.h>

#define STRETCH_SAMPLES 512

struct stretch_buf {
	uint32_t tid; /* 0: free */
	uint32_t head, n;
	uint64_t t[STRETCH_SAMPLES];
	uint32_t stack[STRETCH_SAMPLES];
};

static struct stretch_buf bufs[LSC_AGENT_MAX_LOOPS];

static struct stretch_buf *buf_of(uint32_t tid, int make)
{
	struct stretch_buf *free_one = NULL;
	size_t i;

	for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
		if (bufs[i].tid == tid)
			return &bufs[i];
		if (!bufs[i].tid && !free_one)
			free_one = &bufs[i];
	}
	if (!make || !free_one)
		return NULL;
	free_one->tid = tid;
	free_one->head = free_one->n = 0;
	return free_one;
}

void lsc__stretch_sample(uint32_t tid, int loop, uint64_t t, uint32_t stack)
{
	struct stretch_buf *b = loop ? buf_of(tid, 1) : NULL;

	if (!b)
		return;
	b->t[b->head] = t;
	b->stack[b->head] = stack;
	b->head = (b->head + 1) % STRETCH_SAMPLES;
	if (b->n < STRETCH_SAMPLES)
		b->n++;
}

void lsc__stretch_forget(uint32_t tid)
{
	struct stretch_buf *b = buf_of(tid, 0);

	if (b)
		b->tid = 0;
}

static int by_stack(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

size_t lsc__stretch_counts(uint32_t tid, uint64_t start, uint64_t end, uint32_t *stacks,
			   uint32_t *counts, size_t cap)
{
	static uint32_t got[STRETCH_SAMPLES];
	struct stretch_buf *b = buf_of(tid, 0);
	size_t i, n = 0, k = 0;

	if (!b)
		return 0;
	for (i = 0; i < b->n; i++) {
		size_t at = (b->head + STRETCH_SAMPLES - 1 - i) % STRETCH_SAMPLES;

		if (b->t[at] < start)
			break; /* older ones are older still */
		if (b->t[at] <= end)
			got[n++] = b->stack[at];
	}
	qsort(got, n, sizeof(got[0]), by_stack);
	for (i = 0; i < n; i++) {
		if (k && stacks[k - 1] == got[i]) {
			counts[k - 1]++;
			continue;
		}
		if (k == cap)
			break;
		stacks[k] = got[i];
		counts[k++] = 1;
	}
	return k;
}
