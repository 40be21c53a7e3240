/*
 * heap_stacks.h — what heap.c and heap_stacks.c share: the caller's frame an interposed call
 * starts from, and the allocation site of a stack (heap_stacks.c says how it is found).
 */
#ifndef LSC_HEAP_STACKS_H
#define LSC_HEAP_STACKS_H

#include "preload.h"

struct caller {
	uintptr_t ip, sp, bp;
};

/* The frame of whoever called the interposed function, which is built with frame pointers. */
#define CALLER_HERE()                                                                              \
	((struct caller){(uintptr_t)__builtin_return_address(0),                                   \
			 (uintptr_t)__builtin_frame_address(0) + 16,                               \
			 *(uintptr_t *)__builtin_frame_address(0)})

/* The agent's own code: its frames are left off stacks (set by heap.c from the loader). */
extern uintptr_t lsc__self_lo, lsc__self_hi;

/* The site of the stack here, unwound (a sampled allocation). */
uint32_t lsc__heap_site_here(struct lsc_heap_sites *sites);

/*
 * --heap full's per-thread cache of verified stacks (heap_stacks.c says what is verified): a
 * set-associative table of UC_SETS sets of UC_WAYS entries, keyed by the caller's frame, and a
 * ring of the stack slots the entries check. An entry's slots are a stretch of the ring; it
 * stands while the ring has not come round to that stretch (UC_LIVE: the slots written since it
 * are fewer than the ring less one unwinding's most), so no entry owns a fixed array of the
 * most slots a stack can need: a stack checks 30 to 60 slots in Node.js, the most is 128.
 * Several entries may share a key (the same call reached from different callers): the ways of a
 * set hold them side by side instead of evicting each other.
 */
#define UC_SETS	      256
#define UC_WAYS	      4
#define UC_MAX_CHECKS (2 * LSC_AGENT_MAX_FRAMES) /* one unwinding's most */
#define UC_CHECKS     16384			 /* the ring */
#define UC_LIVE	      (UC_CHECKS - UC_MAX_CHECKS)

struct uc_check {
	uintptr_t addr, value;
};

struct uc_entry {
	uintptr_t ip, sp, bp; /* ip 0: empty */
	uint64_t at;	      /* its checks: the ring's slots from at (a count of slots written) */
	uint32_t site;
	uint16_t nchecks;
	uint8_t need_bp; /* some frame's address came from the caller's rbp */
};

struct ucache {
	int slot;	       /* its place among the caches (heap_stacks.c) */
	uintptr_t lo, hi;      /* the thread's stack: the cache serves frames on it, nowhere else */
	uint64_t head;	       /* slots written into the ring, ever */
	uint8_t next[UC_SETS]; /* the way each set replaces next, round robin */
	struct uc_entry e[UC_SETS * UC_WAYS];
	struct uc_check check[UC_CHECKS];
};

/* This thread's cache, claimed on its first full-mode allocation (NULL: none to be had). */
struct ucache *lsc__heap_ucache_claim(void);
/* Unwinds from the caller's frame, noting what was read, and caches the stack in one of the
 * ways of set (NULL: not cached). */
uint32_t lsc__heap_site_learn(struct lsc_heap_sites *sites, const struct caller *k,
			      struct ucache *c, struct uc_entry *set);

static inline struct uc_entry *lsc__heap_uc_set(struct ucache *c, const struct caller *k)
{
	uintptr_t h = (k->ip ^ (k->sp >> 4)) * 0x9e3779b97f4a7c15ULL;

	return &c->e[(h >> (64 - 8)) * UC_WAYS]; /* 8: log2(UC_SETS) */
}

/* Whether e holds the stack above k: the key matches, its slots are still in the ring, and each
 * holds the value it held when the stack was unwound. */
static inline __attribute__((always_inline)) int
lsc__heap_uc_hit(const struct ucache *c, const struct uc_entry *e, const struct caller *k)
{
	const struct uc_check *ck;
	uint32_t i;

	if (e->ip != k->ip || e->sp != k->sp || (e->need_bp && e->bp != k->bp) ||
	    c->head - e->at > UC_LIVE)
		return 0;
	ck = &c->check[e->at % UC_CHECKS];
	for (i = 0; i < e->nchecks; i++)
		if (*(const uintptr_t *)ck[i].addr != ck[i].value)
			return 0;
	return 1;
}

/* The site of the stack above the caller's frame k: from the thread's cache when unwinding would
 * repeat itself (--heap full; inline: it is every full-mode allocation's path). */
static inline __attribute__((always_inline)) uint32_t
lsc__heap_site_of(struct lsc_heap_sites *sites, const struct caller *k)
{
	struct ucache *c;
	struct uc_entry *set = NULL;
	uint32_t w, s;

	lsc__T.in_agent = 1;
	c = lsc__T.ucache || lsc__T.no_ucache ? lsc__T.ucache : lsc__heap_ucache_claim();
	if (c && k->sp >= c->lo && k->sp < c->hi) {
		set = lsc__heap_uc_set(c, k);
		for (w = 0; w < UC_WAYS; w++)
			if (lsc__heap_uc_hit(c, &set[w], k)) {
				lsc__T.in_agent = 0;
				return set[w].site;
			}
	}
	s = lsc__heap_site_learn(sites, k, c, set);
	lsc__T.in_agent = 0;
	return s;
}

/* --heap full: the per-thread caches; 0, or -1 (the caches are then not used). */
int lsc__heap_stacks_init(void);

#endif
