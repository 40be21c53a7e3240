/*
 * report.c — the numbers and the diagnosis of `loopscope report` (lsc_report.h).
 *
 * Windows give the loop (ELU, busy segments, lag), the pool, handles, fds and memory over time;
 * events give GC pauses and blocking calls with their stacks; samples give CPU stacks. Each rule
 * below turns some of those into a finding with its evidence and, where a stack says where, the
 * first frame of the program's own code ("owner"): the function a person should open.
 */
#include "lsc_report.h"
#include "lsc_heap.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS	      1000000ULL
#define LSC_BUSY_CALL "(busy loop)" /* the agent's long busy segments */

/* ------------------------------------------------------------------ frames */

static void copy_frame(struct lsc_report_frame *dst, const struct lsc_named_frame *nf)
{
	snprintf(dst->name, sizeof(dst->name), "%s", nf->name);
	snprintf(dst->file, sizeof(dst->file), "%s", nf->file ? nf->file : "");
	dst->line = nf->line;
	dst->kind = nf->kind;
	dst->tier = lsc_owner_tier(nf);
}

void lsc_report_fill_stack(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   uint32_t stack_id, struct lsc_report_stack *out)
{
	const Loopscope__Stack *st = lsc_recording_stack(r, stack_id);
	size_t d, n = st ? st->n_frames : 0;
	int best = LSC_OWNER_UNNAMED + 1;

	out->nframes = 0;
	memset(&out->owner, 0, sizeof(out->owner)); /* nothing of a stack filled before */
	for (d = 0; d < n && best > LSC_OWNER_APP; d++) {
		struct lsc_named_frame nf;
		struct lsc_report_frame fr;

		lsc_frame_name(r, sym, st->frames[d], d > 0, d < st->kernel_frames, &nf);
		copy_frame(&fr, &nf);
		if (out->nframes < LSC_REPORT_FRAMES)
			out->frames[out->nframes++] = fr;
		if (fr.tier < best) { /* the leaf-most frame of the best tier */
			out->owner = fr;
			best = fr.tier;
		}
	}
	/* the frames shown past the owner's */
	for (; d < n && out->nframes < LSC_REPORT_FRAMES; d++) {
		struct lsc_named_frame nf;

		lsc_frame_name(r, sym, st->frames[d], d > 0, d < st->kernel_frames, &nf);
		copy_frame(&out->frames[out->nframes++], &nf);
	}
	if (best > LSC_OWNER_UNNAMED) {
		snprintf(out->owner.name, sizeof(out->owner.name), "[no stack]");
		out->owner.tier = LSC_OWNER_UNNAMED;
	}
}

void lsc_report_frame_where(const struct lsc_report_frame *f, char *buf, size_t cap)
{
	/* a file's name; in an npm package, the package and its path in it ("iconv-lite/lib/x.js"):
	 * a dependency's "index.js" alone says nothing */
	const char *nm = strstr(f->file, "/node_modules/"), *b = strrchr(f->file, '/');

	while (nm && strstr(nm + 1, "/node_modules/"))
		nm = strstr(nm + 1, "/node_modules/");
	if (nm)
		b = nm + strlen("/node_modules");
	if (!strncmp(f->file, "node:", 5)) /* Node's module: its whole name */
		b = NULL;

	if (f->file[0] && f->line)
		snprintf(buf, cap, "%s (%s:%u)", f->name, b ? b + 1 : f->file, f->line);
	else
		snprintf(buf, cap, "%s", f->name);
}

void lsc_report_owner_where(const struct lsc_report_frame *f, const char *prep, char *buf,
			    size_t cap)
{
	const char *label = lsc_owner_tier_label((enum lsc_owner_tier)f->tier);
	int k;

	if (*label)
		k = snprintf(buf, cap, "%s%s: ", prep ? "in " : "", label);
	else
		k = snprintf(buf, cap, "%s%s", prep ? prep : "", prep && *prep ? " " : "");
	if (k < 0 || (size_t)k >= cap)
		k = 0;
	lsc_report_frame_where(f, buf + k, cap - (size_t)k);
}

/* ------------------------------------------------------------------ aggregation by stack */

struct agg {
	uint32_t stack_id;
	const char *what;
	uint64_t count, total, max;
	int kind; /* enum lsc_call_kind */
};

