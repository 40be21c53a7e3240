/*
 * report_pitfalls.c — the classic pitfalls by name (docs/report.md "Diagnosis rules"), beside
 * the general rules of report_rules.c, which calls this before ordering the findings:
 *   tick-starvation       a process.nextTick or microtask chain holds timers and I/O back
 *                         (report_chains.c tells its stretches apart);
 *   backpressure-ignored  writes queue up behind a reader slower than the writer: libuv's
 *                         write queues and Node's sockets' JS buffers at the windows' ends,
 *                         the writer the owner of the CPU samples in the write path;
 *   shutdown-hang         asked to stop (a signal it handles, its last listener closed), it
 *                         ran on for SHUTDOWN_GRACE or more, or ended without finishing its
 *                         recording (killed): what kept it alive, the last window's handles
 *                         and Node's resources by type, and where the JS heap says they were
 *                         made.
 * Each names the owner by the shared rule (owner.c) and states the numbers gate judges.
 */
#include "lsc_error.h"
#include "lsc_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS		 1000000ULL
#define BACKPRESSURE_MIN (8ULL << 20) /* queued at a window's end: the finding */
#define SHUTDOWN_GRACE	 (5000 * MS)  /* a stop that takes longer is a hang */

static const char *const chain_queue[] = {"process.nextTick", "microtask (promise)",
					  "tick or microtask"};

static void starvation(struct lsc_report *rep, double run_s)
{
	struct lsc_finding *f;
	char where[800], how[200] = "";

	/* chains that hold the loop: 2 % of the run, or one of 100 ms (a 10 ms chain now and
	 * then delays a timer by as much, and is nothing to fix) */
	if (!rep->starve_count || (run_s > 0 && (double)rep->starve_ns / 1e9 < 0.02 * run_s &&
				   rep->starve_max_ns < 100 * MS))
		return;
	f = lsc__report_finding(rep, "tick-starvation",
				rep->starve_max_ns >= 100 * MS ? LSC_SEV_CRITICAL
							       : LSC_SEV_WARNING);
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "a %s chain starves the event loop",
		 chain_queue[rep->starve_kind]);
	if (rep->has_starve_fn)
		lsc_report_owner_where(&rep->starve_fn, "re-queuing", where, sizeof(where));
	else
		snprintf(where, sizeof(where), "(no function of the program in its samples)");
	if (rep->starve_from_samples)
		snprintf(how, sizeof(how),
			 " (attach: %.0f %% of the loop's CPU samples ran in the chain, that share "
			 "of its long segments)",
			 rep->starve_samples ? 100.0 * rep->starve_fn_share : 0);
	snprintf(f->evidence, sizeof(f->evidence),
		 "%llu busy stretches ran inside the %s queue, %s; timers and I/O waited up to "
		 "%.1f ms (%.1f ms in all, %.0f %% of the run; lag max %.1f ms)%s",
		 (unsigned long long)rep->starve_count, chain_queue[rep->starve_kind], where,
		 rep->starve_max_ns / 1e6, rep->starve_ns / 1e6,
		 run_s > 0 ? 100 * (double)rep->starve_ns / 1e9 / run_s : 0, rep->lag_max / 1e6,
		 how);
	f->has_frame = rep->has_starve_fn;
	if (rep->has_starve_fn)
		f->frame = rep->starve_fn;
	f->impact = run_s > 0 ? (double)rep->starve_ns / 1e9 / run_s : 0;
}

/* ------------------------------------------------------------------ ignored backpressure */

/* A frame of the write path: Node's streams and sockets (JS and native), refloop's response
 * writes. The program's frame below it (rootward) wrote. */
