/*
 * heap_sites.c — the native heap tracker's tables, shared by every thread that allocates:
 *  - allocation sites: one per distinct stack, with atomic counters (allocated, live,
 *    temporary); a site is found by the hash of its frames and never moves or goes away;
 *  - sampled allocations (--heap sampled): the live sampled pointers, with their site and the
 *    bytes and count each one stands for, found from their page, behind a counting filter by
 *    page so that a look-up of a pointer that was not sampled costs one read of a small array
 *    (heap.c looks up only 256-byte aligned pointers: every sample, and one block in 16 of
 *    the others);
 *  - the sampling arithmetic: Poisson sampling by bytes (a sample point every Exp(interval)
 *    bytes) and the weights that make the estimates unbiased.
 *
 * Everything lives in mmap'd memory made once; inserts are lock-free (compare-and-swap), so an
 * allocation on any thread, in a signal handler or in a forked child never waits for another.
 * Written here rather than taken from a library: no library offers lock-free, allocation-free
 * tables that can live under malloc itself.
 */
#include "agent.h"
#include "lsc_recording.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define TOMB   1ULL /* a removed sample: lookups go on past it, inserts may reuse it */
#define PROBES 64

void *lsc_map_zeroed(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void *lsc_map_table(size_t bytes)
{
	char *p = lsc_map_zeroed(bytes);

	if (p && madvise(p, bytes, MADV_POPULATE_WRITE))
		for (size_t i = 0; i < bytes; i += 4096)
			p[i] = 0; /* an older kernel: a write fault per page, the same outcome */
	return p;
}

void lsc_unmap(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

/* ------------------------------------------------------------------ sites */

int lsc_heap_sites_init(struct lsc_heap_sites *t, uint32_t cap, uint64_t frames_cap)
{
	memset(t, 0, sizeof(*t));
	t->site = lsc_map_zeroed((size_t)cap * sizeof(*t->site));
	/* Looked up at random, by every allocation's thread: each 64th of it is made the
	 * process's own when a lookup first reaches it (index_touch), not all 2 MiB at the start
	 * (that took 0.75 ms of every Node start). */
	t->index = lsc_map_zeroed((size_t)cap * 2 * sizeof(*t->index));
	t->index_chunk = (size_t)cap * 2 * sizeof(*t->index) / 64;
	if (t->index_chunk % 4096) {
		lsc_unmap(t->index, (size_t)cap * 2 * sizeof(*t->index));
		t->index = lsc_map_table((size_t)cap * 2 * sizeof(*t->index));
		t->index_chunk = 0; /* small: all of it now */
	}
	t->frames = lsc_map_zeroed(frames_cap * sizeof(*t->frames));
	if (!t->site || !t->index || !t->frames)
		return -1;
	t->cap = cap;
	t->frames_cap = frames_cap;
	/* Site 0: "no stack" (the agent's own allocations); site 1: the table was full. */
	atomic_store(&t->n, 2);
	atomic_store(&t->site[1].ready, 1);
	return 0;
}

static int same(const struct lsc_heap_sites *t, uint32_t s, uint64_t h, const uint64_t *f,
		uint32_t n, int aux)
{
	const struct lsc_heap_site *e = &t->site[s];

	return e->hash == h && e->nframes == n && e->aux == (uint32_t)aux &&
	       memcmp(t->frames + e->frames_off, f, n * sizeof(*f)) == 0;
}

/* The 64th of the index that slot j is in, made the process's own (MADV_POPULATE_WRITE) the
 * first time: a first read would map the zero page, and the first write after it copy it with
 * a TLB shootdown (lsc_map_table). Two threads may both do it: the second changes nothing. */
static void index_touch(struct lsc_heap_sites *t, uint32_t j)
{
	size_t at;
	uint64_t bit;

	if (!t->index_chunk)
		return;
	at = (size_t)j * sizeof(*t->index) / t->index_chunk;
	bit = 1ULL << at;
	if (atomic_load_explicit(&t->index_ready, memory_order_relaxed) & bit)
		return;
	at *= t->index_chunk;
	if (madvise((char *)t->index + at, t->index_chunk, MADV_POPULATE_WRITE))
		for (size_t k = 0; k < t->index_chunk; k += 4096) /* an older kernel */
			atomic_fetch_or_explicit(&t->index[(at + k) / sizeof(*t->index)], 0,
						 memory_order_relaxed);
	atomic_fetch_or_explicit(&t->index_ready, bit, memory_order_relaxed);
}

uint32_t lsc_heap_site(struct lsc_heap_sites *t, const uint64_t *f, uint32_t n)
{
	return lsc_heap_site_aux(t, f, n, 0);
}

uint32_t lsc_heap_site_aux(struct lsc_heap_sites *t, const uint64_t *f, uint32_t n, int aux)
{
	uint64_t h = lsc_hash_frames(f, n) ^ (uint64_t)aux, off;
	uint32_t mask = t->cap * 2 - 1, j = (uint32_t)h & mask, probes, s, mine = 0;

	for (probes = 0; probes < t->cap * 2; probes++, j = (j + 1) & mask) {
		index_touch(t, j);
		s = atomic_load_explicit(&t->index[j], memory_order_acquire);
		if (s && same(t, s, h, f, n, aux))
			return s;
		if (s)
			continue;
		/* An empty slot: the stack is new. Fill a site, then publish it here. */
		if (!mine) {
			mine = atomic_fetch_add(&t->n, 1);
			off = atomic_fetch_add(&t->frames_used, n);
			if (mine >= t->cap || off + n > t->frames_cap) {
				atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
				return 1;
			}
			memcpy(t->frames + off, f, n * sizeof(*f));
			t->site[mine].hash = h;
			t->site[mine].nframes = n;
			t->site[mine].aux = (uint32_t)aux;
			t->site[mine].frames_off = off;
			atomic_store_explicit(&t->site[mine].ready, 1, memory_order_release);
		}
		s = 0;
		if (atomic_compare_exchange_strong(&t->index[j], &s, mine))
			return mine;
		/* Another thread took the slot first, maybe with this very stack: look again. */
		if (same(t, s, h, f, n, aux))
			return s; /* our site stays unused: its counters remain zero */
	}
	atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
	return 1;
}

void lsc_heap_count_alloc(struct lsc_heap_sites *t, uint32_t s, uint64_t bytes, uint64_t milli)
{
	struct lsc_heap_site *e = &t->site[s];

	atomic_fetch_add_explicit(&e->alloc_bytes, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->alloc_milli, milli, memory_order_relaxed);
}

void lsc_heap_count_free(struct lsc_heap_sites *t, uint32_t s, uint64_t bytes, uint64_t milli,
			 int temporary)
{
	struct lsc_heap_site *e = &t->site[s];

	atomic_fetch_add_explicit(&e->freed_bytes, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->freed_milli, milli, memory_order_relaxed);
	if (temporary)
		atomic_fetch_add_explicit(&e->temp_milli, milli, memory_order_relaxed);
}

/* ------------------------------------------------------------------ sampled pointers */

int lsc_heap_samples_init(struct lsc_heap_samples *s, uint32_t slots, uint32_t filter)
{
	memset(s, 0, sizeof(*s));
	s->slot = lsc_map_zeroed((size_t)slots * sizeof(*s->slot));
	s->filter = lsc_map_table(filter); /* read by every free, at random */
	if (!s->slot || !s->filter)
		return -1;
	s->mask = slots - 1;
	s->fmask = filter - 1;
	return 0;
}

/* The filter is by page, not by hash (lsc_heap_samples_cell): the frees of a program hit few
 * pages at a time, so the cells they read stay in cache; a page holding a sample sends the frees
 * in it to the table (few: a sample is taken every interval bytes). */

/* Where the search for p starts: its page. So the live samples of a heap occupy a stretch of
 * the table as long as the heap, about one slot per 4 KiB of it, and the table's pages that a
 * program touches, and misses in cache and TLB, are in proportion to its heap rather than the whole
 * table at random (8 MiB: it cost malloc_mixed 6 %). Pointers inside a page are spread by their
 * offset. */
static uint32_t home(const struct lsc_heap_samples *s, uintptr_t p)
{
	return (uint32_t)((p >> 12) + ((p >> 4) & 0xff) * 0x9e3779b1u) & s->mask;
}

int lsc_heap_samples_put(struct lsc_heap_samples *s, uintptr_t p, uint32_t site, uint64_t bytes,
			 uint64_t milli)
{
	_Atomic uint8_t *c = lsc_heap_samples_cell(s, p);
	uint32_t j = home(s, p), k;
	uint8_t v;

	for (k = 0; k < PROBES; k++, j = (j + 1) & s->mask) {
		uint64_t cur = 0;

		/* The swap first, not a read: a slot's first access is then a write, and a page
		 * of the table never read before does not go through the zero page's copy (a TLB
		 * shootdown: lsc_map_table). */
		if (!atomic_compare_exchange_strong(&s->slot[j].ptr, &cur, (uint64_t)p) &&
		    (cur != TOMB ||
		     !atomic_compare_exchange_strong(&s->slot[j].ptr, &cur, (uint64_t)p)))
			continue;
		s->slot[j].site = site;
		s->slot[j].bytes = bytes;
		s->slot[j].milli = milli;
		/* The filter counts the samples that hash to a cell; 255 sticks. */
		v = atomic_load_explicit(c, memory_order_relaxed);
		while (v < 255 && !atomic_compare_exchange_weak(c, &v, (uint8_t)(v + 1)))
			;
		return 0;
	}
	atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
	return -1;
}

int lsc_heap_samples_take(struct lsc_heap_samples *s, uintptr_t p, uint32_t *site, uint64_t *bytes,
			  uint64_t *milli)
{
	_Atomic uint8_t *c = lsc_heap_samples_cell(s, p);
	uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
	uint32_t j, k;

	if (!v)
		return 0; /* the common case: nothing sampled in this page */
	j = home(s, p);
	for (k = 0; k < PROBES; k++, j = (j + 1) & s->mask) {
		uint64_t cur = atomic_load_explicit(&s->slot[j].ptr, memory_order_acquire);

		if (!cur)
			return 0;
		if (cur != (uint64_t)p)
			continue;
		*site = s->slot[j].site;
		*bytes = s->slot[j].bytes;
		*milli = s->slot[j].milli;
		atomic_store_explicit(&s->slot[j].ptr, TOMB, memory_order_release);
		while (v < 255 && v > 0 && !atomic_compare_exchange_weak(c, &v, (uint8_t)(v - 1)))
			;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ sampling */

uint64_t lsc_heap_rand(uint64_t *state)
{
	/* xorshift64*: fast, and good enough to place sample points */
	uint64_t x = *state ? *state : 0x2545f4914f6cdd1dULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

int64_t lsc_heap_next_gap(uint64_t *state, uint64_t interval)
{
	/* u in (0, 1]: -log(u) is an Exp(1) draw */
	double u = ((double)(lsc_heap_rand(state) >> 11) + 1.0) / 9007199254740992.0;
	double gap = -log(u) * (double)interval;

	return gap < 1 ? 1 : gap > 4e18 ? (int64_t)4e18 : (int64_t)gap;
}

void lsc_heap_weight(uint64_t size, uint64_t interval, uint64_t *bytes, uint64_t *milli)
{
	/* An allocation of size bytes holds at least one sample point with probability
	 * 1 - exp(-size / interval); weighting each sampled one by the inverse makes the sums of
	 * bytes and counts unbiased. */
	double p = -expm1(-(double)size / (double)interval);

	if (p <= 0) {
		*bytes = size;
		*milli = 1000;
		return;
	}
	*bytes = (uint64_t)llround((double)size / p);
	*milli = (uint64_t)llround(1000.0 / p);
}