static int agg_by_total(const void *a, const void *b)
{
	const struct agg *x = a, *y = b;

	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

static struct agg *agg_find_kind(struct agg **v, size_t *n, uint32_t stack_id, const char *what,
				 int kind)
{
	size_t i;
	struct agg *nv;

	for (i = 0; i < *n; i++)
		if ((*v)[i].stack_id == stack_id && (*v)[i].kind == kind &&
		    strcmp((*v)[i].what, what) == 0)
			return &(*v)[i];
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	*v = nv;
	nv[*n] = (struct agg){stack_id, what, 0, 0, 0, kind};
	return &nv[(*n)++];
}

static struct agg *agg_find(struct agg **v, size_t *n, uint32_t stack_id, const char *what)
{
	return agg_find_kind(v, n, stack_id, what, 0);
}

/* The top stacks of one kind of call into out[] (at most LSC_REPORT_TOP), shares of total. */
static size_t top_stacks(const struct lsc_recording *r, struct lsc_symbolizer *sym, struct agg *v,
			 size_t n, int kind, uint64_t total, struct lsc_report_stack *out)
{
	size_t i, k = 0;

	for (i = 0; i < n && k < LSC_REPORT_TOP; i++) {
		struct lsc_report_stack *s = &out[k];

		if (v[i].kind != kind)
			continue;
		snprintf(s->what, sizeof(s->what), "%s", v[i].what);
		s->count = v[i].count;
		s->total = v[i].total;
		s->max = v[i].max;
		s->share = total ? (double)s->total / total : 0;
		lsc_report_fill_stack(r, sym, v[i].stack_id, s);
		k++;
	}
	return k;
}

/* The owner frame holding the most of the time of all the aggregates of one kind (not only the
 * top stacks: each CPU sample of a stretch may be a stack of its own), and its share. */
#define KIND_GC (-1) /* top_owner_all: the CPU stacks in the collector, any kind */

/* A stack in V8's (or refloop's) garbage collector: a collection triggered by the allocation
 * of the JS function below it. */
static int in_gc(const struct lsc_report_stack *st)
{
	size_t f;

	for (f = 0; f < st->nframes; f++)
		if (strstr(st->frames[f].name, "Heap::CollectGarbage") ||
		    strstr(st->frames[f].name, "Heap::PerformGarbageCollection") ||
		    strstr(st->frames[f].name, "ScavengerCollector") ||
		    strstr(st->frames[f].name, "MarkCompactCollector") ||
		    strstr(st->frames[f].name, "rl_gc_"))
			return 1;
	return 0;
}

static int top_owner_all(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			 const struct agg *v, size_t n, int kind, struct lsc_report_frame *out,
			 double *share)
{
	struct own {
		struct lsc_report_frame f;
		uint64_t total;
	} *o = calloc(n ? n : 1, sizeof(*o));
	struct lsc_report_stack st;
	uint64_t all = 0;
	size_t i, k, no = 0, best = 0;

	if (!o)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if ((v[i].kind != kind && kind != KIND_GC) ||
		    !v[i].stack_id) /* no sample: nothing */
			continue;
		lsc_report_fill_stack(r, sym, v[i].stack_id, &st);
		/* who allocated: an app's or a package's function under the collector (a stack
		 * that ends in V8, a helper thread's, says nothing) */
		if (kind == KIND_GC && (!in_gc(&st) || st.owner.tier > LSC_OWNER_DEPENDENCY))
			continue;
		for (k = 0;
		     k < no && (strcmp(o[k].f.name, st.owner.name) ||
				strcmp(o[k].f.file, st.owner.file) || o[k].f.line != st.owner.line);
		     k++)
			;
		if (k == no)
			o[no++].f = st.owner;
		o[k].total += v[i].total;
		all += v[i].total;
	}
	for (k = 1; k < no; k++)
		if (o[k].total > o[best].total)
			best = k;
	if (no) {
		*out = o[best].f;
		*share = all ? (double)o[best].total / (double)all : 0;
	}
	free(o);
	return no ? 0 : LSC_ENODATA;
}

/* Lock waits: on the runtime's own locks (no frame of the app or its packages on the stack)
 * or on the app's; the latter become the kind LSC_CALL_LOCK + 1 for top_stacks. */
static void split_locks(const struct lsc_recording *r, struct lsc_symbolizer *sym, struct agg *v,
			size_t n, struct lsc_report *rep)
{
	struct lsc_report_stack st;
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].kind != LSC_CALL_LOCK)
			continue;
		lsc_report_fill_stack(r, sym, v[i].stack_id, &st);
		if (st.owner.tier <= LSC_OWNER_DEPENDENCY) {
			v[i].kind = LSC_CALL_LOCK + 1;
			rep->lock_app_count += v[i].count;
			rep->lock_app_ns += v[i].total;
		} else {
			rep->lock_runtime_count += v[i].count;
			rep->lock_runtime_ns += v[i].total;
		}
	}
}