static int write_path(const struct lsc_named_frame *nf)
{
	static const char *const js_files[] = {"node:internal/streams/writable", "node:net",
					       "node:internal/stream_base_commons",
					       "node:_http_outgoing"};
	size_t i;

	if (!strcmp(nf->name, "rl_http_write") ||
	    (!strcmp(nf->name, "queue_write") && nf->file && strstr(nf->file, "runtime/http.c")) ||
	    !strncmp(nf->name, "node::StreamBase::Write", 23) ||
	    !strncmp(nf->name, "node::LibuvStreamWrap::DoTryWrite", 33) ||
	    !strncmp(nf->name, "node::LibuvStreamWrap::DoWrite", 30))
		return 1;
	if (!nf->file)
		return 0;
	for (i = 0; i < sizeof(js_files) / sizeof(js_files[0]); i++)
		if (!strcmp(nf->file, js_files[i]) &&
		    (strstr(nf->name, "write") || strstr(nf->name, "Write")))
			return 1;
	return 0;
}

struct writer {
	struct lsc_report_frame frame;
	uint64_t samples;
};

enum { MAX_WRITERS = 32 };

/* Counts amount for owner f among w's nw owners (the first MAX_WRITERS owners seen). */
static void add_owner(struct writer *w, size_t *nw, const struct lsc_report_frame *f,
		      uint64_t amount)
{
	size_t j;

	for (j = 0; j < *nw; j++)
		if (!strcmp(w[j].frame.name, f->name) && !strcmp(w[j].frame.file, f->file))
			break;
	if (j == *nw && *nw < MAX_WRITERS)
		w[(*nw)++].frame = *f;
	if (j < *nw)
		w[j].samples += amount;
}

/* The owner nearest the program (owner.c's tiers), then with the most; 0 when there is none.
 * The tier comes first: as a socket is torn down, Node errors out each write still queued
 * (afterWrite, errorBuffer, NodeError), CPU in the write path that no program code wrote. */
static size_t top_owner(const struct writer *w, size_t nw)
{
	size_t i, best = 0;

	for (i = 1; i < nw; i++)
		if (w[i].frame.tier < w[best].frame.tier ||
		    (w[i].frame.tier == w[best].frame.tier && w[i].samples > w[best].samples))
			best = i;
	return best;
}

/* Whether the stack passes through the write path. */
static int through_write(const struct lsc_recording *r, struct lsc_symbolizer *sym, uint32_t id)
{
	const Loopscope__Stack *st = lsc_recording_stack(r, id);
	size_t d;

	for (d = 0; st && d < st->n_frames; d++) {
		struct lsc_named_frame nf;

		lsc_frame_name(r, sym, st->frames[d], d > 0, d < st->kernel_frames, &nf);
		if (write_path(&nf))
			return 1;
	}
	return 0;
}

/* The owners of the CPU samples whose stacks pass through the write path. */
static int writers(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		   struct lsc_report *rep)
{
	uint8_t *memo = calloc(r->nstacks + 1, 1); /* 0 unknown, 1 not the write path, 2 it is */
	struct writer *w = calloc(MAX_WRITERS, sizeof(*w));
	struct lsc_report_stack *st = malloc(sizeof(*st));
	uint64_t all = 0;
	size_t i, k, nw = 0, best;

	if (!memo || !w || !st) {
		free(memo);
		free(w);
		free(st);
		return -ENOMEM;
	}
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind != LOOPSCOPE__SAMPLE_KIND__CPU)
			continue;
		for (k = 0; k < s->n_stack_id && k < s->n_value; k++) {
			size_t ix = lsc_recording_stack_index(r, s->stack_id[k]);

			if (ix >= r->nstacks)
				continue;
			if (!memo[ix])
				memo[ix] = through_write(r, sym, s->stack_id[k]) ? 2 : 1;
			if (memo[ix] != 2)
				continue;
			lsc_report_fill_stack(r, sym, s->stack_id[k], st);
			add_owner(w, &nw, &st->owner, s->value[k]);
			all += s->value[k];
		}
	}
	best = top_owner(w, nw);
	if (nw) {
		rep->has_writer = 1;
		rep->writer = w[best].frame;
		rep->writer_samples = all;
		rep->writer_share = (double)w[best].samples / (double)all;
	}
	free(memo);
	free(w);
	free(st);
	return 0;
}

/* What grew most between the first snapshot of a heap (kind: the native heap's or the JS
 * heap's live bytes) and the last one at or before t, by owner: the buffers a producer queued
 * are its allocations. Into rep as the writer.
 *
 * write_only: the bytes live at that snapshot whose stacks pass through the write path (the
 * runtime copies what it queues: refloop), not the growth. */
