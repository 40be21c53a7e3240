/*
 * report_rules.c — the report's diagnosis (docs/report.md's rules): each rule turns some of the
 * report's numbers into a finding with its evidence and, where a stack says where, the owner
 * frame a person should open; then the order, most severe first and, within a severity, the
 * cause that holds the most of the run's time. Split from report.c, which gathers the numbers.
 */
#include "lsc_report.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL

struct lsc_finding *lsc__report_finding(struct lsc_report *rep, const char *id, int sev)
{
	struct lsc_finding *f;

	if (rep->nfindings == LSC_REPORT_FINDINGS)
		return NULL;
	f = &rep->findings[rep->nfindings];
	memset(f, 0, sizeof(*f));
	f->order = (unsigned)rep->nfindings++;
	snprintf(f->id, sizeof(f->id), "%s", id);
	f->severity = sev;
	return f;
}

#define finding lsc__report_finding

/* The owner frame that holds most of the time of stacks st[0..n), summed over the stacks shown
 * (by owner: one function reached from two places is one). */
static const struct lsc_report_frame *owner_of(const struct lsc_report_stack *st, size_t n,
					       double *share)
{
	const struct lsc_report_frame *best = NULL;
	double best_share = 0;
	size_t i, j;

	for (i = 0; i < n; i++) {
		double s = 0;

		for (j = 0; j < n; j++)
			if (strcmp(st[i].owner.name, st[j].owner.name) == 0 &&
			    strcmp(st[i].owner.file, st[j].owner.file) == 0)
				s += st[j].share;
		if (s > best_share) {
			best_share = s;
			best = &st[i].owner;
		}
	}
	*share = best_share;
	return best;
}

static const struct lsc_report_frame *top_owner(const struct lsc_report *rep, double *share)
{
	return owner_of(rep->blocking, rep->nblocking, share);
}

/* The loop's delay, caused: the blocking calls' owner when they are a tenth of the busy time or
 * more, else the long stretches', else the CPU samples'; NULL when nothing says. */
static const struct lsc_report_frame *cause_of_delay(const struct lsc_report *rep,
						     const struct lsc_report_frame *blocking)
{
	double busy_ns = rep->elu_mean * (double)rep->duration_ns;

	if (blocking && (double)rep->blocking_total_ns >= 0.1 * busy_ns)
		return blocking;
	if (rep->has_starve_fn && rep->starve_ns >= rep->busy_long_total_ns)
		return &rep->starve_fn;
	if (rep->has_busy_owner)
		return &rep->busy_owner;
	if (rep->has_cpu_owner)
		return &rep->cpu_owner;
	return blocking;
}

/* Handles only grow: by 10 or more, rising in 80 % of the windows where the count changed.
 * Node's own count is judged by its type that grew most (sockets of a load come and go around
 * a pile of Timeouts that only grows). */
static int handles_grow(const struct lsc_report *rep)
{
	const struct lsc_report_resource *t = &rep->res_types[0];

	if (!rep->has_handles)
		return 0;
	if (rep->handles_node)
		return rep->nres_types && t->last >= t->first + 10 && t->changes &&
		       t->rises >= 0.8 * t->changes;
	return rep->handles_last >= rep->handles_first + 10 && rep->handles_growing >= 0.8;
}