/* ------------------------------------------------------------------ sections */

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int loop_section(const struct lsc_recording *r, struct lsc_report *rep)
{
	struct lsc_hist *busy = malloc(sizeof(*busy)), *lag = malloc(sizeof(*lag)),
			*wait = malloc(sizeof(*wait)), *tmp = malloc(sizeof(*tmp));
	double *elus = calloc(r->nwindows + 1, sizeof(double)), wsum = 0, lsum = 0;
	double depth_area = 0, depth_len = 0, drain_busy = 0;
	double nsx = 0, nsy = 0, nsxx = 0, nsxy = 0, nsyy = 0; /* the native trend */
	size_t pool_windows = 0, pool_full = 0;
	uint32_t prev_handles = 0, main_tid = lsc_recording_main_loop(r);
	size_t i, nel = 0, rises = 0, steps = 0;
	int err = 0;

	if (!busy || !lag || !wait || !tmp || !elus) {
		err = -ENOMEM;
		goto out;
	}
	lsc_hist_init(busy);
	lsc_hist_init(lag);
	lsc_hist_init(wait);
	for (i = 0; i < r->nwindows; i++) {
		const Loopscope__Window *w = r->windows[i];

		/* The program's main loop; others (Node's platform loop) would dilute it. */
		if (w->loop_tid != main_tid)
			continue;
		rep->windows++;
		/* Asked to stop, it drains: apart from the loop's figures (its memory still counts)
		 */
		if (w->shutdown) {
			rep->shutdown_windows++;
			rep->shutdown_ns += w->length_ns;
			drain_busy += w->elu * (double)w->length_ns;
		}
		if (w->has_elu && !w->shutdown) {
			rep->has_loop = 1;
			elus[nel++] = w->elu;
			wsum += w->elu * (double)w->length_ns;
			lsum += (double)w->length_ns;
			if (w->elu > rep->elu_max)
				rep->elu_max = w->elu;
		}
		if (w->frozen && !w->shutdown) {
			rep->frozen_windows++;
			rep->frozen_ns += w->length_ns;
		}
		if (!w->shutdown) {
			rep->iterations += w->iterations;
			rep->busy_hist_long_runq_ns += w->busy_long_runq_ns;
			if (lsc_hist_from_proto(tmp, w->busy) == 0) {
				unsigned k;

				lsc_hist_merge(busy, tmp);
				/* the long segments in it: attach has no stretch events */
				for (k = 0; k < LSC_HIST_BUCKETS; k++)
					if (tmp->counts[k] && lsc_hist_bucket_low(k) >= 10 * MS) {
						rep->busy_hist_long_count += tmp->counts[k];
						rep->busy_hist_long_ns +=
							tmp->counts[k] * lsc_hist_bucket_low(k);
					}
			}
			if (lsc_hist_from_proto(tmp, w->lag) == 0)
				lsc_hist_merge(lag, tmp);
		}
		if (lsc_hist_from_proto(tmp, w->pool_wait) == 0)
			lsc_hist_merge(wait, tmp);
		if (w->has_pool_threads || w->has_pool_depth_max) {
			rep->has_pool = 1;
			pool_windows++;
			pool_full += w->pool_threads && w->pool_depth_max >= w->pool_threads;
			if (w->pool_threads > rep->pool_threads)
				rep->pool_threads = w->pool_threads;
			if (w->pool_depth_max > rep->pool_depth_max)
				rep->pool_depth_max = w->pool_depth_max;
		}
		if (w->has_pool_depth_mean) {
			depth_area += w->pool_depth_mean * (double)w->length_ns;
			depth_len += (double)w->length_ns;
		}
		if (w->has_active_handles) {
			if (!rep->has_handles)
				rep->handles_first = w->active_handles;
			else {
				steps += w->active_handles != prev_handles; /* a change */
				rises += w->active_handles > prev_handles;
			}
			rep->has_handles = 1;
			rep->handles_last = prev_handles = w->active_handles;
			if (w->active_handles > rep->handles_max)
				rep->handles_max = w->active_handles;
		}
		if (w->open_fds > rep->fds_max)
			rep->fds_max = w->open_fds;
		if (w->fd_limit)
			rep->fd_limit = w->fd_limit;
		if (w->rss_bytes > rep->rss_max)
			rep->rss_max = w->rss_bytes;
		if (w->rss_peak_bytes > rep->rss_max) /* the kernel's high-water mark: the peak */
			rep->rss_max = w->rss_peak_bytes, rep->rss_max_is_peak = 1;
		/* the native heap's trend: from the first window the tracker counted something in
		 * (the one it started in may say 0), by least squares */
		if (w->has_malloc_live_bytes && (rep->has_native || w->malloc_live_bytes)) {
			double x = (double)(w->start_ns + w->length_ns) / 1e9,
			       y = w->malloc_live_bytes;

			nsx += x, nsy += y, nsxx += x * x, nsxy += x * y, nsyy += y * y;
			rep->native_points++;
			if (!rep->has_native)
				rep->native_first = w->malloc_live_bytes;
			rep->has_native = 1;
			rep->native_last = w->malloc_live_bytes;
			if (w->malloc_live_bytes > rep->native_max)
				rep->native_max = w->malloc_live_bytes;
		}
		rep->requests += w->requests;
	}
	if (nel) {
		qsort(elus, nel, sizeof(*elus), dbl_cmp);
		rep->elu_p50 = elus[(nel - 1) / 2];
		rep->elu_mean = lsum > 0 ? wsum / lsum : 0;
	}
	if (rep->native_points > 1) {
		double n = rep->native_points, den = n * nsxx - nsx * nsx,
		       vy = n * nsyy - nsy * nsy;

		rep->native_r2 = den > 0 && vy > 0 ? pow(n * nsxy - nsx * nsy, 2) / (den * vy) : 0;
	}
	rep->has_pool_depth_mean = depth_len > 0;
	rep->pool_full_share = pool_windows ? (double)pool_full / (double)pool_windows : 0;
	rep->shutdown_elu = rep->shutdown_ns ? drain_busy / (double)rep->shutdown_ns : 0;
	rep->pool_depth_mean = depth_len > 0 ? depth_area / depth_len : 0;
	rep->handles_growing = steps ? (double)rises / (double)steps : 0;
	rep->busy_p50 = lsc_hist_quantile(busy, 0.5);
	rep->busy_p99 = lsc_hist_quantile(busy, 0.99);
	rep->busy_max = busy->max;
	rep->lag_p50 = lsc_hist_quantile(lag, 0.5);
	rep->lag_p99 = lsc_hist_quantile(lag, 0.99);
	rep->lag_max = lag->max;
	rep->pool_wait_p50 = lsc_hist_quantile(wait, 0.5);
	rep->pool_wait_p99 = lsc_hist_quantile(wait, 0.99);
	rep->pool_wait_max = wait->max;
out:
	free(busy);
	free(lag);
	free(wait);
	free(tmp);
	free(elus);
	return err;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static const Loopscope__TypeStat *type_in(const Loopscope__GcEvent *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->n_types; i++)
		if (g->types[i]->name && strcmp(g->types[i]->name, name) == 0)
			return g->types[i];
	return NULL;
}

