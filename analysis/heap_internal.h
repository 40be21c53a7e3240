/*
 * heap_internal.h — what heap.c (the native heap, the timeline, the verdicts) and heap_js.c
 * (Node.js's JS heap by allocation site) share: one heap's snapshot series turned into sites.
 */
#ifndef LSC_HEAP_INTERNAL_H
#define LSC_HEAP_INTERNAL_H

#include "lsc_heap.h"

/* A heap's snapshot kinds (absent ones -1). The native and the JS heap number their snapshots
 * from one counter: a batch belongs to the heap its kind says. */
struct lsc_heap_family {
	int live_b, live_c, alloc_b, alloc_c, temp_c;
	double dip; /* a site still grows steadily through dips of this share of its live bytes */
};
extern const struct lsc_heap_family lsc__native_heap, lsc__js_heap;

/* One heap's sites: every stack live at the end or grown, by growth; the name_upto most live and
 * most grown named; its temporaries by count. */
struct lsc_heap_site_set {
	struct lsc_heap_site *sites;
	size_t nsites;
	uint32_t snapshots; /* complete ones */
	double first_s, last_s;
	uint64_t live_bytes, live_count;
	struct lsc_heap_site temp[LSC_HEAP_TOP];
	size_t ntemp;
};

int lsc__heap_family_sites(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   const struct lsc_heap_family *fam, size_t name_upto,
			   struct lsc_heap_site_set *o, size_t *unresolved);

/* heap_js.c: the JS heap's sites, one per owner function; the native sites that are the
 * engine's own marked so. */
int lsc__heap_js(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		 struct lsc_heap_report *h);

#endif
