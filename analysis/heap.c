/*
 * heap.c — memory growth and leaks from a recording (lsc_heap.h).
 *
 * The verdict on a series (native live bytes at window ends, or the managed heap live after
 * each GC) is robust by construction: the first quarter of the time is warm-up and judged apart;
 * over the rest, the rate is the Theil-Sen slope (the median of the slopes between all pairs of
 * points, unmoved by a few outliers such as a GC that ran late) and the confidence the share of
 * those pairs that rise (0.5 for noise, 1 for a steady climb). Growth counts when it exceeds a
 * tenth of the level and 1 MiB. Then: steady growth is a leak; rises and falls whose floors (the
 * minimum of each quarter of the rest) climb are a sawtooth with a rising floor; growth only
 * during the warm-up is warm-up then flat; anything else is flat.
 */
#include "lsc_heap.h"
#include "heap_internal.h"
#include "lsc_error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB	   1048576.0
#define MAX_POINTS 240 /* Theil-Sen is quadratic: longer series are subsampled evenly */
#define NAMED	   200 /* sites whose stacks are named, by growth and by live bytes each */

const char *lsc_heap_verdict_name(int v)
{
	switch (v) {
	case LSC_GROWTH_FLAT:
		return "flat";
	case LSC_GROWTH_WARMUP:
		return "warm-up then flat";
	case LSC_GROWTH_SAWTOOTH:
		return "sawtooth with a rising floor";
	case LSC_GROWTH_LEAK:
		return "leak";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ the verdict */

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Theil-Sen slope over p[0..n), and the share of pairs that rise (ties count half). */
static double theil_sen(const struct lsc_heap_point *p, size_t n, double *rising)
{
	size_t i, j, k = 0;
	double *s, up = 0, med;

	*rising = 0.5;
	if (n < 2)
		return 0;
	s = malloc(n * (n - 1) / 2 * sizeof(*s));
	if (!s)
		return 0;
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			double dt = p[j].t - p[i].t, dv = p[j].bytes - p[i].bytes;

			if (dt <= 0)
				continue;
			s[k++] = dv / dt;
			up += dv > 0 ? 1 : dv == 0 ? 0.5 : 0;
		}
	if (!k) {
		free(s);
		return 0;
	}
	qsort(s, k, sizeof(*s), by_double);
	med = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
	*rising = up / (double)k;
	free(s);
	return med;
}

static int by_time(const void *a, const void *b)
{
	const struct lsc_heap_point *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

static double median_bytes(const struct lsc_heap_point *p, size_t n)
{
	double *v = malloc((n ? n : 1) * sizeof(*v)), m;
	size_t i;

	if (!v || !n) {
		free(v);
		return 0;
	}
	for (i = 0; i < n; i++)
		v[i] = p[i].bytes;
	qsort(v, n, sizeof(*v), by_double);
	m = v[n / 2];
	free(v);
	return m;
}

void lsc_heap_trend(const struct lsc_heap_series *s, struct lsc_heap_trend *out)
{
	struct lsc_heap_point pts[MAX_POINTS];
	size_t n = 0, i, rest0, nrest, drops = 0;
	double t0, span, cut, rate, rising, level, sig, growth, warm, floor[4], ft[4];
	int q, rising_floors = 1;

	memset(out, 0, sizeof(*out));
	if (s->n < 4) {
		/* Too few for a trend; two or three that agree closely still say flat. */
		if (s->n >= 2) {
			double lo = s->p[0].bytes, hi = s->p[0].bytes;

			for (i = 1; i < s->n; i++) {
				lo = fmin(lo, s->p[i].bytes);
				hi = fmax(hi, s->p[i].bytes);
			}
			out->first = s->p[0].bytes;
			out->last = s->p[s->n - 1].bytes;
			out->max = hi;
			if (hi - lo < fmax(0.10 * hi, MIB)) {
				out->verdict = LSC_GROWTH_FLAT;
				snprintf(out->how, sizeof(out->how),
					 "only %zu points, within %.1f MiB of each other", s->n,
					 (hi - lo) / MIB);
				return;
			}
		}
		snprintf(out->how, sizeof(out->how), "only %zu points: too few to judge", s->n);
		return;
	}
	for (i = 0; i < MAX_POINTS && i < s->n; i++)
		pts[n++] = s->p[s->n <= MAX_POINTS ? i : i * (s->n - 1) / (MAX_POINTS - 1)];
	/* In time order: the warm-up cut and the quarters below assume it, and a recording's
	 * windows and GCs are in file order, which another loop's or a clock's step can break. */
	qsort(pts, n, sizeof(*pts), by_time);
	t0 = pts[0].t;
	span = pts[n - 1].t - t0;
	out->first = pts[0].bytes;
	out->last = pts[n - 1].bytes;
	for (i = 0; i < s->n; i++)
		if (s->p[i].bytes > out->max)
			out->max = s->p[i].bytes;
	if (span <= 0) {
		snprintf(out->how, sizeof(out->how), "all points at one time");
		return;
	}
	/* the first quarter is warm-up */
	cut = t0 + span / 4;
	for (rest0 = 0; rest0 < n && pts[rest0].t < cut; rest0++)
		;
	if (n - rest0 < 3)
		rest0 = n - 3;
	nrest = n - rest0;
	rate = theil_sen(pts + rest0, nrest, &rising);
	level = median_bytes(pts + rest0, nrest);
	sig = fmax(0.10 * level, MIB);
	growth = rate * (pts[n - 1].t - pts[rest0].t);
	warm = median_bytes(pts + rest0, nrest < 3 ? nrest : 3) - pts[0].bytes;
	for (i = rest0 + 1; i < n; i++)
		drops += pts[i].bytes < 0.9 * pts[i - 1].bytes;
	for (q = 0; q < 4; q++) {
		floor[q] = INFINITY;
		ft[q] = 0;
	}
	for (i = rest0; i < n; i++) {
		q = (int)((pts[i].t - pts[rest0].t) * 4 / (pts[n - 1].t - pts[rest0].t + 1e-9));
		q = q > 3 ? 3 : q;
		if (pts[i].bytes < floor[q]) {
			floor[q] = pts[i].bytes;
			ft[q] = pts[i].t;
		}
	}
	for (q = 1; q < 4; q++)
		rising_floors &=
			isfinite(floor[q]) && isfinite(floor[q - 1]) && floor[q] >= floor[q - 1];
	out->rate = rate;
	out->confidence = rising;
	if (growth > sig && rising >= 0.75) {
		out->verdict = LSC_GROWTH_LEAK;
		snprintf(
			out->how, sizeof(out->how),
			"after the first quarter (warm-up) it grows steadily: %+.1f KiB/s (Theil-Sen "
			"slope over %zu points), %.0f %% of later point pairs rise, +%.1f MiB in all",
			rate / 1024, nrest, 100 * rising, growth / MIB);
	} else if (drops >= 2 && rising_floors && floor[3] - floor[0] > sig) {
		out->verdict = LSC_GROWTH_SAWTOOTH;
		out->rate = (floor[3] - floor[0]) / (ft[3] > ft[0] ? ft[3] - ft[0] : 1);
		snprintf(
			out->how, sizeof(out->how),
			"it rises and falls (%zu drops of 10 %% or more), but the lowest point of each "
			"quarter climbs: %.1f -> %.1f MiB, %+.1f KiB/s",
			drops, floor[0] / MIB, floor[3] / MIB, out->rate / 1024);
	} else if (warm > sig && growth <= sig) {
		out->verdict = LSC_GROWTH_WARMUP;
		snprintf(out->how, sizeof(out->how),
			 "it grew by %.1f MiB in the first quarter, then stayed within %.1f MiB "
			 "(%+.1f KiB/s, %.0f %% of later pairs rise): warm-up, not a leak",
			 warm / MIB, fmax(fabs(growth), 0) / MIB, rate / 1024, 100 * rising);
	} else {
		out->verdict = LSC_GROWTH_FLAT;
		snprintf(out->how, sizeof(out->how),
			 "after the first quarter it changes by %+.1f MiB (%+.1f KiB/s), under the "
			 "%.1f MiB that would count (a tenth of its level, at least 1 MiB)",
			 growth / MIB, rate / 1024, sig / MIB);
	}
}

/* ------------------------------------------------------------------ series */

static int push(struct lsc_heap_series *s, size_t *cap, double t, double bytes)
{
	if (s->n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct lsc_heap_point *p = realloc(s->p, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->p = p;
		*cap = c;
	}
	s->p[s->n++] = (struct lsc_heap_point){t, bytes};
	return 0;
}

/* Full collections are what says what is live: a scavenge leaves old garbage standing. */
static int is_full(const Loopscope__GcEvent *g)
{
	return g->kind == LOOPSCOPE__GC_EVENT__KIND__MARK_COMPACT ||
	       g->kind == LOOPSCOPE__GC_EVENT__KIND__FULL;
}

int lsc_heap_managed_series(const struct lsc_recording *r, struct lsc_heap_series *out, int *is_rss)
{
	size_t i, cap = 0, nfull = 0;
	int err = 0, any_after = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < r->nevents; i++) {
		nfull += r->events[i]->body_case == LOOPSCOPE__EVENT__BODY_GC &&
			 r->events[i]->gc->has_heap_after && is_full(r->events[i]->gc);
		any_after |= r->events[i]->body_case == LOOPSCOPE__EVENT__BODY_GC &&
			     r->events[i]->gc->has_heap_after;
	}
	for (i = 0; !err && i < r->nevents; i++) {
		const Loopscope__Event *e = r->events[i];
		double t;

		/* gc, blocking and crash share a union: e->gc means something only here */
		if (e->body_case != LOOPSCOPE__EVENT__BODY_GC)
			continue;
		t = (double)(e->t_ns + e->gc->pause_ns) / 1e9;
		if (e->gc->has_heap_after && (nfull < 4 || is_full(e->gc)))
			err = push(out, &cap, t, (double)e->gc->heap_after);
		else if (!any_after && e->gc->has_rss_bytes)
			err = push(out, &cap, t, (double)e->gc->rss_bytes);
	}
	*is_rss = !any_after && out->n > 0;
	if (err) {
		free(out->p);
		memset(out, 0, sizeof(*out));
	}
	return err;
}

static int series(const struct lsc_recording *r, struct lsc_heap_report *h)
{
	uint32_t main_tid = lsc_recording_main_loop(r);
	size_t i, cn = 0, cr = 0, cg = 0;
	int err = 0;

	for (i = 0; !err && i < r->nwindows; i++) {
		const Loopscope__Window *w = r->windows[i];
		double t = (double)(w->start_ns + w->length_ns) / 1e9;

		if (w->loop_tid != main_tid)
			continue;
		if (w->has_malloc_live_bytes)
			err = push(&h->native, &cn, t, (double)w->malloc_live_bytes);
		if (!err && w->has_rss_bytes)
			err = push(&h->rss, &cr, t, (double)w->rss_bytes);
		if (t > h->duration_s)
			h->duration_s = t;
	}
	for (i = 0; !err && i < r->nevents; i++) {
		const Loopscope__Event *e = r->events[i];

		if (e->body_case == LOOPSCOPE__EVENT__BODY_GC)
			err = push(&h->gc, &cg, (double)(e->t_ns + e->gc->pause_ns) / 1e9,
				   (double)e->gc->pause_ns);
	}
	if (!err)
		err = lsc_heap_managed_series(r, &h->managed, &h->managed_is_rss);
	return err;
}

/* ------------------------------------------------------------------ snapshots */

const struct lsc_heap_family lsc__native_heap = {
	LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES,  LOOPSCOPE__SAMPLE_KIND__LIVE_COUNT,
	LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES, LOOPSCOPE__SAMPLE_KIND__ALLOC_COUNT,
	LOOPSCOPE__SAMPLE_KIND__TEMP_COUNT,  0,
};
/* V8 forgets a sample when a collector finds its object dead: a reading between full
 * collections still counts some garbage, which the next one drops. */
const struct lsc_heap_family lsc__js_heap = {LOOPSCOPE__SAMPLE_KIND__JS_LIVE_BYTES,
					     LOOPSCOPE__SAMPLE_KIND__JS_LIVE_COUNT,
					     -1,
					     -1,
					     -1,
					     0.10};

static int in_family(const struct lsc_heap_family *f, const Loopscope__Samples *s)
{
	int k = (int)s->kind;

	return s->snapshot && (k == f->live_b || k == f->live_c || k == f->alloc_b ||
			       k == f->alloc_c || k == f->temp_c);
}

/* The stacks heap snapshots name, sorted and each once: sites are indexed by their place here,
 * so memory follows the stacks present in the file, never the size of an id read from it. */
struct ids {
	uint32_t *v;
	size_t n;
};

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void ids_unique(struct ids *ids, size_t n)
{
	size_t i, w;

	if (n)
		qsort(ids->v, n, sizeof(*ids->v), u32_cmp);
	for (i = 0, w = 0; i < n; i++)
		if (!w || ids->v[i] != ids->v[w - 1])
			ids->v[w++] = ids->v[i];
	ids->n = w;
}

static int ids_collect(const struct lsc_recording *r, const struct lsc_heap_family *f,
		       struct ids *ids)
{
	size_t i, k, n = 0;

	for (i = 0; i < r->nsamples; i++)
		n += in_family(f, r->samples[i]) ? r->samples[i]->n_stack_id : 0;
	ids->v = malloc((n ? n : 1) * sizeof(*ids->v));
	if (!ids->v)
		return -ENOMEM;
	for (i = 0, n = 0; i < r->nsamples; i++)
		for (k = 0; in_family(f, r->samples[i]) && k < r->samples[i]->n_stack_id; k++)
			ids->v[n++] = r->samples[i]->stack_id[k];
	ids_unique(ids, n);
	return 0;
}

/* The place of id in ids, or ids->n when absent. */
static size_t ids_find(const struct ids *ids, uint32_t id)
{
	const uint32_t *p = ids->n ? bsearch(&id, ids->v, ids->n, sizeof(id), u32_cmp) : NULL;

	return p ? (size_t)(p - ids->v) : ids->n;
}

struct snap {
	uint64_t *v; /* by place in struct ids */
};

static int snap_load(const struct lsc_recording *r, int kind, uint32_t upto, const struct ids *ids,
		     struct snap *s)
{
	struct lsc_heap_values hv;
	size_t k, at;
	int err;

	s->v = calloc(ids->n + 1, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	if (kind < 0)
		return 0;
	err = lsc_recording_heap_snapshot(r, kind, upto, &hv);
	if (err == LSC_ENODATA)
		return 0;
	if (err)
		return err;
	for (k = 0; k < hv.n; k++)
		if ((at = ids_find(ids, hv.stack_id[k])) < ids->n)
			s->v[at] = hv.value[k];
	lsc_heap_values_free(&hv);
	return 0;
}

/* The numbers of the heap's complete snapshots, ascending, each once; the times of the first and
 * the last. */
static int complete_snapshots(const struct lsc_recording *r, const struct lsc_heap_family *f,
			      struct ids *c, uint64_t *t_lo, uint64_t *t_hi)
{
	size_t i, n = 0;
	uint32_t lo = 0, hi = 0;

	c->v = malloc((r->nsamples ? r->nsamples : 1) * sizeof(*c->v));
	if (!c->v)
		return -ENOMEM;
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (!in_family(f, s) || !s->snapshot_end)
			continue;
		c->v[n++] = s->snapshot;
		if (!lo || s->snapshot < lo) {
			lo = s->snapshot;
			*t_lo = s->t_ns;
		}
		if (s->snapshot > hi) {
			hi = s->snapshot;
			*t_hi = s->t_ns;
		}
	}
	ids_unique(c, n);
	return 0;
}

static int by_growth(const void *a, const void *b)
{
	const struct lsc_heap_site *x = a, *y = b;

	if (x->growth != y->growth)
		return x->growth < y->growth ? 1 : -1;
	return x->stack.total < y->stack.total ? 1 : x->stack.total > y->stack.total ? -1 : 0;
}

static int by_live(const void *a, const void *b)
{
	const struct lsc_heap_site *x = a, *y = b;

	return x->stack.total < y->stack.total ? 1 : x->stack.total > y->stack.total ? -1 : 0;
}

static int by_temp(const void *a, const void *b)
{
	const struct lsc_heap_site *x = a, *y = b;

	return x->temp_count < y->temp_count ? 1 : x->temp_count > y->temp_count ? -1 : 0;
}

static void name_site(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		      struct lsc_heap_site *s, size_t *unresolved)
{
	uint64_t total = s->stack.total;
	size_t f;

	lsc_report_fill_stack(r, sym, s->stack_id, &s->stack);
	s->stack.total = total;
	for (f = 0; f < s->stack.nframes; f++)
		*unresolved += strstr(s->stack.frames[f].name, "0x") == s->stack.frames[f].name ||
			       strstr(s->stack.frames[f].name, "+0x") != NULL;
}

int lsc__heap_family_sites(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   const struct lsc_heap_family *fam, size_t name_upto,
			   struct lsc_heap_site_set *o, size_t *unresolved)
{
	struct snap first = {0}, last = {0}, count = {0}, ab = {0}, ac = {0}, tc = {0};
	struct ids ids = {0}, snaps = {0};
	uint64_t t_lo = 0, t_hi = 0;
	double total_growth = 0;
	size_t i, k, j, n = 0;
	int err;

	err = complete_snapshots(r, fam, &snaps, &t_lo, &t_hi);
	if (err || !snaps.n) {
		free(snaps.v);
		return err;
	}
	o->snapshots = (uint32_t)snaps.n;
	o->first_s = (double)t_lo / 1e9;
	o->last_s = (double)t_hi / 1e9;
	err = ids_collect(r, fam, &ids);
	if (!err)
		err = snap_load(r, fam->live_b, snaps.v[0], &ids, &first);
	if (!err)
		err = snap_load(r, fam->live_b, 0, &ids, &last);
	if (!err)
		err = snap_load(r, fam->live_c, 0, &ids, &count);
	if (!err)
		err = snap_load(r, fam->alloc_b, 0, &ids, &ab);
	if (!err)
		err = snap_load(r, fam->alloc_c, 0, &ids, &ac);
	if (!err)
		err = snap_load(r, fam->temp_c, 0, &ids, &tc);
	if (!err) {
		for (j = 0; j < ids.n; j++)
			n += ids.v[j] && (last.v[j] || first.v[j] || tc.v[j]);
		o->sites = calloc(n ? n : 1, sizeof(*o->sites));
		if (!o->sites)
			err = -ENOMEM;
	}
	for (j = 0; !err && j < ids.n; j++) {
		struct lsc_heap_site *s;

		if (!ids.v[j] || (!last.v[j] && !first.v[j] && !tc.v[j]))
			continue;
		s = &o->sites[o->nsites++];
		s->stack_id = ids.v[j];
		s->stack.total = last.v[j];
		s->growth = (int64_t)last.v[j] - (int64_t)first.v[j];
		s->live_count = count.v[j];
		s->alloc_bytes = ab.v[j];
		s->alloc_count = ac.v[j];
		s->temp_count = tc.v[j];
		s->stacks = 1;
		o->live_bytes += last.v[j];
		o->live_count += count.v[j];
		if (s->growth > 0)
			total_growth += (double)s->growth;
		s->likely_leak = s->growth > 0;
	}
	/* A likely leak never shrank from one complete snapshot to the next while it grew (the JS
	 * heap's by more than fam->dip: garbage a reading still counted). Sites
	 * are in id order here, as ids are, so each one's place in ids is found by walking both. */
	for (k = 1; !err && k < snaps.n && o->nsites; k++) {
		struct snap now = {0}, before = {0};

		err = snap_load(r, fam->live_b, snaps.v[k - 1], &ids, &before);
		if (!err)
			err = snap_load(r, fam->live_b, snaps.v[k], &ids, &now);
		for (i = 0, j = 0; !err && i < o->nsites; i++) {
			while (ids.v[j] != o->sites[i].stack_id)
				j++;
			if ((double)now.v[j] < (1 - fam->dip) * (double)before.v[j])
				o->sites[i].likely_leak = 0;
		}
		free(now.v);
		free(before.v);
	}
	for (i = 0; !err && i < o->nsites; i++) {
		struct lsc_heap_site *s = &o->sites[i];

		s->share = total_growth > 0 && s->growth > 0 ? (double)s->growth / total_growth : 0;
		/* steady, and large enough to matter: a percent of the growth, 64 KiB at least */
		s->likely_leak &= s->growth >= 65536 && s->share >= 0.01;
	}
	if (!err && o->nsites) {
		/* Name the stacks worth showing: the temporaries, the most live, the most grown. */
		qsort(o->sites, o->nsites, sizeof(*o->sites), by_temp);
		for (i = 0; i < o->nsites && i < LSC_HEAP_TOP && o->sites[i].temp_count; i++) {
			o->temp[o->ntemp] = o->sites[i];
			name_site(r, sym, &o->temp[o->ntemp++], unresolved);
		}
		qsort(o->sites, o->nsites, sizeof(*o->sites), by_live);
		for (i = 0; i < o->nsites && i < name_upto; i++)
			name_site(r, sym, &o->sites[i], unresolved);
		qsort(o->sites, o->nsites, sizeof(*o->sites), by_growth);
		for (i = 0; i < o->nsites && i < name_upto; i++)
			if (!o->sites[i].stack.nframes)
				name_site(r, sym, &o->sites[i], unresolved);
	}
	free(first.v);
	free(last.v);
	free(count.v);
	free(ab.v);
	free(ac.v);
	free(tc.v);
	free(ids.v);
	free(snaps.v);
	return err;
}

static int sites(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		 struct lsc_heap_report *h)
{
	struct lsc_heap_site_set o = {0};
	int err =
		lsc__heap_family_sites(r, sym, &lsc__native_heap, NAMED, &o, &h->unresolved_frames);

	h->sites = o.sites;
	h->nsites = o.nsites;
	h->snapshots = o.snapshots;
	h->first_snapshot_s = o.first_s;
	h->last_snapshot_s = o.last_s;
	h->live_bytes = o.live_bytes;
	h->live_count = o.live_count;
	memcpy(h->temp, o.temp, sizeof(h->temp));
	h->ntemp = o.ntemp;
	return err;
}

/* ------------------------------------------------------------------ managed types */

static int by_type_growth(const void *a, const void *b)
{
	const struct lsc_heap_type *x = a, *y = b;

	return x->growth < y->growth ? 1 : x->growth > y->growth ? -1 : 0;
}

static void types(const struct lsc_recording *r, struct lsc_heap_report *h)
{
	const Loopscope__GcEvent *first = NULL, *last = NULL;
	struct lsc_heap_type all[256];
	size_t i, k, n = 0;

	for (i = 0; i < r->nevents; i++) {
		const Loopscope__GcEvent *g = r->events[i]->gc;

		if (r->events[i]->body_case != LOOPSCOPE__EVENT__BODY_GC || !g->n_types)
			continue;
		if (!first)
			first = g;
		last = g;
	}
	if (!first)
		return;
	for (i = 0; i < last->n_types && n < 256; i++) {
		struct lsc_heap_type *t;

		if (!last->types[i]->name) /* optional: a type without a name says nothing */
			continue;
		t = &all[n++];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", last->types[i]->name);
		t->last = last->types[i]->bytes;
		for (k = 0; k < first->n_types; k++)
			if (first->types[k]->name && !strcmp(first->types[k]->name, t->name))
				t->first = first->types[k]->bytes;
		t->growth = (int64_t)t->last - (int64_t)t->first;
	}
	qsort(all, n, sizeof(*all), by_type_growth);
	for (i = 0; i < n && i < LSC_HEAP_TOP; i++)
		h->types[h->ntypes++] = all[i];
}

/* ------------------------------------------------------------------ the report */

int lsc_heap_build(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		   struct lsc_heap_report *h)
{
	int err;

	memset(h, 0, sizeof(*h));
	if (r->header && r->header->heap_mode) {
		snprintf(h->heap_mode, sizeof(h->heap_mode), "%s", r->header->heap_mode);
		h->sample_interval = r->header->heap_sample_interval;
	}
	h->complete = r->footer != NULL;
	if (r->footer && r->footer->end_ns)
		h->duration_s = (double)r->footer->end_ns / 1e9;
	err = series(r, h);
	if (!err)
		err = sites(r, sym, h);
	if (!err)
		err = lsc__heap_js(r, sym, h);
	if (err) {
		lsc_heap_free(h);
		return err;
	}
	types(r, h);
	if (!h->native.n && !h->managed.n && !h->rss.n && !h->snapshots && !h->js.snapshots) {
		lsc_heap_free(h);
		return LSC_ENODATA;
	}
	lsc_heap_trend(&h->native, &h->native_trend);
	lsc_heap_trend(&h->managed, &h->managed_trend);
	return 0;
}

void lsc_heap_free(struct lsc_heap_report *h)
{
	free(h->native.p);
	free(h->managed.p);
	free(h->rss.p);
	free(h->gc.p);
	free(h->sites);
	free(h->js.sites);
	memset(h, 0, sizeof(*h));
}