static const Loopscope__GcEvent *gc_at(const struct lsc_recording *r, int last)
{
	size_t i;

	for (i = 0; i < r->nevents; i++) {
		const Loopscope__Event *e = r->events[last ? r->nevents - 1 - i : i];

		if (e->body_case == LOOPSCOPE__EVENT__BODY_GC && e->gc->n_types)
			return e->gc;
	}
	return NULL;
}

static int gc_section(const struct lsc_recording *r, struct lsc_report *rep)
{
	uint64_t *t = malloc((r->nevents + 1) * 2 * sizeof(uint64_t));
	const Loopscope__GcEvent *first, *last;
	double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, n = 0;
	double fx, fy, fsx = 0, fsy = 0, fsxx = 0, fsxy = 0, fsyy = 0; /* full collections */
	struct lsc_heap_series managed;
	size_t i, k = 0, lo = 0;
	uint64_t sum = 0;
	int is_rss = 0, err;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < r->nevents; i++) {
		const Loopscope__Event *e = r->events[i];
		const Loopscope__GcEvent *g;

		if (e->body_case != LOOPSCOPE__EVENT__BODY_GC)
			continue;
		g = e->gc;
		rep->gc_count++;
		rep->gc_pause_total += g->pause_ns;
		if (g->pause_ns > rep->gc_pause_max)
			rep->gc_pause_max = g->pause_ns;
		t[2 * k] = e->t_ns;
		t[2 * k + 1] = g->pause_ns;
		k++;
	}
	/* Worst second: the most pause time whose starts fall within any 1 s. */
	qsort(t, k, 2 * sizeof(uint64_t), u64_cmp);
	for (i = 0; i < k; i++) {
		sum += t[2 * i + 1];
		while (t[2 * i] - t[2 * lo] >= 1000 * MS)
			sum -= t[2 * lo++ + 1];
		if (sum > rep->gc_worst_second)
			rep->gc_worst_second = sum;
	}
	free(t);
	/* The managed heap as `heap` defines it (lsc_heap_managed_series): one number for both. */
	err = lsc_heap_managed_series(r, &managed, &is_rss);
	if (err)
		return err;
	for (i = 0; !is_rss && i < managed.n; i++) {
		double x = managed.p[i].t, y = managed.p[i].bytes;

		sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y, n++;
	}
	if (n > 0) {
		double den = n * sxx - sx * sx, vy = n * syy - sy * sy;

		rep->has_managed = 1;
		rep->managed_first = (uint64_t)managed.p[0].bytes;
		rep->managed_last = (uint64_t)managed.p[managed.n - 1].bytes;
		rep->managed_points = (unsigned)managed.n;
		rep->managed_slope = den > 0 ? (n * sxy - sx * sy) / den : 0;
		rep->managed_r2 = den > 0 && vy > 0 ? pow(n * sxy - sx * sy, 2) / (den * vy) : 0;
	}
	free(managed.p);
	for (i = 0; i < r->nevents; i++) {
		const Loopscope__GcEvent *g = r->events[i]->gc;

		if (r->events[i]->body_case != LOOPSCOPE__EVENT__BODY_GC || !g->has_heap_after ||
		    (g->kind != LOOPSCOPE__GC_EVENT__KIND__MARK_COMPACT &&
		     g->kind != LOOPSCOPE__GC_EVENT__KIND__FULL))
			continue;
		if (!rep->managed_full++)
			rep->managed_full_first = g->heap_after;
		rep->managed_full_last = g->heap_after;
		fx = (double)r->events[i]->t_ns / 1e9, fy = (double)g->heap_after;
		fsx += fx, fsy += fy, fsxx += fx * fx, fsxy += fx * fy, fsyy += fy * fy;
	}
	if (rep->managed_full > 1) {
		double m = rep->managed_full, fden = m * fsxx - fsx * fsx,
		       fvy = m * fsyy - fsy * fsy;

		rep->managed_full_r2 = fden > 0 && fvy > 0 && m * fsxy > fsx * fsy
					       ? pow(m * fsxy - fsx * fsy, 2) / (fden * fvy)
					       : 0;
	}
	/* The type that grew most between the first and the last collection that counted them. */
	first = gc_at(r, 0);
	last = gc_at(r, 1);
	for (i = 0; first && i < last->n_types; i++) {
		const Loopscope__TypeStat *a = last->types[i], *b;
		uint64_t before;

		if (!a->name)
			continue;
		b = type_in(first, a->name);
		before = b ? b->bytes : 0;
		if (a->bytes > before && a->bytes - before > rep->managed_top_type_growth) {
			rep->managed_top_type_growth = a->bytes - before;
			snprintf(rep->managed_top_type, sizeof(rep->managed_top_type), "%s",
				 a->name);
		}
	}
	return 0;
}

