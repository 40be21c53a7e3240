/*
 * lsc_stretch.c — a loop thread's latest CPU samples, and those within a busy stretch by stack
 * (lsc_stretch.h).
 */
#include "lsc_stretch.h"

void lsc_stretch_push(struct lsc_stretch_ring *b, uint64_t t, uint32_t stack)
{
	b->t[b->head] = t;
	b->stack[b->head] = stack;
	b->head = (b->head + 1) % LSC_STRETCH_SAMPLES;
	if (b->n < LSC_STRETCH_SAMPLES)
		b->n++;
}

/* Counts stack in the sorted table stacks[0..*k), inserting it in order when there is room. */
static void count_in(uint32_t stack, uint32_t *stacks, uint32_t *counts, size_t *k, size_t cap)
{
	size_t lo = 0, hi = *k, j;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (stacks[mid] < stack)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < *k && stacks[lo] == stack) {
		counts[lo]++;
		return;
	}
	if (*k == cap)
		return;
	for (j = *k; j > lo; j--) {
		stacks[j] = stacks[j - 1];
		counts[j] = counts[j - 1];
	}
	stacks[lo] = stack;
	counts[lo] = 1;
	(*k)++;
}

size_t lsc_stretch_counts(const struct lsc_stretch_ring *b, uint64_t start, uint64_t end,
			  uint32_t *stacks, uint32_t *counts, size_t cap)
{
	size_t i, k = 0;

	for (i = 0; i < b->n; i++) {
		size_t at = (b->head + LSC_STRETCH_SAMPLES - 1 - i) % LSC_STRETCH_SAMPLES;

		if (b->t[at] < start)
			break; /* older ones are older still */
		if (b->t[at] <= end)
			count_in(b->stack[at], stacks, counts, &k, cap);
	}
	return k;
}