static int by_severity(const void *a, const void *b)
{
	const struct lsc_finding *x = a, *y = b;

	if (x->severity != y->severity)
		return y->severity - x->severity;
	if (x->impact != y->impact)
		return x->impact < y->impact ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void lsc__report_diagnose(struct lsc_report *rep)
{
	double run_s = (double)rep->duration_ns / 1e9, busy_s = rep->elu_mean * run_s, share;
	const struct lsc_report_frame *owner = top_owner(rep, &share);
	struct lsc_finding *f;
	char where[800];
	uint64_t waited, preempted, block_max = 0;
	size_t bi;
	const struct lsc_report_frame *cause;

	if (rep->crashed) {
		f = finding(rep, "crash", LSC_SEV_CRITICAL);
		if (f) {
			snprintf(f->title, sizeof(f->title), "the process crashed (%s)",
				 strsignal(rep->crash_signal));
			lsc_report_owner_where(&rep->crash.owner, "in", where, sizeof(where));
			snprintf(f->evidence, sizeof(f->evidence),
				 "signal %d at address 0x%llx, %s", rep->crash_signal,
				 (unsigned long long)rep->crash_addr, where);
			f->has_frame = 1;
			f->frame = rep->crash.owner;
		}
	}
	/* Nothing of a loop: a target without libuv (attach --anyway), or a loop that never ran
	 * while recorded. Said as a finding, never "no problem found". */
	if (!rep->has_loop && !rep->shutdown_windows && rep->duration_ns > 0 &&
	    (!strcmp(rep->source, "bpf") || !strcmp(rep->source, "agent"))) {
		f = finding(rep, "no-event-loop", LSC_SEV_WARNING);
		if (f) {
			snprintf(f->title, sizeof(f->title), "no event loop was seen");
			snprintf(f->evidence, sizeof(f->evidence),
				 "the main thread made no loop turn and no epoll wait in %.1f s "
				 "(runtime: %s): the program runs no libuv event loop, or its loop "
				 "did not run while recorded; only CPU samples and system calls "
				 "were measured",
				 run_s, rep->runtime[0] ? rep->runtime : "unknown");
		}
	}
	/* Long busy stretches that the calls in them that waited (blocked, preempted, on a lock)
	 * do not explain: CPU-bound callbacks (a hash, a JSON parse). Fires on the unexplained
	 * part, at 25 % of the loop's busy time. */
	/* the stretches' time runnable, not running, holds the preempted calls' */
	preempted = rep->busy_runq_ns > rep->contention_ns ? rep->busy_runq_ns : rep->contention_ns;
	/* and the collector's pauses, on the loop thread inside its stretches: GC pressure's; the
	 * calls that waited, or the stretches' time asleep (it holds those of them in stretches,
	 * and waits the capture does not see as calls), the larger */
	waited = rep->blocking_total_ns + rep->lock_app_ns + rep->lock_runtime_ns;
	if (rep->busy_asleep_ns > waited)
		waited = rep->busy_asleep_ns;
	waited += preempted + rep->gc_pause_total;
	/* The thread's CPU samples in the stretches measure their CPU time: a sample every 1/hz s
	 * of the process's CPU, taken on the thread that is running; the finding stands on that
	 * estimate (one period more), not on the stretches' length, which holds waits the
	 * scheduler's figures miss when the thread's last reading is older than the stretch (a
	 * thread that seldom runs). The agent's stretches carry their samples. */
	if (rep->cpu_hz && rep->nbusy && !strcmp(rep->source, "agent")) {
		uint64_t cap = (uint64_t)((double)(rep->busy_samples + 1) * 1e9 / rep->cpu_hz);

		if (rep->busy_long_total_ns > waited + cap)
			waited = rep->busy_long_total_ns - cap;
	}
	/* ... and that hold the loop: 2 % of the run, or one stretch of 100 ms (an idle loop's one
	 * 12 ms stretch is a quarter of its busy time, and nothing to fix) */
	if (busy_s > 0 && (rep->nbusy || rep->busy_from_hist) && rep->busy_long_total_ns > waited &&
	    (double)(rep->busy_long_total_ns - waited) / 1e9 >= 0.25 * busy_s &&
	    ((double)(rep->busy_long_total_ns - waited) / 1e9 >= 0.02 * run_s ||
	     rep->busy_max >= 100000000ULL)) {
		double cpu_ms = (rep->busy_long_total_ns - waited) / 1e6;

		f = finding(rep, "cpu-bound-callbacks",
			    cpu_ms / 1e3 >= 0.5 * busy_s ? LSC_SEV_CRITICAL : LSC_SEV_WARNING);
		if (f) {
			double bshare = rep->busy_owner_share;
			const struct lsc_report_frame *bo = &rep->busy_owner;
			char from[200] = "";

			if (!rep->has_busy_owner && rep->nbusy)
				bo = owner_of(rep->busy, rep->nbusy, &bshare);

			lsc_report_owner_where(bo, "under", where, sizeof(where));
			/* from every CPU sample in the stretches; few samples said */
			if (rep->busy_samples)
				snprintf(from, sizeof(from),
					 " (%.0f %% of the stretches' time, from %llu CPU samples "
					 "in them%s",
					 100 * bshare, (unsigned long long)rep->busy_samples,
					 rep->busy_few_samples ? "; " : ")");
			if (rep->busy_samples && rep->busy_few_samples)
				snprintf(from + strlen(from), sizeof(from) - strlen(from),
					 "%llu stretches had fewer than %d)",
					 (unsigned long long)rep->busy_few_samples,
					 LSC_REPORT_STRETCH_SAMPLES);
			snprintf(f->title, sizeof(f->title),
				 "long CPU-bound callbacks hold the loop");
			snprintf(
				f->evidence, sizeof(f->evidence),
				"%llu busy stretches of 10 ms or more; %.1f ms of them outside calls "
				"that waited (%.0f %% of loop busy time); most %s%s",
				(unsigned long long)rep->busy_long_count, cpu_ms,
				100 * cpu_ms / 1e3 / busy_s, where, from);
			f->has_frame = bo->name[0] != 0;
			f->frame = *bo;
			f->impact = run_s > 0 ? cpu_ms / 1e3 / run_s : 0;
		}
	}
	/* ... and, as for the stretches, that hold the loop: 2 % of the run, or one call of 100
	 * ms (an idle loop's two 3 ms writes are a quarter of its busy time, and nothing to fix) */
	for (bi = 0; bi < rep->nblocking; bi++)
		if (rep->blocking[bi].max > block_max)
			block_max = rep->blocking[bi].max;
	if (rep->blocking_total_ns &&
	    (busy_s <= 0 || (double)rep->blocking_total_ns / 1e9 >= 0.1 * busy_s) &&
	    (run_s <= 0 || (double)rep->blocking_total_ns / 1e9 >= 0.02 * run_s ||
	     block_max >= 100000000ULL)) {
		double of_busy = busy_s > 0 ? (double)rep->blocking_total_ns / 1e9 / busy_s : 0;

		f = finding(rep, "blocking-calls",
			    of_busy >= 0.5 ? LSC_SEV_CRITICAL : LSC_SEV_WARNING);
		if (f) {
			snprintf(f->title, sizeof(f->title),
				 "the loop is blocked by synchronous calls (%.60s)",
				 rep->blocking[0].what);
			if (owner) {
				lsc_report_owner_where(owner, "under", where, sizeof(where));
				f->has_frame = 1;
				f->frame = *owner;
			}
			snprintf(f->evidence, sizeof(f->evidence),
				 "%llu blocking calls, %.1f ms in all (%.0f %% of loop busy time); "
				 "%.0f %% %s",
				 (unsigned long long)rep->blocking_count,
				 rep->blocking_total_ns / 1e6, 100 * of_busy, 100 * share,
				 owner ? where : "under an unknown frame");
			f->impact = run_s > 0 ? (double)rep->blocking_total_ns / 1e9 / run_s : 0;
		}
	}
	/* Time the loop thread spent runnable but not running, in its long stretches and long
	 * calls: the machine's CPU was taken. Not the program's doing; its own finding, at the
	 * blocking finding's 10 %. */
	if (preempted && busy_s > 0 && (double)preempted / 1e9 >= 0.1 * busy_s) {
		f = finding(rep, "cpu-contention", LSC_SEV_WARNING);
		if (f) {
			snprintf(f->title, sizeof(f->title),
				 "the loop thread waits for a CPU (the machine is busy)");
			where[0] = 0;
			if (rep->ncontention) {
				lsc_report_owner_where(&rep->contention[0].owner, "under", where,
						       sizeof(where));
				f->has_frame = 1;
				f->frame = rep->contention[0].owner;
			}
			snprintf(
				f->evidence, sizeof(f->evidence),
				"the loop thread was runnable but not running for %.1f ms (%.0f %% of "
				"loop busy time; the scheduler's run-queue delay): another thread or "
				"process had the CPU; %llu long calls were preempted for most of their "
				"time (%.1f ms)%s%s",
				preempted / 1e6, 100 * preempted / 1e9 / busy_s,
				(unsigned long long)rep->contention_count, rep->contention_ns / 1e6,
				rep->ncontention ? ", most " : "", rep->ncontention ? where : "");
			f->impact = run_s > 0 ? (double)preempted / 1e9 / run_s : 0;
		}
	}
	/* The app's own lock waits (the runtime's are not the app's problem: no finding). */
	if (rep->lock_app_ns && (busy_s <= 0 || (double)rep->lock_app_ns / 1e9 >= 0.1 * busy_s)) {
		f = finding(rep, "lock-contention", LSC_SEV_WARNING);
		if (f) {
			snprintf(f->title, sizeof(f->title),
				 "the loop waits on the program's locks");
			where[0] = 0;
			if (rep->nlocks) {
				lsc_report_owner_where(&rep->locks[0].owner, "under", where,
						       sizeof(where));
				f->has_frame = 1;
				f->frame = rep->locks[0].owner;
			}
			snprintf(
				f->evidence, sizeof(f->evidence),
				"%llu lock waits (%s), %.1f ms (%.0f %% of loop busy time); most %s",
				(unsigned long long)rep->lock_app_count,
				rep->nlocks ? rep->locks[0].what : "?", rep->lock_app_ns / 1e6,
				busy_s > 0 ? 100 * rep->lock_app_ns / 1e9 / busy_s : 0,
				rep->nlocks ? where : "?");
			f->impact = run_s > 0 ? (double)rep->lock_app_ns / 1e9 / run_s : 0;
		}
	}
	if (rep->has_loop && (rep->lag_p50 >= 10 * MS || rep->lag_max >= 100 * MS)) {
		f = finding(rep, "loop-delay",
			    rep->lag_p50 >= 10 * MS ? LSC_SEV_CRITICAL : LSC_SEV_WARNING);
		if (f) {
			char frozen[160] = "";

			if (rep->frozen_windows)
				snprintf(frozen, sizeof(frozen),
					 "; frozen (no loop turn) for %.1f s in %llu windows",
					 rep->frozen_ns / 1e9,
					 (unsigned long long)rep->frozen_windows);
			snprintf(f->title, sizeof(f->title), "event-loop delay is high");
			snprintf(f->evidence, sizeof(f->evidence),
				 "lag p50 %.1f ms, p99 %.1f ms, max %.1f ms (thresholds: p50 >= 10 "
				 "ms or max >= 100 ms)%s",
				 rep->lag_p50 / 1e6, rep->lag_p99 / 1e6, rep->lag_max / 1e6,
				 frozen);
			/* where the loop's time went: the blocking calls, else the long stretches,
			 * else the CPU samples */
			if ((cause = cause_of_delay(rep, owner)) != NULL) {
				f->has_frame = 1;
				f->frame = *cause;
			}
		}
	}
	if (rep->has_loop && rep->elu_p50 >= 0.95) {
		f = finding(rep, "loop-saturated", LSC_SEV_CRITICAL);
		if (f) {
			snprintf(f->title, sizeof(f->title), "the event loop is saturated");
			if (rep->has_cpu_owner || rep->ncpu) {
				/* Saturated: the CPU profile says where the time goes (by owner
				 * over every stack) */
				const struct lsc_report_frame *c =
					rep->has_cpu_owner ? &rep->cpu_owner : &rep->cpu[0].owner;

				lsc_report_owner_where(c, "under", where, sizeof(where));
				f->has_frame = 1;
				f->frame = *c;
			}
			snprintf(f->evidence, sizeof(f->evidence),
				 "ELU median %.2f over %llu windows (threshold 0.95), max %.2f%s%s",
				 rep->elu_p50, (unsigned long long)rep->windows, rep->elu_max,
				 rep->ncpu ? "; the most CPU samples " : "",
				 rep->ncpu ? where : "");
		}
	}
	if (rep->gc_worst_second >= 100 * MS) {
		/* critical when collections are half of the loop's busy time */
		f = finding(rep, "gc-pressure",
			    busy_s > 0 && rep->gc_pause_total / 1e9 >= 0.5 * busy_s
				    ? LSC_SEV_CRITICAL
				    : LSC_SEV_WARNING);
		if (f) {
			char who[900] = "";

			if (rep->has_gc_owner) { /* whose allocations the collector ran for */
				lsc_report_owner_where(&rep->gc_owner, "under", where,
						       sizeof(where));
				snprintf(who, sizeof(who),
					 "; %.0f %% of the CPU samples in the collector %s",
					 100 * rep->gc_owner_share, where);
				f->has_frame = 1;
				f->frame = rep->gc_owner;
			}
			snprintf(f->title, sizeof(f->title), "garbage collection stops the loop");
			snprintf(
				f->evidence, sizeof(f->evidence),
				"%.1f ms of GC pause within one second (threshold 100 ms); %llu "
				"collections, %.1f ms in all (%.0f %% of loop busy time), max pause "
				"%.1f ms%s",
				rep->gc_worst_second / 1e6, (unsigned long long)rep->gc_count,
				rep->gc_pause_total / 1e6,
				busy_s > 0 ? 100 * rep->gc_pause_total / 1e9 / busy_s : 0,
				rep->gc_pause_max / 1e6, who);
			f->impact = run_s > 0 ? (double)rep->gc_pause_total / 1e9 / run_s : 0;
		}
	}
	/* Saturated: jobs wait (p99 10 ms), or the queue reached the thread count and stayed
	 * (a mean of a job or more; a burst of short jobs that queue for a millisecond is not) */
	if (rep->has_pool && rep->pool_threads &&
	    (rep->pool_wait_p99 >= 10 * MS ||
	     (rep->pool_depth_max >= rep->pool_threads &&
	      (!rep->has_pool_depth_mean || rep->pool_depth_mean >= 1)))) {
		f = finding(rep, "pool-saturated", LSC_SEV_WARNING);
		if (f) {
			char from[900] = "";

			if (rep->has_pool_submitter) {
				lsc_report_owner_where(&rep->pool_submitter, "from", where,
						       sizeof(where));
				snprintf(from, sizeof(from), "; %.0f %% of the jobs submitted %s",
					 100 * rep->pool_submitter_share, where);
				f->has_frame = 1;
				f->frame = rep->pool_submitter;
			}
			snprintf(f->title, sizeof(f->title), "the thread pool is saturated");
			snprintf(
				f->evidence, sizeof(f->evidence),
				"queue depth up to %u with %u threads; queue wait p99 %.1f ms, max "
				"%.1f ms%s (raise UV_THREADPOOL_SIZE or submit less at once)",
				rep->pool_depth_max, rep->pool_threads, rep->pool_wait_p99 / 1e6,
				rep->pool_wait_max / 1e6, from);
			/* jobs waited about as long as the queue was not empty: its mean length, up
			 * to the whole run (a peak alone says a moment) */
			f->impact = rep->has_pool_depth_mean ? fmin(1, rep->pool_depth_mean)
							     : rep->pool_full_share;
		}
	}
	if (handles_grow(rep)) {
		f = finding(rep, "handle-leak", LSC_SEV_WARNING);
		if (f && rep->handles_node) {
			const struct lsc_report_resource *t = &rep->res_types[0];
			char at[800] = "";

			if (rep->has_res_creator) {
				lsc_report_owner_where(&rep->res_creator, "under", at, sizeof(at));
				f->has_frame = 1;
				f->frame = rep->res_creator;
			}
			snprintf(f->title, sizeof(f->title),
				 "Node's active resources only grow: %s", t->type);
			snprintf(
				f->evidence, sizeof(f->evidence),
				"%s %u -> %u (process.getActiveResourcesInfo()), rising in %.0f %% of "
				"the windows where its count changed; all resources %u -> %u%s%s",
				t->type, t->first, t->last,
				t->changes ? 100.0 * t->rises / t->changes : 0, rep->handles_first,
				rep->handles_last,
				!rep->has_res_creator	 ? ""
				: rep->res_creator_exact ? "; most are made "
							 : "; the JS objects that grew most in "
							   "number alongside were made ",
				at);
		} else if (f) {
			snprintf(f->title, sizeof(f->title), "active handles only grow");
			snprintf(
				f->evidence, sizeof(f->evidence),
				"%u -> %u active handles; rising in %.0f %% of the windows where the "
				"count changed",
				rep->handles_first, rep->handles_last, 100 * rep->handles_growing);
		}
	}
	/* (confirmed by full collections, three or more rising steadily: what only scavenges
	 * saw may be promoted garbage, and two full ones may catch requests in flight) */
	if (rep->has_managed && rep->managed_points >= 3 && rep->managed_slope > 0 &&
	    rep->managed_full >= 3 && rep->managed_full_r2 >= 0.8 &&
	    rep->managed_full_last >= rep->managed_full_first * 1.2 && rep->managed_r2 >= 0.8 &&
	    rep->managed_last >= rep->managed_first * 1.2) {
		f = finding(rep, "managed-heap-growth", LSC_SEV_WARNING);
		if (f) {
			snprintf(f->title, sizeof(f->title),
				 "the managed heap grows after every GC");
			char js[900] = "";

			if (rep->has_js_top) {
				lsc_report_owner_where(&rep->js_top, "under", where, sizeof(where));
				snprintf(js, sizeof(js),
					 "; the JS heap's growth most %s (%+.1f MiB, %.0f %% of "
					 "it; V8's samples)",
					 where, rep->js_top_growth / 1048576.0,
					 100 * rep->js_top_share);
				f->has_frame = 1;
				f->frame = rep->js_top;
			}
			snprintf(f->evidence, sizeof(f->evidence),
				 "live after GC %.1f -> %.1f MiB, +%.1f KiB/s (R^2 %.2f)%s%s%s",
				 rep->managed_first / 1048576.0, rep->managed_last / 1048576.0,
				 rep->managed_slope / 1024, rep->managed_r2,
				 rep->managed_top_type[0] ? "; most growth in " : "",
				 rep->managed_top_type, js);
		}
	}
	if (rep->has_native && rep->native_points >= 3 && rep->native_r2 >= 0.8 &&
	    rep->native_last > rep->native_first * 1.2 + (1 << 20)) {
		f = finding(rep, "native-growth", LSC_SEV_WARNING);
		if (f) {
			snprintf(f->title, sizeof(f->title), "native (malloc) memory grows");
			snprintf(f->evidence, sizeof(f->evidence),
				 "live native bytes %.1f -> %.1f MiB",
				 rep->native_first / 1048576.0, rep->native_last / 1048576.0);
		}
	}
	lsc__report_pitfalls(rep);
	/* Severity follows impact: a saturated or late loop is a symptom; the cause that holds
	 * the most of the run's time (blocked, CPU-bound, collecting, preempted, locked) is as
	 * severe as the symptom it explains, and so comes before it (its impact is above the
	 * symptom's 0). */
	{
		static const char *const causes[] = {"blocking-calls",	"cpu-bound-callbacks",
						     "gc-pressure",	"cpu-contention",
						     "lock-contention", "tick-starvation"};
		struct lsc_finding *top = NULL;
		int symptom = -1;
		size_t i, k;

		for (i = 0; i < rep->nfindings; i++) {
			struct lsc_finding *x = &rep->findings[i];

			if (!strcmp(x->id, "loop-saturated") || !strcmp(x->id, "loop-delay"))
				symptom = x->severity > symptom ? x->severity : symptom;
			for (k = 0; k < sizeof(causes) / sizeof(causes[0]); k++)
				if (!strcmp(x->id, causes[k]) && x->impact > 0 &&
				    (!top || x->impact > top->impact))
					top = x;
		}
		if (top && symptom > top->severity)
			top->severity = symptom;
	}
	/* A managed heap that grows makes the collector work more: GC pressure with it is the
	 * growth's, which comes first (a leak is the cause to fix). */
	{
		struct lsc_finding *gc = NULL, *grow = NULL;
		size_t i;

		for (i = 0; i < rep->nfindings; i++) {
			if (!strcmp(rep->findings[i].id, "gc-pressure"))
				gc = &rep->findings[i];
			if (!strcmp(rep->findings[i].id, "managed-heap-growth"))
				grow = &rep->findings[i];
		}
		if (gc && grow && gc->severity == grow->severity) {
			grow->impact = gc->impact;
			grow->order = gc->order < grow->order ? gc->order : grow->order;
			gc->order = grow->order + 1;
		}
		/* and handles that only grow hold what grows in the heap (a Timeout keeps its
		 * closure): the handles first */
		for (i = 0; grow && i < rep->nfindings; i++)
			if (!strcmp(rep->findings[i].id, "handle-leak") &&
			    rep->findings[i].severity == grow->severity) {
				rep->findings[i].impact = grow->impact;
				rep->findings[i].order = grow->order;
				grow->order++;
			}
	}
	if (rep->nfindings)
		qsort(rep->findings, rep->nfindings, sizeof(*rep->findings), by_severity);
}