/* The owner frame that submitted most jobs to the thread pool: the stacks with the most
 * submissions, merged by their owner (one function reaches the pool by several paths). */
static int pool_submitters(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   struct lsc_report *rep)
{
	struct agg *sub = NULL;
	size_t nsub = 0, i, j, k;
	uint64_t best = 0;
	struct lsc_report_stack *top;

	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind != LOOPSCOPE__SAMPLE_KIND__POOL_SUBMITS)
			continue;
		for (k = 0; k < s->n_stack_id && k < s->n_value; k++) {
			struct agg *a = agg_find(&sub, &nsub, s->stack_id[k], "submit");

			if (!a) {
				free(sub);
				return -ENOMEM;
			}
			a->total += s->value[k];
			rep->pool_submits += s->value[k];
		}
	}
	if (!nsub)
		return 0;
	qsort(sub, nsub, sizeof(*sub), agg_by_total);
	if (nsub > LSC_REPORT_TOP)
		nsub = LSC_REPORT_TOP;
	top = calloc(nsub, sizeof(*top));
	if (!top) {
		free(sub);
		return -ENOMEM;
	}
	for (i = 0; i < nsub; i++)
		lsc_report_fill_stack(r, sym, sub[i].stack_id, &top[i]);
	for (i = 0; i < nsub; i++) {
		uint64_t sum = 0;

		for (j = 0; j < nsub; j++)
			if (strcmp(top[i].owner.name, top[j].owner.name) == 0)
				sum += sub[j].total;
		if (sum > best) {
			best = sum;
			rep->pool_submitter = top[i].owner;
		}
	}
	rep->has_pool_submitter = 1;
	rep->pool_submitter_share = (double)best / (double)rep->pool_submits;
	free(top);
	free(sub);
	return 0;
}