static int growth_owner(const struct lsc_recording *r, struct lsc_symbolizer *sym, int kind,
			uint64_t t, int write_only, struct lsc_report *rep)
{
	struct lsc_heap_values first = {0}, at = {0};
	struct writer *w = calloc(MAX_WRITERS, sizeof(*w));
	struct lsc_report_stack *st = malloc(sizeof(*st));
	uint32_t upto = 0, low = 0;
	uint64_t all = 0;
	size_t i, j, nw = 0, best;
	int e = -ENOMEM;

	if (!w || !st)
		goto out;
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		/* (the batch that ends a snapshot may be of another kind: the reader knows) */
		if ((int)s->kind != kind || !s->snapshot)
			continue;
		/* (a snapshot taken just after the window that peaked: its writer's heap) */
		if (s->t_ns <= t + 100 * MS && s->snapshot > upto)
			upto = s->snapshot;
		if (!low || s->snapshot < low)
			low = s->snapshot;
	}
	e = 0;
	if (!upto || (!write_only && upto == low) ||
	    (!write_only && lsc_recording_heap_snapshot(r, kind, low, &first)) ||
	    lsc_recording_heap_snapshot(r, kind, upto, &at))
		goto out;
	for (i = 0; i < at.n; i++) {
		uint64_t before = 0;

		for (j = 0; j < first.n; j++)
			if (first.stack_id[j] == at.stack_id[i])
				before = first.value[j];
		if (at.value[i] <= before || (write_only && !through_write(r, sym, at.stack_id[i])))
			continue;
		lsc_report_fill_stack(r, sym, at.stack_id[i], st);
		add_owner(w, &nw, &st->owner, at.value[i] - before);
		all += at.value[i] - before;
	}
	best = top_owner(w, nw);
	if (nw && all) {
		rep->has_writer = 1;
		rep->writer_from_heap = 1;
		rep->writer = w[best].frame;
		rep->writer_samples = all; /* bytes */
		rep->writer_share = (double)w[best].samples / (double)all;
	}
out:
	lsc_heap_values_free(&first);
	lsc_heap_values_free(&at);
	free(w);
	free(st);
	return e;
}

int lsc__report_writes(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		       struct lsc_report *rep)
{
	int e;

	size_t i, n = 0, k;

	for (i = 0; i < r->nwindows; i++) {
		const Loopscope__Window *w = r->windows[i];
		uint64_t uv = w->has_write_queued_bytes ? w->write_queued_bytes : 0;
		uint64_t js = w->has_js_write_buffered_bytes ? w->js_write_buffered_bytes : 0;

		if (!w->has_write_queued_bytes && !w->has_js_write_buffered_bytes)
			continue;
		rep->has_write_queue |= w->has_write_queued_bytes;
		rep->has_js_write |= w->has_js_write_buffered_bytes;
		n++;
		if (uv + js > rep->write_peak) {
			rep->write_peak = uv + js;
			rep->write_peak_at_ns = w->start_ns + w->length_ns;
			rep->write_peak_uv = uv;
			rep->write_peak_js = js;
		}
		if (w->write_queued_max > rep->write_peak_one)
			rep->write_peak_one = w->write_queued_max;
		if (w->js_write_buffered_max > rep->write_peak_one)
			rep->write_peak_one = w->js_write_buffered_max;
		if (w->js_write_need_drain > rep->write_need_drain_max)
			rep->write_need_drain_max = w->js_write_need_drain;
	}
	/* a few points over time: windows spread evenly over the run */
	for (i = 0, k = 0; i < r->nwindows && n; i++) {
		const Loopscope__Window *w = r->windows[i];
		size_t want = rep->nwrite_points;

		if (!w->has_write_queued_bytes && !w->has_js_write_buffered_bytes)
			continue;
		if (want < 8 && k * 8 >= want * n) {
			rep->write_points[want].t_ns = w->start_ns + w->length_ns;
			rep->write_points[want].bytes =
				w->write_queued_bytes + w->js_write_buffered_bytes;
			rep->nwrite_points++;
		}
		k++;
	}
	if (!n || rep->write_peak < BACKPRESSURE_MIN)
		return 0;
	/* the CPU samples in the write path name the writer; too few of them (writes that only
	 * append to a queue cost little), the allocations live at the peak (the buffers queued) */
	e = writers(r, sym, rep);
	if (!e && rep->writer_samples < 5) {
		struct lsc_report cpu_only = *rep;

		static const int kinds[] = {LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES,
					    LOOPSCOPE__SAMPLE_KIND__JS_LIVE_BYTES};
		int kk, write_only;

		rep->has_writer = 0;
		/* the bytes live at the peak that were allocated in the write path (copies the
		 * runtime queued), else what grew until then (the buffers a producer made) */
		for (write_only = 1; write_only >= 0; write_only--)
			for (kk = 0; kk < 2 && !e && !rep->has_writer; kk++)
				e = growth_owner(r, sym, kinds[kk], rep->write_peak_at_ns,
						 write_only, rep);
		if (!e && !rep->has_writer) { /* the few CPU samples, said as few */
			rep->has_writer = cpu_only.has_writer;
			rep->writer = cpu_only.writer;
			rep->writer_share = cpu_only.writer_share;
			rep->writer_samples = cpu_only.writer_samples;
		}
	}
	return e;
}

