/*
 * report_text.c — `loopscope report` for a person: the diagnosis first, then the numbers behind
 * it, then the stacks. Sections whose data the recording lacks say which capture provides it.
 */
#include "lsc_render.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *sev_name[] = {"info", "warning", "critical"};

static void ms(FILE *o, const char *label, uint64_t ns)
{
	fprintf(o, "%s %.1f ms", label, ns / 1e6);
}

static void where(FILE *o, const struct lsc_report_frame *f)
{
	char w[1024];

	lsc_report_frame_where(f, w, sizeof(w)); /* one way of naming a place, everywhere */
	fputs(w, o);
}

/* " under keepItems (app.js:18)", " in Node internals: readSync (node:fs:708)" */
static void owner(FILE *o, const struct lsc_report_frame *f, const char *prep)
{
	char w[1100];

	lsc_report_owner_where(f, prep, w, sizeof(w));
	fputs(w, o);
}

static void stack(FILE *o, const struct lsc_report_stack *s, const char *unit)
{
	size_t i;

	fprintf(o, "  %5.1f%%  %s", 100 * s->share, s->what);
	if (!*unit)
		;
	else if (!strcmp(unit, "stretch"))
		fprintf(o, ": %.1f ms of the stretches, %llu CPU samples", s->total / 1e6,
			(unsigned long long)s->count);
	else if (!strcmp(unit, "ms"))
		fprintf(o, ": %llu calls, %.1f ms total, max %.1f ms", (unsigned long long)s->count,
			s->total / 1e6, s->max / 1e6);
	else
		fprintf(o, ": %llu samples", (unsigned long long)s->total);
	fputc(' ', o);
	owner(o, &s->owner, "under");
	fputc('\n', o);
	for (i = 0; i < s->nframes; i++) {
		fputs("          ", o);
		where(o, &s->frames[i]);
		fputc('\n', o);
	}
}

static uint64_t counter(const struct lsc_report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->ncounters; i++)
		if (!strcmp(r->counters[i].name, name))
			return r->counters[i].value;
	return 0;
}

/* Node.js: what the agent's readings cost the main thread. */
static void node_readings(FILE *o, const struct lsc_report *r)
{
	uint64_t hn = counter(r, "js_heap_readings"), rn = counter(r, "node_resources_readings");

	if (hn || rn)
		fprintf(o,
			"  the agent's readings on the main thread: JS heap %llu (%.1f ms), Node's "
			"resources %llu (%.1f ms)\n",
			(unsigned long long)hn, counter(r, "js_heap_read_ns") / 1e6,
			(unsigned long long)rn, counter(r, "node_resources_read_ns") / 1e6);
}

/* attach: how many stacks reach their thread's root (a stack cut short is blamed on the wrong
 * frames: the reader should know). */
static void stack_roots(FILE *o, const struct lsc_report *r)
{
	const double v[3] = {r->roots_cpu, r->roots_offcpu, r->roots_blocking};
	static const char *const what[3] = {"CPU samples", "off-CPU time", "blocking calls"};
	const char *sep = "  stacks that reach their thread's root (_start, clone): ";
	int i;

	for (i = 0; i < 3; i++)
		if (v[i] >= 0) {
			fprintf(o, "%s%s %.1f %%", sep, what[i], 100 * v[i]);
			sep = ", ";
		}
	if (sep[0] == ',')
		fputc('\n', o);
}

/* ", from 2026-12-01 05:00:00 UTC (a span of a longer recording)" */
static const char *span_of(const struct lsc_report *r, char *buf, size_t cap)
{
	time_t t = (time_t)(r->start_unix_ns / 1000000000ULL);
	struct tm tm;
	char at[32] = "?";

	if (r->start_unix_ns && gmtime_r(&t, &tm))
		strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(buf, cap, ", from %s (a span of a longer recording)", at);
	return buf;
}

static void title(FILE *o, const struct lsc_report *r)
{
	char when[96];

	fprintf(o, "loopscope report: %s (pid %u, %s capture), %.1f s%s\n",
		r->executable[0] ? r->executable : "?", r->pid, r->source[0] ? r->source : "?",
		r->duration_ns / 1e9,
		r->truncated  ? ", truncated (the process died; the last window may be missing)"
		: r->complete ? ""
		: r->cut      ? span_of(r, when, sizeof(when))
			      : ", incomplete (no footer: the process died)");
	node_readings(o, r);
	stack_roots(o, r);
}