/* A call or stretch after the program began to stop: counted apart; the longest names what
 * ran. */
static void drain_event(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			const Loopscope__BlockingEvent *b, int is_busy, uint64_t *longest,
			struct lsc_report *rep)
{
	struct lsc_report_stack st;

	if (is_busy) {
		rep->drain_busy_count++;
		rep->drain_busy_ns += b->duration_ns;
	} else {
		rep->drain_blocking_count += b->has_calls && b->calls > 1 ? b->calls : 1;
		rep->drain_blocking_ns += b->duration_ns;
	}
	if (b->duration_ns > *longest) {
		*longest = b->duration_ns;
		lsc_report_fill_stack(r, sym, b->stack_id, &st);
		rep->drain_owner = st.owner;
		rep->has_drain_owner = 1;
	}
}

/* A long busy stretch with the CPU samples taken in it: its time shared among their stacks by
 * their counts (the rows' count is samples). */
static int busy_from_samples(const Loopscope__BlockingEvent *b, struct agg **busy, size_t *nbusy,
			     struct lsc_report *rep)
{
	uint64_t total = 0, given = 0;
	size_t i, n = b->n_cpu_stack_ids < b->n_cpu_counts ? b->n_cpu_stack_ids : b->n_cpu_counts;

	for (i = 0; i < n; i++)
		total += b->cpu_counts[i];
	if (!total)
		return 0;
	for (i = 0; i < n; i++) {
		struct agg *a = agg_find(busy, nbusy, b->cpu_stack_ids[i], LSC_BUSY_CALL);
		uint64_t part = i + 1 == n ? b->duration_ns - given
					   : b->duration_ns * b->cpu_counts[i] / total;

		if (!a)
			return -ENOMEM;
		given += part;
		a->count += b->cpu_counts[i];
		a->total += part;
		if (part > a->max)
			a->max = part;
	}
	rep->busy_long_count++;
	rep->busy_long_total_ns += b->duration_ns;
	rep->busy_samples += total;
	if (total < LSC_REPORT_STRETCH_SAMPLES) {
		rep->busy_few_samples++;
		rep->busy_few_ns += b->duration_ns;
	}
	return 0;
}

