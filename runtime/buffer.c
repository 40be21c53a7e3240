/*
 * buffer.c — native buffers and named counters: the malloc'd memory the runtime's modules use for
 * I/O (file contents, queued socket writes), counted so that --stats reports live and peak native
 * buffer bytes; and the named counters a program exports as its own ground truth.
 *
 * A buffer carries its length in a 16-byte header, so rl_buffer_free() needs no size. Counts are
 * atomic: buffers are also freed from libuv's callbacks, which all run on the loop thread today,
 * but nothing here should have to know that.
 */
#include "rl_internal.h"

#include <stdlib.h>
#include <string.h>

struct buf_header {
	size_t len;
	size_t magic;
};

#define BUF_MAGIC 0x7266627566ULL

static _Atomic uint64_t live_bytes, peak_bytes, allocated_total;

void *rl_buffer_alloc(size_t len)
{
	struct buf_header *h = malloc(sizeof(*h) + len);
	uint64_t live, peak;

	if (!h)
		return NULL;
	h->len = len;
	h->magic = BUF_MAGIC;
	live = atomic_fetch_add(&live_bytes, len) + len;
	atomic_fetch_add(&allocated_total, len);
	peak = atomic_load(&peak_bytes);
	while (live > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, live))
		;
	return h + 1;
}

void rl_buffer_free(void *p)
{
	struct buf_header *h;

	if (!p)
		return;
	h = (struct buf_header *)p - 1;
	if (h->magic != BUF_MAGIC)
		abort(); /* not a runtime buffer: a bug in the runtime, caught early */
	h->magic = 0;
	atomic_fetch_sub(&live_bytes, h->len);
	free(h);
}

void rl__buffer_stats_get(struct rl__buffer_stats *out)
{
	out->live_bytes = atomic_load(&live_bytes);
	out->peak_bytes = atomic_load(&peak_bytes);
	out->allocated_total = atomic_load(&allocated_total);
}

#define MAX_COUNTERS 32

static struct rl__counter counters[MAX_COUNTERS];
static size_t ncounters;

static struct rl__counter *counter(const char *name)
{
	size_t i;

	for (i = 0; i < ncounters; i++)
		if (strcmp(counters[i].name, name) == 0)
			return &counters[i];
	if (ncounters == MAX_COUNTERS)
		return NULL;
	counters[ncounters].name = name;
	counters[ncounters].value = 0;
	return &counters[ncounters++];
}

void rl_counter_add(const char *name, uint64_t delta)
{
	struct rl__counter *c = counter(name);

	if (c)
		c->value += delta;
}

void rl_counter_max(const char *name, uint64_t value)
{
	struct rl__counter *c = counter(name);

	if (c && value > c->value)
		c->value = value;
}

uint64_t rl_counter_get(const char *name)
{
	struct rl__counter *c = counter(name);

	return c ? c->value : 0;
}

size_t rl__counters(const struct rl__counter **out)
{
	*out = counters;
	return ncounters;
}