static void backpressure(struct lsc_report *rep)
{
	struct lsc_finding *f;
	char where[800], parts[300] = "", series[300] = "", why[200] = "";
	size_t i, n = 0;

	if (rep->write_peak < BACKPRESSURE_MIN)
		return;
	f = lsc__report_finding(rep, "backpressure-ignored",
				rep->write_peak >= 8 * BACKPRESSURE_MIN ? LSC_SEV_CRITICAL
									: LSC_SEV_WARNING);
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title),
		 "ignored backpressure: writes queue up behind a slow reader");
	if (rep->has_writer)
		lsc_report_owner_where(&rep->writer, "from", where, sizeof(where));
	else
		snprintf(where, sizeof(where), "(no CPU sample in the write path says from where)");
	if (rep->has_js_write)
		n += (size_t)snprintf(
			parts, sizeof(parts),
			"Node's socket buffers %.1f MiB, libuv's write queues %.1f MiB; "
			"%u socket%s wanted 'drain'; ",
			rep->write_peak_js / 1048576.0, rep->write_peak_uv / 1048576.0,
			rep->write_need_drain_max, rep->write_need_drain_max == 1 ? "" : "s");
	snprintf(parts + n, sizeof(parts) - n, "%.1f MiB on one %s",
		 rep->write_peak_one / 1048576.0, rep->has_js_write ? "socket" : "stream");
	for (i = 0, n = 0; i < rep->nwrite_points && n < sizeof(series); i++)
		n += (size_t)snprintf(series + n, sizeof(series) - n, "%s%.1f", i ? " -> " : "",
				      rep->write_points[i].bytes / 1048576.0);
	if (rep->has_writer && rep->writer_from_heap)
		snprintf(why, sizeof(why),
			 " (the CPU samples in the write path too few to say; %.0f %% of the "
			 "%.1f MiB of the heap that came with the queue was allocated there)",
			 100 * rep->writer_share, rep->writer_samples / 1048576.0);
	else if (rep->has_writer)
		snprintf(why, sizeof(why), " (%.0f %% of %llu CPU samples in the write path)",
			 100 * rep->writer_share, (unsigned long long)rep->writer_samples);
	snprintf(f->evidence, sizeof(f->evidence),
		 "%.1f MiB queued for writing at %.1f s (%s), written %s%s without waiting for "
		 "'drain'; queued at the windows' ends: %s MiB",
		 rep->write_peak / 1048576.0, rep->write_peak_at_ns / 1e9, parts, where, why,
		 series);
	f->has_frame = rep->has_writer;
	if (rep->has_writer)
		f->frame = rep->writer;
}

/* ------------------------------------------------------------------ shutdown */