static int calls_section(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			 struct lsc_report *rep)
{
	struct agg *blk = NULL, *cpu = NULL, *busy = NULL;
	size_t nblk = 0, ncpu = 0, nbusy = 0, i, k;
	uint64_t n;
	int err = 0, is_busy, kind;
	uint64_t drain_longest = 0;

	for (i = 0; i < r->nevents && !rep->has_shutdown_at; i++)
		if (r->events[i]->body_case == LOOPSCOPE__EVENT__BODY_SHUTDOWN) {
			rep->has_shutdown_at = 1;
			rep->shutdown_at_ns = r->events[i]->t_ns;
			snprintf(rep->shutdown_reason, sizeof(rep->shutdown_reason), "%s",
				 r->events[i]->shutdown->reason ? r->events[i]->shutdown->reason
								: "");
		}
	for (i = 0; i < r->nevents; i++) {
		const Loopscope__Event *e = r->events[i];
		const Loopscope__BlockingEvent *b;
		struct agg *a;

		if (e->body_case != LOOPSCOPE__EVENT__BODY_BLOCKING)
			continue;
		b = e->blocking;
		is_busy = b->call && strcmp(b->call, LSC_BUSY_CALL) == 0;
		if (is_busy && b->has_run_queue_ns &&
		    !(rep->has_shutdown_at && e->t_ns + b->duration_ns / 2 >= rep->shutdown_at_ns))
			rep->busy_runq_ns += b->run_queue_ns;
		/* the drain: what ran after the program began to stop, apart (a stretch in which
		 * it began: by where most of it was) */
		if (rep->has_shutdown_at && e->t_ns + b->duration_ns / 2 >= rep->shutdown_at_ns) {
			drain_event(r, sym, b, is_busy, &drain_longest, rep);
			continue;
		}
		if (is_busy && b->n_cpu_stack_ids) {
			err = busy_from_samples(b, &busy, &nbusy, rep);
			if (err)
				goto out;
			continue;
		}
		kind = is_busy ? 0 : (int)lsc_call_kind(b);
		a = agg_find_kind(is_busy ? &busy : &blk, is_busy ? &nbusy : &nblk, b->stack_id,
				  b->call ? b->call : "?", kind);
		if (!a) {
			err = -ENOMEM;
			goto out;
		}
		/* one event may stand for many short calls: its time is theirs, its longest is
		 * under the threshold, their mean said here */
		n = b->has_calls && b->calls > 1 ? b->calls : 1;
		a->count += n;
		a->total += b->duration_ns;
		if (b->duration_ns / n > a->max)
			a->max = b->duration_ns / n;
		if (is_busy) {
			rep->busy_long_count += n;
			rep->busy_long_total_ns += b->duration_ns;
			rep->busy_few_samples++; /* none taken in it: its stack alone */
			rep->busy_few_ns += b->duration_ns;
		} else if (kind == LSC_CALL_BLOCKED) {
			rep->blocking_count += n;
			rep->blocking_total_ns += b->duration_ns;
			if (b->has_run_queue_ns) {
				uint64_t runq, on_cpu, asleep;

				lsc_call_split(b, &runq, &on_cpu, &asleep);
				rep->blocking_measured_ns += b->duration_ns;
				rep->blocking_runq_ns += runq;
				rep->blocking_cpu_ns += on_cpu;
				rep->blocking_asleep_ns += asleep;
			}
		} else if (kind == LSC_CALL_CONTENTION) {
			rep->contention_count += n;
			rep->contention_ns += b->duration_ns;
		}
	}
	for (i = 0; i < r->nevents; i++) {
		const Loopscope__Event *e = r->events[i];

		if (e->body_case != LOOPSCOPE__EVENT__BODY_CRASH || rep->crashed)
			continue;
		rep->crashed = 1;
		rep->crash_signal = e->crash->signal;
		rep->crash_addr = e->crash->fault_addr;
		snprintf(rep->crash.what, sizeof(rep->crash.what), "signal %d", e->crash->signal);
		lsc_report_fill_stack(r, sym, e->crash->stack_id, &rep->crash);
	}
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind != LOOPSCOPE__SAMPLE_KIND__CPU)
			continue;
		for (k = 0; k < s->n_stack_id; k++) {
			struct agg *a = agg_find(&cpu, &ncpu, s->stack_id[k], "cpu");

			if (!a) {
				err = -ENOMEM;
				goto out;
			}
			a->count++;
			a->total += s->value[k];
			rep->cpu_total += s->value[k];
		}
	}
	err = pool_submitters(r, sym, rep);
	if (err)
		goto out;
	if (nblk)
		qsort(blk, nblk, sizeof(*blk), agg_by_total);
	if (ncpu)
		qsort(cpu, ncpu, sizeof(*cpu), agg_by_total);
	if (nbusy)
		qsort(busy, nbusy, sizeof(*busy), agg_by_total);
	rep->has_busy_owner = nbusy && top_owner_all(r, sym, busy, nbusy, 0, &rep->busy_owner,
						     &rep->busy_owner_share) == 0;
	rep->has_cpu_owner = ncpu && top_owner_all(r, sym, cpu, ncpu, 0, &rep->cpu_owner,
						   &rep->cpu_owner_share) == 0;
	/* No stretch events (attach): the windows' busy histograms say how long the long
	 * segments were, the CPU samples where the time went. */
	if (!rep->busy_long_count && rep->busy_hist_long_count) {
		rep->busy_long_count = rep->busy_hist_long_count;
		rep->busy_long_total_ns = rep->busy_hist_long_ns;
		rep->busy_from_hist = 1;
		rep->busy_runq_ns = rep->busy_hist_long_runq_ns;
		if (rep->has_cpu_owner) {
			rep->has_busy_owner = 1;
			rep->busy_owner = rep->cpu_owner;
			rep->busy_owner_share = rep->cpu_owner_share;
		}
	}
	rep->has_gc_owner = ncpu && top_owner_all(r, sym, cpu, ncpu, KIND_GC, &rep->gc_owner,
						  &rep->gc_owner_share) == 0;
	for (i = 0; i < nbusy && i < LSC_REPORT_TOP; i++) {
		struct lsc_report_stack *s = &rep->busy[rep->nbusy++];

		snprintf(s->what, sizeof(s->what), "busy");
		s->count = busy[i].count;
		s->total = busy[i].total;
		s->max = busy[i].max;
		s->share = rep->busy_long_total_ns ? (double)s->total / rep->busy_long_total_ns : 0;
		lsc_report_fill_stack(r, sym, busy[i].stack_id, s);
	}
	split_locks(r, sym, blk, nblk, rep);
	rep->nblocking = top_stacks(r, sym, blk, nblk, LSC_CALL_BLOCKED, rep->blocking_total_ns,
				    rep->blocking);
	rep->ncontention = top_stacks(r, sym, blk, nblk, LSC_CALL_CONTENTION, rep->contention_ns,
				      rep->contention);
	rep->nlocks =
		top_stacks(r, sym, blk, nblk, LSC_CALL_LOCK + 1, rep->lock_app_ns, rep->locks);
	for (i = 0; i < ncpu && i < LSC_REPORT_TOP; i++) {
		struct lsc_report_stack *s = &rep->cpu[rep->ncpu++];

		snprintf(s->what, sizeof(s->what), "cpu");
		s->count = cpu[i].count;
		s->total = cpu[i].total;
		s->share = rep->cpu_total ? (double)s->total / rep->cpu_total : 0;
		lsc_report_fill_stack(r, sym, cpu[i].stack_id, s);
	}
