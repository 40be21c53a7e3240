/*
 * ring.c — single-producer, single-consumer byte rings for the agent's events. The producer is
 * one application thread (and its signal handlers, which the agent's re-entrancy guard keeps
 * from interleaving with it); the consumer is the writer thread. Memory comes from mmap, so a
 * ring can be created inside a signal handler; records are [u32 length][u16 type][payload],
 * never split: a record that does not fit is dropped and counted, so a stalled writer costs
 * data, never the program's time or memory.
 */
#include "agent.h"

#include <string.h>
#include <sys/mman.h>

struct rec_hdr {
	uint32_t len; /* payload bytes */
	uint16_t type;
	uint16_t pad;
};

struct lsc_ring *lsc_ring_new(size_t cap)
{
	struct lsc_ring *r = mmap(NULL, sizeof(*r) + cap, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (r == MAP_FAILED)
		return NULL;
	r->cap = cap;
	return r;
}

static void copy_in(struct lsc_ring *r, uint64_t pos, const void *src, size_t len)
{
	size_t off = pos & (r->cap - 1), first = r->cap - off < len ? r->cap - off : len;

	memcpy(r->data + off, src, first);
	memcpy(r->data, (const uint8_t *)src + first, len - first);
}

static void copy_out(const struct lsc_ring *r, uint64_t pos, void *dst, size_t len)
{
	size_t off = pos & (r->cap - 1), first = r->cap - off < len ? r->cap - off : len;

	memcpy(dst, r->data + off, first);
	memcpy((uint8_t *)dst + first, r->data, len - first);
}

int lsc_ring_fits(struct lsc_ring *r, size_t len)
{
	uint64_t used = atomic_load_explicit(&r->head, memory_order_relaxed) -
			atomic_load_explicit(&r->tail, memory_order_acquire);

	return ((sizeof(struct rec_hdr) + len + 7) & ~(size_t)7) <= r->cap - used;
}

int lsc_ring_push(struct lsc_ring *r, uint16_t type, const void *a, size_t alen, const void *b,
		  size_t blen)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	struct rec_hdr h = {(uint32_t)(alen + blen), type, 0};
	size_t need = sizeof(h) + alen + blen;

	need = (need + 7) & ~(size_t)7;
	if (need > r->cap - (head - tail)) {
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return -1;
	}
	copy_in(r, head, &h, sizeof(h));
	copy_in(r, head + sizeof(h), a, alen);
	if (blen)
		copy_in(r, head + sizeof(h) + alen, b, blen);
	atomic_store_explicit(&r->head, head + need, memory_order_release);
	return 0;
}

size_t lsc_ring_pop(struct lsc_ring *r, uint16_t *type, void *buf, size_t cap)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	struct rec_hdr h;
	size_t need;

	if (head == tail)
		return 0;
	copy_out(r, tail, &h, sizeof(h));
	need = (sizeof(h) + h.len + 7) & ~(size_t)7;
	if (h.len <= cap)
		copy_out(r, tail + sizeof(h), buf, h.len);
	atomic_store_explicit(&r->tail, tail + need, memory_order_release);
	*type = h.type;
	return h.len <= cap ? h.len : 0;
}