/* Where the alive handles of window w were made (attach), the most first. */
static void alive_sites(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			const Loopscope__Window *w, struct lsc_report *rep)
{
	struct lsc_report_stack *st = malloc(sizeof(*st));
	size_t i, j, n = 0;

	if (!st)
		return;
	for (i = 0; i < w->n_alive_sites && n < 8; i++) {
		const Loopscope__HandleSite *h = w->alive_sites[i];

		if (!h->type || !h->count)
			continue;
		snprintf(rep->alive_site[n].type, sizeof(rep->alive_site[0].type), "%s", h->type);
		rep->alive_site[n].count = h->count;
		rep->alive_site[n].has_frame = h->has_stack_id && h->stack_id;
		if (rep->alive_site[n].has_frame) {
			size_t k = 1, best = 0;

			/* the owner rule over the callers of libuv's initialisers (the leaf, and
			 * uv_tcp_init above uv__stream_init: libuv's own frames) */
			lsc_report_fill_stack(r, sym, h->stack_id, st);
			while (k < st->nframes && !strncmp(st->frames[k].name, "uv_", 3))
				k++;
			for (; k < st->nframes; k++)
				if (!best || st->frames[k].tier < st->frames[best].tier)
					best = k;
			rep->alive_site[n].frame = best ? st->frames[best] : st->owner;
		}
		n++;
	}
	free(st);
	for (i = 1; i < n; i++) /* the most first (insertion: eight at most) */
		for (j = i; j > 0 && rep->alive_site[j].count > rep->alive_site[j - 1].count; j--) {
			__typeof__(rep->alive_site[0]) t = rep->alive_site[j];

			rep->alive_site[j] = rep->alive_site[j - 1];
			rep->alive_site[j - 1] = t;
		}
	rep->nalive_sites = n;
}

void lsc__report_alive(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		       struct lsc_report *rep)
{
	const Loopscope__Window *w = NULL;
	uint64_t at, after;
	size_t i, nh;
	Loopscope__HandleCount **hc;

	if (!rep->has_shutdown_at)
		return;
	/* the state once the stop has taken the grace (or at the end, if it ended sooner): the
	 * last window that counted handles and ended by then */
	after = rep->duration_ns > rep->shutdown_at_ns ? rep->duration_ns - rep->shutdown_at_ns : 0;
	at = rep->shutdown_at_ns + (after < SHUTDOWN_GRACE ? after : SHUTDOWN_GRACE);
	for (i = 0; i < r->nwindows; i++) {
		const Loopscope__Window *x = r->windows[i];

		if ((x->has_active_handles || x->resources_counted) &&
		    x->start_ns + x->length_ns <= at + 100 * MS &&
		    (!w || x->start_ns > w->start_ns))
			w = x;
	}
	if (!w)
		return;
	rep->has_alive = 1;
	rep->alive_handles = w->active_handles;
	rep->alive_reqs = w->active_reqs;
	/* what keeps it alive: the active, referenced handles (older recordings: all of them) */
	hc = w->n_alive_handles ? w->alive_handles : w->handles;
	nh = w->n_alive_handles ? w->n_alive_handles : w->n_handles;
	for (i = 0; i < nh && rep->nalive < 16; i++)
		if (hc[i]->type && hc[i]->count) {
			snprintf(rep->alive[rep->nalive].type, sizeof(rep->alive[0].type), "%s",
				 hc[i]->type);
			rep->alive[rep->nalive++].count = hc[i]->count;
		}
	alive_sites(r, sym, w, rep);
	for (i = 0; i < w->n_resources && rep->nalive_res < 16; i++)
		if (w->resources[i]->type && w->resources[i]->count) {
			snprintf(rep->alive_res[rep->nalive_res].type,
				 sizeof(rep->alive_res[0].type), "%s", w->resources[i]->type);
			rep->alive_res[rep->nalive_res++].count = w->resources[i]->count;
		}
}

