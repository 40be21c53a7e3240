/*
 * report.c — the numbers and the diagnosis of `loopscope report` (lsc_report.h).
 *
 * Windows give the loop (ELU, busy segments, lag), the pool, handles, fds and memory over time;
 * events give GC pauses; the calls, stretches and CPU samples with their stacks are
 * report_calls.c's, the diagnosis report_rules.c's. Here too: how a recorded stack is named and
 * its owner frame chosen (owner.c's tiers), the frame a person should open.
 */
#include "lsc_report.h"
#include "lsc_heap.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL

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

/* rooted / all of the footer's counters (attach: stacks that reach their thread's root); -1 when
 * the recording has none of that kind. */
static double roots_share(const struct lsc_report *rep, const char *all, const char *rooted)
{
	uint64_t n = 0, k = 0;
	int have = 0;
	size_t i;

	for (i = 0; i < rep->ncounters; i++)
		if (!strcmp(rep->counters[i].name, all)) {
			n = rep->counters[i].value;
			have = 1;
		} else if (!strcmp(rep->counters[i].name, rooted)) {
			k = rep->counters[i].value;
		}
	return have && n ? (double)k / (double)n : -1;
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
		rep->cpu_hz = r->header->cpu_sample_hz;
	}
	rep->complete = r->footer != NULL;
	rep->truncated = r->info.truncated;
	rep->cut = r->cut;
	rep->start_unix_ns = r->header ? r->header->start_unix_ns : 0;
	for (i = 0; r->footer && i < r->footer->n_counters &&
		    rep->ncounters < sizeof(rep->counters) / sizeof(rep->counters[0]);
	     i++)
		if (r->footer->counters[i]->name) {
			snprintf(rep->counters[rep->ncounters].name, sizeof(rep->counters[0].name),
				 "%s", r->footer->counters[i]->name);
			rep->counters[rep->ncounters++].value = r->footer->counters[i]->value;
		}
	rep->roots_cpu = roots_share(rep, "stacks_cpu", "stacks_cpu_rooted");
	rep->roots_offcpu = roots_share(rep, "stacks_offcpu_ns", "stacks_offcpu_rooted_ns");
	rep->roots_blocking = roots_share(rep, "stacks_blocking", "stacks_blocking_rooted");
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
		err = lsc__report_calls(r, sym, rep);
	if (!err)
		err = lsc__report_writes(r, sym, rep);
	if (!err)
		lsc__report_alive(r, sym, rep);
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
