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

#define UC_ENTRIES 32

struct uc_entry {
	uintptr_t ip, sp, bp; /* ip 0: empty */
	uint32_t site, nchecks;
	int need_bp; /* some frame's address came from the caller's rbp */
	struct {
		uintptr_t addr, value;
	} check[2 * LSC_AGENT_MAX_FRAMES];
};

struct ucache {
	_Atomic int in_use;
	uintptr_t lo, hi; /* the thread's stack: the cache serves frames on it, nowhere else */
	struct uc_entry e[UC_ENTRIES];
};

/* This thread's cache, claimed on its first full-mode allocation (NULL: none to be had). */
struct ucache *lsc__heap_ucache_claim(void);
/* Unwinds from the caller's frame, noting what was read, and caches the stack in e. */
uint32_t lsc__heap_site_learn(struct lsc_heap_sites *sites, const struct caller *k,
			      struct uc_entry *e, uintptr_t c_lo, uintptr_t c_hi);

static inline struct uc_entry *lsc__heap_uc_slot(struct ucache *c, const struct caller *k)
{
	uintptr_t h = (k->ip ^ (k->sp >> 4)) * 0x9e3779b97f4a7c15ULL;

	return &c->e[h >> 59];
}

/* The site of the stack above the caller's frame k: from the thread's cache when unwinding would
 * repeat itself (--heap full; inline: it is every full-mode allocation's path). */
static inline __attribute__((always_inline)) uint32_t
lsc__heap_site_of(struct lsc_heap_sites *sites, const struct caller *k)
{
	struct ucache *c;
	struct uc_entry *e;
	uint32_t i, s;

	lsc__T.in_agent = 1;
	c = lsc__T.ucache || lsc__T.no_ucache ? lsc__T.ucache : lsc__heap_ucache_claim();
	if (c && k->sp >= c->lo && k->sp < c->hi) {
		e = lsc__heap_uc_slot(c, k);
		if (e->ip == k->ip && e->sp == k->sp && (!e->need_bp || e->bp == k->bp)) {
			for (i = 0; i < e->nchecks; i++)
				if (*(const uintptr_t *)e->check[i].addr != e->check[i].value)
					break;
			if (i == e->nchecks) {
				lsc__T.in_agent = 0;
				return e->site;
			}
		}
		e->ip = 0;
		s = lsc__heap_site_learn(sites, k, e, c->lo, c->hi);
	} else {
		s = lsc__heap_site_learn(sites, k, NULL, 0, 0);
	}
	lsc__T.in_agent = 0;
	return s;
}

/* --heap full: the per-thread caches; 0, or -1 (the caches are then not used). */
int lsc__heap_stacks_init(void);

#endif