/* What a libuv handle type is, for a person: "tcp" -> "TCP sockets or servers". */
static const char *handle_words(const char *type, uint32_t n)
{
	static const char *const words[][3] = {
		{"tcp", "TCP socket or server", "TCP sockets or servers"},
		{"timer", "timer", "timers"},
		{"named_pipe", "pipe", "pipes"},
		{"process", "child process", "child processes"},
		{"signal", "signal handler", "signal handlers"},
		{"udp", "UDP socket", "UDP sockets"},
		{"fs_event", "file watcher", "file watchers"},
		{"poll", "fd poller", "fd pollers"},
		{"tty", "terminal", "terminals"},
		{"async", "cross-thread wakeup (uv_async)", "cross-thread wakeups (uv_async)"},
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(type, words[i][0]))
			return words[i][n == 1 ? 1 : 2];
	return type;
}

/* attach: where the alive handles were made, "; made: 1 timer at start (server.c:89), ...". */
static void made_at(const struct lsc_report *rep, char *buf, size_t cap)
{
	size_t i, n = 0;

	buf[0] = 0;
	for (i = 0; i < rep->nalive_sites && i < 4 && n < cap; i++) {
		char where[800];

		if (rep->alive_site[i].has_frame)
			lsc_report_owner_where(&rep->alive_site[i].frame, "at", where,
					       sizeof(where));
		else
			snprintf(where, sizeof(where), "before the capture began");
		n += (size_t)snprintf(
			buf + n, cap - n, "%s%u %s made %s", i ? ", " : "; ",
			rep->alive_site[i].count,
			handle_words(rep->alive_site[i].type, rep->alive_site[i].count), where);
	}
}

static void shutdown_hang(struct lsc_report *rep)
{
	struct lsc_finding *f;
	uint64_t after;
	int forced;
	char kept[600] = "", res[600] = "", made[1200] = "";
	size_t i, n = 0;

	if (!rep->has_shutdown_at || rep->crashed || rep->duration_ns < rep->shutdown_at_ns)
		return;
	after = rep->duration_ns - rep->shutdown_at_ns;
	/* the process ended without its recording's end: killed (run's agent writes the end at
	 * any exit it sees; a cut span or a segment has none of its own) */
	forced = !rep->complete && !rep->cut && !strcmp(rep->source, "agent");
	if (after < SHUTDOWN_GRACE && !forced)
		return;
	f = lsc__report_finding(rep, "shutdown-hang", forced ? LSC_SEV_CRITICAL : LSC_SEV_WARNING);
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "the process does not finish shutting down");
	for (i = 0; i < rep->nalive && n < sizeof(kept); i++)
		n += (size_t)snprintf(kept + n, sizeof(kept) - n, "%s%u %s", i ? ", " : "",
				      rep->alive[i].count,
				      handle_words(rep->alive[i].type, rep->alive[i].count));
	if (rep->alive_reqs && n < sizeof(kept))
		snprintf(kept + n, sizeof(kept) - n, "%s%u requests in flight", n ? ", " : "",
			 rep->alive_reqs);
	for (i = 0, n = 0; i < rep->nalive_res && n < sizeof(res); i++)
		n += (size_t)snprintf(res + n, sizeof(res) - n, "%s%u %s", i ? ", " : "",
				      rep->alive_res[i].count, rep->alive_res[i].type);
	made_at(rep, made, sizeof(made));
	if (rep->has_res_creator) { /* the JS heap's sites: where the resources were made */
		char where[800];

		lsc_report_owner_where(&rep->res_creator, "at", where, sizeof(where));
		n = strlen(made);
		snprintf(made + n, sizeof(made) - n, "; %s made %s", rep->res_types[0].type, where);
	}
	snprintf(f->evidence, sizeof(f->evidence),
		 "asked to stop (%s) at %.1f s, %s %.1f s later%s; what kept it alive: %s%s%s%s",
		 rep->shutdown_reason[0] ? rep->shutdown_reason : "stop", rep->shutdown_at_ns / 1e9,
		 "still running", after / 1e9,
		 forced ? ", then killed (it ended without finishing its recording)"
			: " (threshold 5 s)",
		 rep->has_alive && kept[0] ? kept : "(no handle count)",
		 res[0] ? "; Node's resources: " : "", res, made);
	f->impact = 0;
}

void lsc__report_pitfalls(struct lsc_report *rep)
{
	double run_s = (double)rep->duration_ns / 1e9;

	starvation(rep, run_s);
	backpressure(rep);
	shutdown_hang(rep);
}
