/*
 * report_calls.c — the report's calls and stacks (report.c gathers the rest): blocking calls
 * sorted by what they were (blocking.c: blocked, preempted, locked; the runtime's locks apart
 * from the app's), the long busy stretches shared among their CPU samples, CPU samples, the
 * crash, the thread pool's submitters, what ran in the drain after a stop, and the owner frames
 * over every stack (the stretches', the CPU's, the collector's). Split from report.c.
 */
#include "lsc_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS	      1000000ULL
#define LSC_BUSY_CALL "(busy loop)" /* the agent's long busy segments */

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

/* Owner frames and the time under each: the one with the most wins. */
struct owners {
	struct own {
		struct lsc_report_frame f;
		uint64_t total;
	} * o;
	size_t n;
	uint64_t all;
};

static void owners_add(struct owners *t, const struct lsc_report_frame *f, uint64_t total)
{
	size_t k;

	for (k = 0; k < t->n && (strcmp(t->o[k].f.name, f->name) ||
				 strcmp(t->o[k].f.file, f->file) || t->o[k].f.line != f->line);
	     k++)
		;
	if (k == t->n)
		t->o[t->n++].f = *f;
	t->o[k].total += total;
	t->all += total;
}

/* The owner with the most time, and its share; 0 when there is none. */
static int owners_best(const struct owners *t, struct lsc_report_frame *out, double *share)
{
	size_t k, best = 0;

	for (k = 1; k < t->n; k++)
		if (t->o[k].total > t->o[best].total)
			best = k;
	if (!t->n)
		return 0;
	*out = t->o[best].f;
	*share = t->all ? (double)t->o[best].total / (double)t->all : 0;
	return 1;
}

/*
 * The owner frames holding the most of the time of all the aggregates v[0..n) (not only the
 * top stacks: each CPU sample of a stretch may be a stack of its own), each stack named once:
 * into own; and, when gc is given, among the stacks in the collector, the app's or a package's
 * function under it: whose allocations it ran for (a stack that ends in V8, a helper thread's,
 * says nothing). A stretch with no sample (stack 0) says nothing either.
 */
static int owners_of(const struct lsc_recording *r, struct lsc_symbolizer *sym, const struct agg *v,
		     size_t n, struct owners *own, struct owners *gc)
{
	struct lsc_report_stack st;
	size_t i;

	own->o = calloc(n ? n : 1, sizeof(*own->o));
	if (gc)
		gc->o = calloc(n ? n : 1, sizeof(*gc->o));
	if (!own->o || (gc && !gc->o))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!v[i].stack_id)
			continue;
		lsc_report_fill_stack(r, sym, v[i].stack_id, &st);
		owners_add(own, &st.owner, v[i].total);
		if (gc && in_gc(&st) && st.owner.tier <= LSC_OWNER_DEPENDENCY)
			owners_add(gc, &st.owner, v[i].total);
	}
	return 0;
}

/* Whose lock a wait is on: the code that called the locking primitive, the first frame past
 * the libraries (libc's futex, pthread_mutex_lock) and any unnamed address. The runtime's own
 * lock even when the app is further up the stack (the app's fs.promises.stat submits to libuv's
 * pool, whose mutex libuv takes: not the app's lock); V8's Atomics.wait is the app's. */
static int app_lock(const struct lsc_report_stack *st)
{
	size_t k;

	for (k = 0; k < st->nframes; k++) {
		const struct lsc_report_frame *f = &st->frames[k];

		if (f->tier == LSC_OWNER_LIBRARY || f->tier == LSC_OWNER_KERNEL ||
		    f->tier == LSC_OWNER_UNNAMED)
			continue;
		if (strstr(f->name, "FutexEmulation") || strstr(f->name, "AtomicsWait"))
			return 1;
		return f->tier <= LSC_OWNER_DEPENDENCY;
	}
	return st->owner.tier <= LSC_OWNER_DEPENDENCY;
}

/* Lock waits: on the runtime's own locks or on the app's (app_lock); the latter become the kind
 * LSC_CALL_LOCK + 1 for top_stacks. */
static void split_locks(const struct lsc_recording *r, struct lsc_symbolizer *sym, struct agg *v,
			size_t n, struct lsc_report *rep)
{
	struct lsc_report_stack st;
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].kind != LSC_CALL_LOCK)
			continue;
		lsc_report_fill_stack(r, sym, v[i].stack_id, &st);
		if (st.owner.tier <= LSC_OWNER_DEPENDENCY && app_lock(&st)) {
			v[i].kind = LSC_CALL_LOCK + 1;
			rep->lock_app_count += v[i].count;
			rep->lock_app_ns += v[i].total;
		} else {
			rep->lock_runtime_count += v[i].count;
			rep->lock_runtime_ns += v[i].total;
		}
	}
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

/* attach: no stretch events; when most of the loop thread's CPU samples are one chain's, that
 * share of its long segments is the chains' (the rest stays the stretches'). */
