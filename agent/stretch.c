/*
 * stretch.c — the writer's view of where a long busy stretch of a loop went: every CPU sample of
 * the loop thread inside it, not one. A stretch (a busy segment of 10 ms or more: the agent's
 * "(busy loop)" event) is pushed at its end, after the SIGPROF samples taken during it, in the
 * same thread's ring; so the writer keeps each loop thread's latest samples in a
 * formats/lsc_stretch.h ring and, when the stretch arrives, counts those within it by stack
 * (docs/format.md, BlockingEvent cpu_stack_ids).
 *
 * Writer thread only: no lock. One ring per loop thread, LSC_AGENT_MAX_LOOPS of them, in the
 * library's bss (about 50 KiB): a thread beyond those keeps the old rule, the last sample.
 */
#include "writer.h"
#include "lsc_stretch.h"

static struct lsc_stretch_ring bufs[LSC_AGENT_MAX_LOOPS];

static struct lsc_stretch_ring *buf_of(uint32_t tid, int make)
{
	struct lsc_stretch_ring *free_one = NULL;
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
	struct lsc_stretch_ring *b = loop ? buf_of(tid, 1) : NULL;

	if (b)
		lsc_stretch_push(b, t, stack);
}

void lsc__stretch_forget(uint32_t tid)
{
	struct lsc_stretch_ring *b = buf_of(tid, 0);

	if (b)
		b->tid = 0;
}

size_t lsc__stretch_counts(uint32_t tid, uint64_t start, uint64_t end, uint32_t *stacks,
			   uint32_t *counts, size_t cap)
{
	const struct lsc_stretch_ring *b = buf_of(tid, 0);

	return b ? lsc_stretch_counts(b, start, end, stacks, counts, cap) : 0;
}