static void findings(FILE *o, const struct lsc_report *r)
{
	size_t i;

	if (r->loops_in_recording > 1 ||
	    (r->loop_key[0] && r->loop_role != LOOPSCOPE__THREAD_ROLE__ROLE_MAIN))
		fprintf(o, "\nDiagnosis: %s\n", r->loop_name);
	else
		fputs("\nDiagnosis\n", o);
	if (!r->nfindings)
		fputs("  no problem found by the default rules\n", o);
	for (i = 0; i < r->nfindings; i++) {
		const struct lsc_finding *f = &r->findings[i];

		fprintf(o, "  [%s] %s\n         %s\n", sev_name[f->severity], f->title,
			f->evidence);
		if (f->has_frame) {
			fputs("         ", o);
			owner(o, &f->frame, "at");
			fputc('\n', o);
		}
	}
}

/* The sections of r; what serves the whole process (the pool, memory, handles) from proc. */
static int sections(FILE *o, const struct lsc_report *r, const struct lsc_report *proc)
{
	const struct lsc_report *lr = r;
	size_t i;

	fputs("\nEvent loop\n", o);
	if (r->has_loop) {
		fprintf(o,
			"  ELU mean %.2f, median window %.2f, max window %.2f; %llu iterations\n",
			r->elu_mean, r->elu_p50, r->elu_max, (unsigned long long)r->iterations);
		fputs(" ", o);
		ms(o, " busy segments p50", r->busy_p50);
		ms(o, ", p99", r->busy_p99);
		ms(o, ", max", r->busy_max);
		fputs("\n ", o);
		ms(o, " lag p50", r->lag_p50);
		ms(o, ", p99", r->lag_p99);
		ms(o, ", max", r->lag_max);
		fputc('\n', o);
		if (r->frozen_windows)
			fprintf(o,
				"  frozen: %.1f s in %llu windows without a loop turn (one callback "
				"held the thread; lag counts it)\n",
				r->frozen_ns / 1e9, (unsigned long long)r->frozen_windows);
		if (r->shutdown_windows || r->has_shutdown_at)
			fprintf(o,
				"  left out: the drain after the program began to stop (%s), %.1f s "
				"(%llu windows), ELU %.2f\n",
				r->shutdown_reason[0] ? r->shutdown_reason
						      : "SIGTERM, SIGINT or SIGHUP",
				r->shutdown_ns / 1e9, (unsigned long long)r->shutdown_windows,
				r->shutdown_elu);
		if (r->drain_blocking_count || r->drain_busy_count) {
			char w[1100] = "";

			if (r->has_drain_owner)
				lsc_report_owner_where(&r->drain_owner, "under", w, sizeof(w));
			fprintf(o,
				"  what ran in the drain: %llu blocking calls (%.1f ms), %llu long "
				"busy stretches (%.1f ms); the longest %s\n",
				(unsigned long long)r->drain_blocking_count,
				r->drain_blocking_ns / 1e6, (unsigned long long)r->drain_busy_count,
				r->drain_busy_ns / 1e6, w);
		}
	} else {
		fputs("  no loop windows in this recording (capture with loopscope run or attach)\n",
		      o);
	}
	r = proc;
	fputs("\nThread pool\n", o);
	if (r->has_pool) {
		fprintf(o, "  %u threads, queue depth max %u", r->pool_threads, r->pool_depth_max);
		if (r->has_pool_depth_mean)
			fprintf(o, ", mean %.1f", r->pool_depth_mean);
		fputs("; ", o);
		ms(o, "queue wait p50", r->pool_wait_p50);
		ms(o, ", p99", r->pool_wait_p99);
		ms(o, ", max", r->pool_wait_max);
		fputc('\n', o);
		if (r->has_pool_submitter) {
			char where[800];

			lsc_report_owner_where(&r->pool_submitter, "from", where, sizeof(where));
			fprintf(o, "  %.0f %% of %llu jobs submitted %s\n",
				100 * r->pool_submitter_share, (unsigned long long)r->pool_submits,
				where);
		}
	} else {
		fputs("  no thread-pool data\n", o);
	}
	r = lr;
	fprintf(o, "\nGC\n  %llu collections", (unsigned long long)r->gc_count);
	if (r->gc_count) {
		ms(o, ", pause total", r->gc_pause_total);
		ms(o, ", max", r->gc_pause_max);
		ms(o, ", worst second", r->gc_worst_second);
	}
	r = proc;
	fputs("\n\nMemory\n", o);
	if (r->has_native)
		fprintf(o, "  native live %.1f -> %.1f MiB (max %.1f)\n",
			r->native_first / 1048576.0, r->native_last / 1048576.0,
			r->native_max / 1048576.0);
	if (r->has_managed)
		fprintf(o, "  managed live after GC %.1f -> %.1f MiB (%+.1f KiB/s, R^2 %.2f)%s%s\n",
			r->managed_first / 1048576.0, r->managed_last / 1048576.0,
			r->managed_slope / 1024, r->managed_r2,
			r->managed_top_type[0] ? "; most growth in " : "", r->managed_top_type);
	if (r->rss_max)
		fprintf(o, "  RSS max %.1f MiB%s\n", r->rss_max / 1048576.0,
			r->rss_max_is_peak ? " (the kernel's high-water mark)" : "");
	if (!r->has_native && !r->has_managed && !r->rss_max)
		fputs("  no memory data (capture with --heap sampled or full)\n", o);
	fputs("\nHandles and file descriptors\n", o);
	if (r->has_handles && r->handles_node) {
		size_t k;

		fprintf(o,
			"  Node's active resources %u -> %u (max %u; process.getActiveResourcesInfo()); "
			"fds max %u of %u\n",
			r->handles_first, r->handles_last, r->handles_max, r->fds_max, r->fd_limit);
		for (k = 0; k < r->nres_types && k < 8; k++)
			fprintf(o, "    %-20s %u -> %u (max %u)\n", r->res_types[k].type,
				r->res_types[k].first, r->res_types[k].last, r->res_types[k].max);
	} else if (r->has_handles)
		fprintf(o, "  active handles %u -> %u (max %u); fds max %u of %u\n",
			r->handles_first, r->handles_last, r->handles_max, r->fds_max, r->fd_limit);
	else
		fputs("  no handle data\n", o);

	r = lr;
	fprintf(o, "\nTop blocking calls on the loop (%llu calls, %.1f ms)\n",
		(unsigned long long)r->blocking_count, r->blocking_total_ns / 1e6);
	if (!r->nblocking)
		fputs("  none recorded\n", o);
	for (i = 0; i < r->nblocking; i++)
		stack(o, &r->blocking[i], "ms");
	/* what the blocking calls' time was, and the long calls that were not blocking */
	if (r->blocking_measured_ns)
		fprintf(o,
			"  of %.1f ms measured: %.1f ms asleep in the kernel (I/O, sleeps), %.1f ms "
			"on the CPU in it (copies: a cached file), %.1f ms preempted\n",
			r->blocking_measured_ns / 1e6, r->blocking_asleep_ns / 1e6,
			r->blocking_cpu_ns / 1e6, r->blocking_runq_ns / 1e6);
	if (r->contention_count || r->lock_runtime_count)
		fprintf(o,
			"  not blocking: %llu calls runnable but preempted for half their time or "
			"more (CPU contention, %.1f ms); %llu waits on the runtime's own locks "
			"(%.1f ms)\n",
			(unsigned long long)r->contention_count, r->contention_ns / 1e6,
			(unsigned long long)r->lock_runtime_count, r->lock_runtime_ns / 1e6);
	if (r->nlocks) {
		fprintf(o, "\nLock waits of the program on the loop (%llu, %.1f ms)\n",
			(unsigned long long)r->lock_app_count, r->lock_app_ns / 1e6);
		for (i = 0; i < r->nlocks; i++)
			stack(o, &r->locks[i], "ms");
	}
	if (r->ncontention) {
		fprintf(o, "\nCalls preempted on the loop: CPU contention (%llu, %.1f ms)\n",
			(unsigned long long)r->contention_count, r->contention_ns / 1e6);
		for (i = 0; i < r->ncontention; i++)
			stack(o, &r->contention[i], "ms");
	}
	if (r->nbusy) {
		fprintf(o, "\nLong busy stretches of the loop (%llu, %.1f ms)\n",
			(unsigned long long)r->busy_long_count, r->busy_long_total_ns / 1e6);
		if (r->busy_samples)
			fprintf(o,
				"  their time shared among the %llu CPU samples taken in them; %llu "
				"stretches had fewer than %d\n",
				(unsigned long long)r->busy_samples,
				(unsigned long long)r->busy_few_samples,
				LSC_REPORT_STRETCH_SAMPLES);
		if (r->busy_runq_ns || r->busy_asleep_ns)
			fprintf(o,
				"  of their time, %.1f ms runnable but not running (preempted), %.1f "
				"ms asleep (waits that were not calls the capture times)\n",
				r->busy_runq_ns / 1e6, r->busy_asleep_ns / 1e6);
		for (i = 0; i < r->nbusy; i++)
			stack(o, &r->busy[i], r->busy_samples ? "stretch" : "ms");
	}
	if (r->crashed) {
		fprintf(o, "\nCrash: signal %d at 0x%llx\n", r->crash_signal,
			(unsigned long long)r->crash_addr);
		stack(o, &r->crash, "");
	}
	fprintf(o, "\nTop CPU stacks (%llu samples)\n", (unsigned long long)r->cpu_total);
	if (!r->ncpu)
		fputs("  none recorded\n", o);
	for (i = 0; i < r->ncpu; i++)
		stack(o, &r->cpu[i], "samples");
	return ferror(o) ? -EIO : 0;
}

