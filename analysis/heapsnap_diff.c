/*
 * heapsnap_diff.c — several heap snapshots of one process (lsc_heapsnap.h), taken in order: what
 * keeps growing, and what was made between the first two and is still alive in the last (the
 * three-snapshot method). V8 gives an object the same id in every snapshot of one process, so
 * an object is followed across the snapshots by its id.
 *
 * Growing: the largest retainers of the last snapshot (lsc_snap_top_retainers), each looked up
 * in the earlier snapshots; one whose retained size rose from each snapshot to the next, by half
 * of itself and a megabyte at least over the series, is a growing collection. Survivors: the
 * last snapshot's objects whose ids the second snapshot has and the first has not, by class,
 * with the one of each class that retains the most (its path names where they hang).
 */
#include "lsc_heapsnap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_GROWTH (1u << 20)

struct by_id {
	uint32_t *node; /* node indices sorted by id */
	uint32_t n;
};

static const struct lsc_snap *sort_by;

static int cmp_id(const void *a, const void *b)
{
	uint32_t x = sort_by->id[*(const uint32_t *)a], y = sort_by->id[*(const uint32_t *)b];

	return x < y ? -1 : x > y;
}

static int index_ids(const struct lsc_snap *s, struct by_id *ix)
{
	uint32_t i;

	ix->node = malloc(((size_t)s->nnodes + 1) * sizeof(*ix->node));
	if (!ix->node)
		return -ENOMEM;
	for (i = 0; i < s->nnodes; i++)
		ix->node[i] = i;
	ix->n = s->nnodes;
	sort_by = s;
	qsort(ix->node, ix->n, sizeof(*ix->node), cmp_id);
	return 0;
}

/* The node with this id, or UINT32_MAX. */
static uint32_t find(const struct lsc_snap *s, const struct by_id *ix, uint32_t id)
{
	uint32_t lo = 0, hi = ix->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->id[ix->node[mid]] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->n && s->id[ix->node[lo]] == id ? ix->node[lo] : UINT32_MAX;
}

int lsc_snap_compare(struct lsc_snap *const *snaps, size_t n, struct lsc_snap_compared *out)
{
	const struct lsc_snap *last = snaps[n - 1];
	struct by_id ix[LSC_SNAP_MAX] = {{0}};
	uint32_t top[64], i;
	size_t k, ntop, ng = 0, nslots = 1 << 14, ngroups = 0;
	uint32_t *slot = NULL;
	int err = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (n < 2 || n > LSC_SNAP_MAX)
		return -EINVAL;
	for (k = 0; k < n; k++)
		if (index_ids(snaps[k], &ix[k]))
			goto out;
	/* growing: the last snapshot's largest retainers, followed back by id */
	ntop = lsc_snap_top_retainers(last, top, 64);
	for (k = 0; k < ntop && ng < LSC_SNAP_GROWING; k++) {
		struct lsc_snap_growth *g = &out->growing[ng];
		size_t j;
		int rising = 1;

		g->node = top[k];
		for (j = 0; j < n; j++) {
			uint32_t v = j + 1 == n ? top[k] : find(snaps[j], &ix[j], last->id[top[k]]);

			g->retained[j] = v == UINT32_MAX ? 0 : snaps[j]->retained[v];
			if (j && g->retained[j] <= g->retained[j - 1])
				rising = 0;
		}
		if (rising && g->retained[n - 1] >= g->retained[0] + MIN_GROWTH &&
		    g->retained[n - 1] * 2 >= g->retained[0] * 3)
			ng++;
	}
	out->ngrowing = ng;
	/* survivors: in the second, not in the first, still in the last; by class */
	slot = malloc(nslots * sizeof(*slot));
	if (!slot)
		goto out;
	for (k = 0; k < nslots; k++)
		slot[k] = UINT32_MAX;
	for (i = 1; i < last->nnodes; i++) {
		uint32_t id = last->id[i], v;
		char name[128];
		uint64_t h = 1469598103934665603ULL;
		const char *c;
		struct lsc_snap_group *gr;

		if (find(snaps[0], &ix[0], id) != UINT32_MAX ||
		    find(snaps[1], &ix[1], id) == UINT32_MAX)
			continue;
		lsc_snap_class(last, i, name, sizeof(name));
		for (c = name; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211ULL;
		for (k = h & (nslots - 1); slot[k] != UINT32_MAX; k = (k + 1) & (nslots - 1))
			if (!strcmp(out->survivors[slot[k]].name, name))
				break;
		if (slot[k] == UINT32_MAX) {
			if (ngroups == LSC_SNAP_GROUPS)
				continue; /* (a snapshot with that many classes: the first ones) */
			slot[k] = (uint32_t)ngroups;
			memset(&out->survivors[ngroups], 0, sizeof(out->survivors[0]));
			snprintf(out->survivors[ngroups].name, sizeof(out->survivors[0].name), "%s",
				 name);
			out->survivors[ngroups].example = i;
			ngroups++;
		}
		gr = &out->survivors[slot[k]];
		v = gr->example;
		gr->count++;
		gr->self += last->self[i];
		if (last->retained[i] > last->retained[v])
			gr->example = i;
	}
	out->nsurvivors = ngroups;
	/* the groups with the most bytes first */
	for (k = 1; k < ngroups; k++)
		for (i = (uint32_t)k; i > 0 && out->survivors[i].self > out->survivors[i - 1].self;
		     i--) {
			struct lsc_snap_group t = out->survivors[i];

			out->survivors[i] = out->survivors[i - 1];
			out->survivors[i - 1] = t;
		}
	err = 0;
out:
	for (k = 0; k < n; k++)
		free(ix[k].node);
	free(slot);
	return err;
}