out:
	free(blk);
	free(cpu);
	free(busy);
	return err;
}

int lsc_report_build(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		     struct lsc_report *rep)
{
	uint64_t end = 0;
	size_t i;
	int err;

	memset(rep, 0, sizeof(*rep));
	if (r->header) {
		rep->pid = r->header->pid;
		snprintf(rep->executable, sizeof(rep->executable), "%s",
			 r->header->executable ? r->header->executable : "");
		snprintf(rep->source, sizeof(rep->source), "%s",
			 r->header->source ? r->header->source : "");
		snprintf(rep->runtime, sizeof(rep->runtime), "%s",
			 r->header->runtime ? r->header->runtime : "");
	}
	rep->complete = r->footer != NULL;
	rep->truncated = r->info.truncated;
	for (i = 0; r->footer && i < r->footer->n_counters && rep->ncounters < 16; i++)
		if (r->footer->counters[i]->name) {
			snprintf(rep->counters[rep->ncounters].name, sizeof(rep->counters[0].name),
				 "%s", r->footer->counters[i]->name);
			rep->counters[rep->ncounters++].value = r->footer->counters[i]->value;
		}
	for (i = 0; i < r->nwindows; i++)
		if (r->windows[i]->start_ns + r->windows[i]->length_ns > end)
			end = r->windows[i]->start_ns + r->windows[i]->length_ns;
	for (i = 0; i < r->nevents; i++)
		if (r->events[i]->t_ns > end)
			end = r->events[i]->t_ns;
	if (r->footer && r->footer->end_ns > end)
		end = r->footer->end_ns;
	rep->duration_ns = end;
	err = loop_section(r, rep);
	if (!err)
		lsc__report_resources(r, sym, rep); /* Node's own count, where it was read */
	if (!err && (err = lsc__report_js_top(r, sym, rep)) == LSC_ENODATA)
		err = 0;
	if (!err)
		err = gc_section(r, rep);
	if (!err)
		err = calls_section(r, sym, rep);
	if (err)
		return err;
	/* The drain runs from the shutdown event to the end, windows or not (a program that
	 * stops in one callback has no poll, so no window, after it): its busy share is at least
	 * that of the stretches that ran in it. */
	if (rep->has_shutdown_at && rep->duration_ns > rep->shutdown_at_ns) {
		uint64_t len = rep->duration_ns - rep->shutdown_at_ns;
		double busy = (double)rep->drain_busy_ns / (double)len;

		if (len > rep->shutdown_ns)
			rep->shutdown_ns = len;
		if (busy > rep->shutdown_elu)
			rep->shutdown_elu = busy > 1 ? 1 : busy;
	}
	lsc__report_diagnose(rep); /* report_rules.c: the findings, in their order */
	return 0;
}