int lsc_render_report_text(FILE *o, const struct lsc_report *r)
{
	title(o, r);
	findings(o, r);
	return sections(o, r, r);
}

static void loop_row(FILE *o, const struct lsc_report *r)
{
	int sev = -1;
	size_t i;

	for (i = 0; i < r->nfindings; i++)
		if (r->findings[i].severity > sev)
			sev = r->findings[i].severity;
	fprintf(o,
		"  %-28s ELU %.2f, lag p99 %.1f ms, %llu long busy stretches (%.1f ms), %llu "
		"blocking calls (%.1f ms), %llu GCs (%.1f ms): %s\n",
		r->loop_name, r->elu_mean, r->lag_p99 / 1e6, (unsigned long long)r->busy_long_count,
		r->busy_long_total_ns / 1e6, (unsigned long long)r->blocking_count,
		r->blocking_total_ns / 1e6, (unsigned long long)r->gc_count,
		r->gc_pause_total / 1e6, sev < 0 ? "no finding" : sev_name[sev]);
}

int lsc_render_report_loops_text(FILE *o, const struct lsc_report_loops *l)
{
	const struct lsc_report *lead = l->rep[l->lead];
	const struct lsc_report *proc = l->main < l->n ? l->rep[l->main] : lead;
	size_t i, k;

	/* one loop, the program's main one (or none): nothing to tell apart */
	if (l->n == 1 && lead->loops_in_recording <= 1 &&
	    (!l->id[0].key[0] || l->id[0].role == LOOPSCOPE__THREAD_ROLE__ROLE_MAIN))
		return lsc_render_report_text(o, lead);
	title(o, lead);
	fprintf(o, "\nLoops (%zu shown", l->n);
	if (l->hidden)
		fprintf(o, "; Node's platform loop hidden: --loop platform");
	fputs(")\n", o);
	for (i = 0; i < l->n; i++)
		loop_row(o, l->rep[i]);
	if (l->n > 1) {
		fprintf(o, "  showing %s, the worst; --loop", lead->loop_name);
		for (i = 0; i < l->n; i++)
			fprintf(o, " %s", l->id[i].key);
		fputs(" for one\n", o);
	}
	findings(o, lead);
	for (i = 0; i < l->n; i++) {
		const struct lsc_report *r = l->rep[i];

		if (i == l->lead || !r->nfindings)
			continue;
		fprintf(o, "\nFindings on %s (--loop %s for its sections)\n", r->loop_name,
			l->id[i].key);
		for (k = 0; k < r->nfindings; k++)
			fprintf(o, "  [%s] %s\n         %s\n", sev_name[r->findings[k].severity],
				r->findings[k].title, r->findings[k].evidence);
	}
	if (proc != lead)
		fprintf(o,
			"\n(the thread pool, memory and handles serve the whole process: shown "
			"from %s's view)\n",
			proc->loop_name);
	return sections(o, lead, proc);
}
