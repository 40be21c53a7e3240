/*
 * heapsnap_diff.c — several heap snapshots of one process (lsc_heapsnap.h), taken in order: what
 * keeps growing, and what was made between the first two and is still alive in the last (the
 * three-snapshot method). V8 gives an object the same id in every snapshot of one process, so
 * an object is followed across the snapshots by its id.
 *
 * Growing: the largest retainers of the last snapshot (lsc_snap_top_retainers), each looked up
 * in the earlier snapshots; one whose retained size rose from each snapshot to the next, by half
 * of itself and a megabyte at least over the series, is a growing collection. Survivors: the
 * last snapshot's objects whose ids the second snapshot has and the first has not, grouped by
 * class and by holder: the nearest object above them in the dominator tree that a person can
 * name and that was already there in the first snapshot (the cache Map the new entries went
 * into, the array the new Sessions were pushed on), the "retainer path" they share.
 */
#include "lsc_heapsnap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_GROWTH (1u << 20)

/* The ids sorted by a radix sort (two passes of 16 bits over id << 32 | node): a comparison
 * sort of 12 M nodes through an indirection takes seconds, this a tenth of one. */
int lsc_snap_ids(const struct lsc_snap *s, struct lsc_snap_ids *out)
{
	uint64_t *a = malloc((size_t)s->nnodes * sizeof(*a));
	uint64_t *b = malloc((size_t)s->nnodes * sizeof(*b));
	uint32_t *count = calloc(1u << 16, sizeof(*count)), i;
	int pass;

	memset(out, 0, sizeof(*out));
	out->id = malloc(((size_t)s->nnodes + 1) * sizeof(*out->id));
	out->retained = malloc(((size_t)s->nnodes + 1) * sizeof(*out->retained));
	if (!a || !b || !count || !out->id || !out->retained) {
		free(a);
		free(b);
		free(count);
		lsc_snap_ids_free(out);
		return -ENOMEM;
	}
	for (i = 0; i < s->nnodes; i++)
		a[i] = (uint64_t)s->id[i] << 32 | i;
	for (pass = 0; pass < 2; pass++) {
		unsigned shift = 32 + 16 * (unsigned)pass;
		uint32_t sum = 0, d;
		uint64_t *t;

		memset(count, 0, (1u << 16) * sizeof(*count));
		for (i = 0; i < s->nnodes; i++)
			count[(a[i] >> shift) & 0xffff]++;
		for (d = 0; d < 1u << 16; d++) {
			uint32_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (i = 0; i < s->nnodes; i++)
			b[count[(a[i] >> shift) & 0xffff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (i = 0; i < s->nnodes; i++) {
		out->id[i] = (uint32_t)(a[i] >> 32);
		out->retained[i] = s->retained[(uint32_t)a[i]];
	}
	out->n = s->nnodes;
	out->total_self = s->total_self;
	free(a);
	free(b);
	free(count);
	return 0;
}

void lsc_snap_ids_free(struct lsc_snap_ids *d)
{
	free(d->id);
	free(d->retained);
	memset(d, 0, sizeof(*d));
}

/* The place of id in d, or UINT32_MAX. */
static uint32_t find(const struct lsc_snap_ids *d, uint32_t id)
{
	uint32_t lo = 0, hi = d->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (d->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->n && d->id[lo] == id ? lo : UINT32_MAX;
}

/* Each node's holder (lsc_snap_group): up the dominator tree to the first named object that
 * was in the first snapshot. Resolved once per node: a walk up to the first node known, then
 * its answer written along the way. */
static void holders(const struct lsc_snap *s, const uint8_t *old, uint32_t *holder)
{
	uint32_t i, v, h;

	for (i = 0; i < s->nnodes; i++)
		holder[i] = UINT32_MAX;
	holder[0] = 0;
	for (i = 1; i < s->nnodes; i++) {
		/* the answer: up from i's dominator */
		for (v = s->dom[i];; v = s->dom[v]) {
			if (v && old[v] == 1 && lsc_snap_named(s, v)) {
				h = v;
				break;
			}
			if (holder[v] != UINT32_MAX && v != i) {
				h = holder[v];
				break;
			}
		}
		/* written for i and the dominators passed on the way (theirs is the same) */
		for (v = i; holder[v] == UINT32_MAX;) {
			holder[v] = h;
			v = s->dom[v];
			if (v && old[v] == 1 && lsc_snap_named(s, v))
				break;
		}
	}
}

int lsc_snap_compare(const struct lsc_snap_ids *earlier, size_t nearlier,
		     const struct lsc_snap *last, struct lsc_snap_compared *out)
{
	size_t n = nearlier + 1;
	uint32_t top[64], i;
	size_t k, ntop, ng = 0, nslots = 1 << 14, ngroups = 0;
	uint32_t *slot = NULL, *holder;
	uint8_t *old; /* 1: in the first snapshot; 2: made after the second; 0: in between */

	memset(out, 0, sizeof(*out));
	if (n < 2 || n > LSC_SNAP_MAX)
		return -EINVAL;
	out->n = n;
	for (k = 0; k < nearlier; k++) {
		out->objects[k] = earlier[k].n;
		out->self[k] = earlier[k].total_self;
	}
	out->objects[n - 1] = last->nnodes;
	out->self[n - 1] = last->total_self;
	/* growing: the last snapshot's largest retainers, followed back by id */
	ntop = lsc_snap_top_retainers(last, top, 64);
	for (k = 0; k < ntop && ng < LSC_SNAP_GROWING; k++) {
		struct lsc_snap_growth *g = &out->growing[ng];
		size_t j;
		int rising = 1;

		g->node = top[k];
		for (j = 0; j < n; j++) {
			uint32_t v = j + 1 == n ? 0 : find(&earlier[j], last->id[top[k]]);

			g->retained[j] = j + 1 == n	   ? last->retained[top[k]]
					 : v == UINT32_MAX ? 0
							   : earlier[j].retained[v];
			if (j && g->retained[j] <= g->retained[j - 1])
				rising = 0;
		}
		if (rising && g->retained[n - 1] >= g->retained[0] + MIN_GROWTH &&
		    g->retained[n - 1] * 2 >= g->retained[0] * 3)
			ng++;
	}
	out->ngrowing = ng;
	/* survivors: in the second, not in the first, still in the last; by class and holder */
	slot = malloc(nslots * sizeof(*slot));
	old = calloc(last->nnodes, 1);
	holder = malloc((size_t)last->nnodes * sizeof(*holder));
	if (!slot || !old || !holder) {
		free(slot);
		free(old);
		free(holder);
		return -ENOMEM;
	}
	for (i = 0; i < last->nnodes; i++) {
		uint32_t id = last->id[i];

		old[i] = find(&earlier[0], id) != UINT32_MAX
				 ? 1
				 : (n > 2 && find(&earlier[1], id) == UINT32_MAX ? 2 : 0);
	}
	holders(last, old, holder);
	for (k = 0; k < nslots; k++)
		slot[k] = UINT32_MAX;
	for (i = 1; i < last->nnodes; i++) {
		uint32_t id = last->id[i], v;
		char name[128];
		uint64_t h = 1469598103934665603ULL;
		const char *c;
		struct lsc_snap_group *gr;

		(void)id;
		if (old[i])
			continue;
		lsc_snap_class(last, i, name, sizeof(name));
		for (c = name; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211ULL;
		h = (h ^ holder[i]) * 1099511628211ULL;
		for (k = h & (nslots - 1); slot[k] != UINT32_MAX; k = (k + 1) & (nslots - 1))
			if (out->survivors[slot[k]].holder == holder[i] &&
			    !strcmp(out->survivors[slot[k]].name, name))
				break;
		if (slot[k] == UINT32_MAX) {
			if (ngroups == LSC_SNAP_GROUPS)
				continue; /* (a snapshot with that many classes: the first ones) */
			slot[k] = (uint32_t)ngroups;
			memset(&out->survivors[ngroups], 0, sizeof(out->survivors[0]));
			snprintf(out->survivors[ngroups].name, sizeof(out->survivors[0].name), "%s",
				 name);
			out->survivors[ngroups].example = i;
			out->survivors[ngroups].holder = holder[i];
			ngroups++;
		}
		gr = &out->survivors[slot[k]];
		v = gr->example;
		gr->count++;
		gr->self += last->self[i];
		if (last->retained[i] > last->retained[v])
			gr->example = i;
	}
	free(slot);
	free(old);
	free(holder);
	out->nsurvivors = ngroups;
	/* the groups with the most bytes first */
	for (k = 1; k < ngroups; k++)
		for (i = (uint32_t)k; i > 0 && out->survivors[i].self > out->survivors[i - 1].self;
		     i--) {
			struct lsc_snap_group t = out->survivors[i];

			out->survivors[i] = out->survivors[i - 1];
			out->survivors[i - 1] = t;
		}
	return 0;
}