static int chains_from_samples(struct lsc_chains *c, const struct agg *cpu, size_t ncpu,
			       struct lsc_report *rep)
{
	uint32_t *ids = malloc((ncpu + 1) * sizeof(*ids)),
		 *counts = malloc((ncpu + 1) * sizeof(*counts));
	struct lsc_chain_verdict v;
	size_t i;
	int err = -ENOMEM;

	if (!ids || !counts)
		goto out;
	for (i = 0; i < ncpu; i++) {
		ids[i] = cpu[i].stack_id;
		counts[i] = cpu[i].total > UINT32_MAX ? UINT32_MAX : (uint32_t)cpu[i].total;
	}
	err = lsc__chains_judge(c, ids, counts, ncpu, &v);
	if (err || !v.chain)
		goto out;
	lsc__chains_add(c, &v);
	rep->starve_from_samples = 1;
	rep->starve_samples = v.samples;
	rep->starve_count = rep->busy_long_count;
	rep->starve_ns = (uint64_t)((double)rep->busy_long_total_ns * (double)v.fn_samples /
				    (double)v.samples);
	rep->starve_max_ns = rep->busy_max;
	rep->busy_long_total_ns -= rep->starve_ns;
out:
	free(ids);
	free(counts);
	return err;
}

int lsc__report_calls(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		      struct lsc_report *rep)
{
	struct agg *blk = NULL, *cpu = NULL, *busy = NULL;
	struct lsc_chains *chains = NULL;
	size_t nblk = 0, ncpu = 0, nbusy = 0, i, k;
	uint64_t n;
	int err = 0, is_busy, kind;
	uint64_t drain_longest = 0;

	err = lsc__chains_new(r, sym, &chains);
	if (err)
		return err;
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
		    !(rep->has_shutdown_at &&
		      e->t_ns + b->duration_ns / 2 >= rep->shutdown_at_ns)) {
			rep->busy_runq_ns += b->run_queue_ns;
			/* neither running nor runnable: asleep in the stretch (a lock the capture
			 * does not see, a page fault's read) */
			if (b->has_on_cpu_ns && b->duration_ns > b->run_queue_ns + b->on_cpu_ns)
				rep->busy_asleep_ns +=
					b->duration_ns - b->run_queue_ns - b->on_cpu_ns;
		}
		/* the drain: what ran after the program began to stop, apart (a stretch in which
		 * it began: by where most of it was) */
		if (rep->has_shutdown_at && e->t_ns + b->duration_ns / 2 >= rep->shutdown_at_ns) {
			drain_event(r, sym, b, is_busy, &drain_longest, rep);
			continue;
		}
		if (is_busy && b->n_cpu_stack_ids) {
			struct lsc_chain_verdict v;

			err = lsc__chains_judge(chains, b->cpu_stack_ids, b->cpu_counts,
						b->n_cpu_stack_ids < b->n_cpu_counts
							? b->n_cpu_stack_ids
							: b->n_cpu_counts,
						&v);
			if (err)
				goto out;
			if (v.chain) { /* a tick or microtask chain: apart */
				lsc__chains_add(chains, &v);
				rep->starve_count++;
				rep->starve_ns += b->duration_ns;
				rep->starve_samples += v.samples;
				if (b->duration_ns > rep->starve_max_ns)
					rep->starve_max_ns = b->duration_ns;
				continue;
			}
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
	{
		struct owners bo = {0}, co = {0}, go = {0};

		err = owners_of(r, sym, busy, nbusy, &bo, NULL);
		if (!err)
			err = owners_of(r, sym, cpu, ncpu, &co, &go);
		rep->has_busy_owner = owners_best(&bo, &rep->busy_owner, &rep->busy_owner_share);
		rep->has_cpu_owner = owners_best(&co, &rep->cpu_owner, &rep->cpu_owner_share);
		rep->has_gc_owner = owners_best(&go, &rep->gc_owner, &rep->gc_owner_share);
		free(bo.o);
		free(co.o);
		free(go.o);
		if (err)
			goto out;
	}
	/* No stretch events (attach): the windows' busy histograms say how long the long
	 * segments were, the CPU samples where the time went. */
	if (!rep->busy_long_count && !rep->starve_count && rep->busy_hist_long_count) {
		rep->busy_long_count = rep->busy_hist_long_count;
		rep->busy_long_total_ns = rep->busy_hist_long_ns;
		rep->busy_from_hist = 1;
		rep->busy_runq_ns = rep->busy_hist_long_runq_ns;
		err = chains_from_samples(chains, cpu, ncpu, rep);
		if (err)
			goto out;
		if (rep->has_cpu_owner) {
			rep->has_busy_owner = 1;
			rep->busy_owner = rep->cpu_owner;
			rep->busy_owner_share = rep->cpu_owner_share;
		}
	}
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
	if (!err)
		lsc__chains_finish(chains, rep);
	lsc__chains_free(chains);
	free(blk);
	free(cpu);
	free(busy);
	return err;
}
