/*
 * attach_records.c — the recording `loopscope attach` writes, from what the kernel side counted:
 * threads, the header, mappings with their build-ids, events from the ring buffer (blocking
 * calls, GC pauses, the stop), and a Window per loop per window (differences of cumulative
 * counters and histograms; frozen and shutdown windows). Split from attach.c, which finds what
 * to probe, loads and attaches; the stacks, CPU and off-CPU samples are attach_stacks.c's.
 */
#include "attach_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ small things */

uint64_t lsc__at_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void lsc__at_note(struct lsc_attach *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (a->nnotes == MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	a->notes[a->nnotes] = strdup(buf);
	if (a->notes[a->nnotes])
		a->nnotes++;
}

void lsc__at_put(struct lsc_attach *a, const Loopscope__Record *r)
{
	int err;

	if (!a->w)
		return;
	err = lsc_writer_append(a->w, r);
	if (a->tee && !err)
		err = lsc_writer_append(a->tee, r);
	if (err && !a->write_err)
		a->write_err = (uint64_t)-err;
}

/* ------------------------------------------------------------------ records */

void lsc__at_put_thread(struct lsc_attach *a, uint32_t tid, int loop)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Thread t = LOOPSCOPE__THREAD__INIT;
	char path[96], name[64] = "";

	snprintf(path, sizeof(path), "/proc/%d/task/%u/comm", a->o.pid, tid);
	if (lsc__read_small(path, name, sizeof(name)) > 0)
		name[strcspn(name, "\n")] = 0;
	t.has_tid = t.has_loop = 1;
	t.tid = tid;
	t.name = name;
	t.loop = loop;
	r.body_case = LOOPSCOPE__RECORD__BODY_THREAD;
	r.thread = &t;
	lsc__at_put(a, &r);
}

void lsc__at_put_header(struct lsc_attach *a)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Header h = LOOPSCOPE__HEADER__INIT;
	char path[64], cmdline[8192], stat[1024], host[256] = "", *argv[256];
	struct timespec wall;
	int n, argc = 0, off = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", a->o.pid);
	n = lsc__read_small(path, cmdline, sizeof(cmdline));
	while (n > 0 && off < n && argc < 256) {
		argv[argc++] = cmdline + off;
		off += (int)strlen(cmdline + off) + 1;
	}
	gethostname(host, sizeof(host) - 1);
	if (!a->t0_unix) { /* the wall clock at t0, the same in every segment's header */
		clock_gettime(CLOCK_REALTIME, &wall);
		a->t0_unix = (uint64_t)wall.tv_sec * 1000000000ULL + (uint64_t)wall.tv_nsec -
			     (lsc__at_mono_ns() - a->t0);
	}
	h.has_pid = h.has_start_unix_ns = h.has_start_mono_ns = 1;
	h.pid = (uint32_t)a->o.pid;
	h.executable = a->exe;
	h.argv = argv;
	h.n_argv = (size_t)argc;
	h.start_unix_ns = a->t0_unix;
	h.start_mono_ns = a->t0;
	h.clock = "monotonic";
	h.source = "bpf";
	h.loopscope_version = LSC_VERSION;
	h.hostname = host;
	h.runtime = a->runtime;
	h.notes = a->notes;
	h.n_notes = (size_t)a->nnotes;
	h.heap_mode = "off";
	h.set_id = (char *)a->o.set_id;
	h.service = (char *)a->o.service;
	if (a->o.segmented) { /* the session's start above, this segment's here */
		h.has_segment = h.has_segment_start_ns = 1;
		h.segment = a->segment;
		h.segment_start_ns = a->segment_start - a->t0;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", a->o.pid);
	n = lsc__read_small(path, stat, sizeof(stat));
	if (n > 0 && strrchr(stat, ')')) { /* its parent, the field after the state */
		unsigned ppid;
		char state;

		if (sscanf(strrchr(stat, ')') + 1, " %c %u", &state, &ppid) == 2) {
			h.has_parent_pid = 1;
			h.parent_pid = ppid;
		}
	}
	r.body_case = LOOPSCOPE__RECORD__BODY_HEADER;
	r.header = &h;
	lsc__at_put(a, &r);
}

void lsc__at_put_mappings(struct lsc_attach *a)
{
	char path[64], line[4608], file[4096], perms[8];
	unsigned long long start, end, off;
	uint8_t bid[64];
	uint32_t id = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", a->o.pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
		Loopscope__Mapping m = LOOPSCOPE__MAPPING__INIT;
		size_t n;

		file[0] = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &start, &end, perms, &off,
			   file) < 5 ||
		    perms[2] != 'x' || file[0] != '/')
			continue;
		m.has_id = m.has_start = m.has_end = m.has_file_offset = 1;
		m.id = ++id;
		m.start = start;
		m.end = end;
		m.file_offset = off;
		m.path = file;
		n = lsc__build_id(file, bid, sizeof(bid));
		if (n) {
			m.has_build_id = 1;
			m.build_id.data = bid;
			m.build_id.len = n;
		}
		r.body_case = LOOPSCOPE__RECORD__BODY_MAPPING;
		r.mapping = &m;
		lsc__at_put(a, &r);
	}
	if (f)
		fclose(f);
}

const uint64_t lsc_attach_bounds_ns[LSC_ATTACH_BOUNDS] = {
	1000000ULL,    2000000ULL,    5000000ULL,     10000000ULL,    20000000ULL,
	50000000ULL,   100000000ULL,  200000000ULL,   500000000ULL,   1000000000ULL,
	2000000000ULL, 5000000000ULL, 10000000000ULL, 30000000000ULL,
};

void lsc_attach_buckets_add(struct lsc_attach_buckets *b, const struct lsc_hist *h)
{
	unsigned k, i;

	if (!h->total)
		return;
	b->count += h->total;
	b->sum_ns += h->sum;
	for (k = 0; k < LSC_HIST_BUCKETS; k++) {
		uint64_t v;

		if (!h->counts[k])
			continue;
		/* the bucket's values are within 0.8 % of its low end: counted by it */
		v = lsc_hist_bucket_low(k);
		for (i = 0; i < LSC_ATTACH_BOUNDS; i++)
			if (v <= lsc_attach_bounds_ns[i])
				b->le[i] += h->counts[k];
	}
}

void lsc_attach_buckets_add_one(struct lsc_attach_buckets *b, uint64_t ns)
{
	unsigned i;

	b->count++;
	b->sum_ns += ns;
	for (i = 0; i < LSC_ATTACH_BOUNDS; i++)
		if (ns <= lsc_attach_bounds_ns[i])
			b->le[i]++;
}

/* A blocking call in the window's table, by thread and syscall. */
static void window_blocking(struct lsc_attach *a, uint32_t tid, uint32_t nr, uint64_t ns)
{
	unsigned i;

	for (i = 0; i < a->win_nblk; i++)
		if (a->win_blk[i].tid == tid && a->win_blk[i].nr == nr)
			break;
	if (i == a->win_nblk) {
		if (i == LSC_ATTACH_BLOCKING) {
			a->win_blk_other++;
			a->win_blk_other_ns += ns;
			return;
		}
		a->win_nblk++;
		a->win_blk[i] = (struct lsc_attach_blocking){tid, nr, 0, 0};
	}
	a->win_blk[i].count++;
	a->win_blk[i].ns += ns;
}

/* ------------------------------------------------------------------ events */

int lsc__at_on_event(void *ctx, void *data, size_t len)
{
	struct lsc_attach *a = ctx;
	const struct lscb_event *e = data;
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event ev = LOOPSCOPE__EVENT__INIT;
	Loopscope__BlockingEvent b = LOOPSCOPE__BLOCKING_EVENT__INIT;
	Loopscope__GcEvent g = LOOPSCOPE__GC_EVENT__INIT;
	char call[64];
	const char *name;

	if (len >= sizeof(struct lscb_submit) && e->type == LSCB_EV_POOL_SUBMIT) {
		lsc__at_pool_sample(a, data);
		return 0;
	}
	if (len >= sizeof(struct lscb_submit) && e->type == LSCB_EV_HANDLE_SITE) {
		lsc__at_site_event(a, data);
		return 0;
	}
	if (len >= sizeof(struct lscb_jsample) && e->type == LSCB_EV_JSCPU) {
		lsc__at_sample(a, data);
		return 0;
	}
	if (len >= sizeof(struct lscb_stretch) && e->type == LSCB_EV_STRETCH) {
		lsc__at_stretch(a, data);
		return 0;
	}
	if (len < sizeof(*e) - sizeof(e->frames))
		return 0;
	a->events++;
	ev.has_t_ns = 1;
	ev.t_ns = e->t_ns > a->t0 ? e->t_ns - a->t0 : 0;
	if (e->type == LSCB_EV_BLOCKING) {
		name = lsc_syscall_name(e->nr);
		if (name)
			snprintf(call, sizeof(call), "%s", name);
		else
			snprintf(call, sizeof(call), "syscall %u", e->nr);
		b.call = call;
		b.has_duration_ns = b.has_stack_id = b.has_tid = b.has_result = 1;
		b.duration_ns = e->dur_ns;
		b.stack_id = lsc__at_blocking_stack(a, e);
		b.tid = e->tid;
		b.result = e->result;
		if (e->sched_known) {
			b.has_run_queue_ns = b.has_on_cpu_ns = b.has_switches = 1;
			b.run_queue_ns = e->runq_ns;
			b.on_cpu_ns = e->cpu_ns;
			b.switches = e->switches;
		}
		ev.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
		ev.blocking = &b;
		lsc__at_accumulate(&a->blk, &a->nblk, &a->blk_cap, b.stack_id, e->tid, e->dur_ns);
		if (e->dur_ns > a->win_top_ns) {
			a->win_top_ns = e->dur_ns;
			snprintf(a->win_top, sizeof(a->win_top), "%s", call);
		}
		window_blocking(a, e->tid, e->nr, e->dur_ns);
	} else if (e->type == LSCB_EV_CPU) {
		lsc__at_dwarf_sample(a, e);
		return 0;
	} else if (e->type == LSCB_EV_GC) {
		g.has_kind = g.has_pause_ns = g.has_rss_bytes = 1;
		g.kind = e->nr;
		g.pause_ns = e->dur_ns;
		g.rss_bytes = e->rss_bytes;
		g.has_tid = 1; /* the isolate's thread: the main loop's or a Worker's */
		g.tid = e->tid;
		if (e->heap_before || e->heap_after) {
			g.has_heap_before = g.has_heap_after = 1;
			g.heap_before = e->heap_before;
			g.heap_after = e->heap_after;
			a->win_gc_heap_after = e->heap_after;
		}
		ev.body_case = LOOPSCOPE__EVENT__BODY_GC;
		ev.gc = &g;
		a->win_gc++;
		a->win_gc_ns += e->dur_ns;
		if (e->nr < LSC_ATTACH_GC_KINDS)
			lsc_attach_buckets_add_one(&a->win_gc_kind[e->nr], e->dur_ns);
	} else {
		return 0;
	}
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &ev;
	lsc__at_put(a, &r);
	return 0;
}

/* ------------------------------------------------------------------ windows */

/* The moment the target began to stop (a signal to its own handler), once. */
void lsc__at_put_shutdown(struct lsc_attach *a, uint64_t at, uint32_t sig)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event ev = LOOPSCOPE__EVENT__INIT;
	Loopscope__ShutdownEvent se = LOOPSCOPE__SHUTDOWN_EVENT__INIT;
	char why[32];

	if (a->shutdown_written || at < a->t0)
		return;
	a->shutdown_written = 1;
	snprintf(why, sizeof(why), "SIG%s", sigabbrev_np((int)sig) ? sigabbrev_np((int)sig) : "?");
	se.reason = why;
	ev.has_t_ns = 1;
	ev.t_ns = at - a->t0;
	ev.body_case = LOOPSCOPE__EVENT__BODY_SHUTDOWN;
	ev.shutdown = &se;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &ev;
	lsc__at_put(a, &r);
}

void lsc__at_close_window(struct lsc_attach *a, uint64_t now, struct lsc_attach_status *st)
{
	struct loop_bpf__bss *bss = a->skel->bss;
	uint32_t nloops = bss->nloops < LSCB_MAX_LOOPS ? bss->nloops : LSCB_MAX_LOOPS, i, k;
	uint64_t len = now - a->window_start;
	uint32_t fds, limit;
	double status_len = (double)len / 1e9;
	uint64_t rss = lsc__proc_rss(a->o.pid), rss_peak = lsc__proc_rss_peak(a->o.pid);

	fds = lsc__proc_fds(a->o.pid, &limit);
	if (st)
		st->nloops = 0;
	for (i = 0; i < nloops; i++) {
		struct lscb_loop L = bss->loops[i];
		struct loop_prev *p = &a->prev[i];
		/* a loop that began during this window: its window begins with it */
		uint64_t start = L.first_ns > a->window_start ? L.first_ns : a->window_start, end;
		Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
		Loopscope__Window pw = LOOPSCOPE__WINDOW__INIT;
		Loopscope__Histogram busy, lag, pool_wait;
		Loopscope__HandleCount hc[LSCB_HANDLE_TYPES], *hcp[LSCB_HANDLE_TYPES];
		Loopscope__HandleCount ac[LSCB_HANDLE_TYPES], *acp[LSCB_HANDLE_TYPES];
		Loopscope__HandleSite hs[LSCB_SITES], *hsp[LSCB_SITES];
		static uint32_t hidx[2][LSC_HIST_BUCKETS];
		static uint64_t hcnt[2][LSC_HIST_BUCKETS];
		struct lsc_hist hb, hl;
		uint64_t credit, idle;
		int kind, frozen;

		if (!L.tid)
			continue;
		/* a process that has exited: a loop with no poll in this window has no window */
		if (a->gone && L.last_ns <= start)
			continue;
		if (!p->written_thread) {
			lsc__at_put_thread(a, L.tid, 1);
			p->written_thread = 1;
		}
		/* Idle: waits that ended, plus the one in progress so far, minus what the last
		 * window already counted of a wait that was then in progress. */
		credit = L.in_wait && now > L.wait_enter_ns && !a->gone ? now - L.wait_enter_ns : 0;
		idle = L.idle_ns - p->idle_ns + credit;
		idle = idle > p->credit ? idle - p->credit : 0;
		p->idle_ns = L.idle_ns;
		p->credit = credit;
		lsc_hist_init(&hb);
		lsc_hist_init(&hl);
		for (kind = 0; kind < 2; kind++)
			for (k = 0; k < LSCB_HIST_BUCKETS; k++) {
				uint64_t c = bss->hist[i][kind][k], d = c - p->hist[kind][k];

				if (!d)
					continue;
				p->hist[kind][k] = c;
				lsc_hist_add_n(kind ? &hl : &hb, lsc_hist_bucket_low(k), d);
			}
		pw.has_start_ns = pw.has_length_ns = pw.has_loop_tid = pw.has_elu = 1;
		pw.has_iterations = 1;
		/* a process that has exited: its loops ended at their last poll, not now */
		end = a->gone && L.last_ns > start && L.last_ns < now ? L.last_ns : now;
		len = end - start;
		pw.start_ns = start - a->t0;
		pw.length_ns = len;
		pw.loop_tid = L.tid;
		pw.elu = idle >= len ? 0 : 1.0 - (double)idle / (double)len;
		pw.iterations = L.iterations - p->iterations;
		p->iterations = L.iterations;
		pw.has_busy_long_runq_ns = 1;
		pw.busy_long_runq_ns = L.long_busy_runq_ns - p->long_runq;
		p->long_runq = L.long_busy_runq_ns;
		/* Frozen: no turn and no wait all window, busy since its last poll before the
		 * window began. A 1 ms timer due since then is that late so far: one lag value of
		 * at least the window's length (the turn that ends the freeze adds its own). */
		frozen = !pw.iterations && !L.in_wait && !a->gone && L.last_ns && now > L.last_ns &&
			 now - L.last_ns >= len;
		if (frozen) {
			lsc_hist_add(&hl, now - L.last_ns);
			pw.has_frozen = pw.frozen = 1;
		}
		lsc_hist_to_proto(&hb, &busy, hidx[0], hcnt[0]);
		pw.busy = &busy;
		lsc_hist_to_proto(&hl, &lag, hidx[1], hcnt[1]);
		pw.lag = &lag;
		if (L.pool_samples) {
			pw.has_pool_depth_max = pw.has_pool_threads = pw.has_pool_busy_max = 1;
			pw.pool_depth_max = L.pool_depth_max;
			pw.pool_threads = L.pool_threads;
			pw.pool_busy_max = L.pool_busy_max;
			/* a new maximum for the next window (the kernel side races us harmlessly)
			 */
			bss->loops[i].pool_depth_max = L.pool_depth;
			bss->loops[i].pool_busy_max = 0;
		}
		if (L.tid == (uint32_t)a->o.pid) /* each job's wait (attach_pool.c) */
			lsc__at_pool_window(a, &pw, &pool_wait, st);
		if (L.handles_known) {
			pw.has_active_handles = pw.has_active_reqs = 1;
			pw.active_handles = L.active_handles;
			pw.active_reqs = L.active_reqs;
			pw.n_handles = lsc_handle_counts(L.handles, LSCB_HANDLE_TYPES, hc, hcp);
			pw.handles = hcp;
			pw.has_write_queued_bytes = pw.has_write_queued_max = 1;
			pw.write_queued_bytes = L.write_queued;
			pw.write_queued_max = L.write_queued_max;
			pw.n_alive_handles = lsc_handle_counts(L.alive, LSCB_HANDLE_TYPES, ac, acp);
			pw.alive_handles = acp;
			pw.n_alive_sites = lsc__at_sites_window(a, &L, hs, hsp, LSCB_SITES);
			pw.alive_sites = hsp;
		}
		/* (a process that has exited has neither any more) */
		pw.has_rss_bytes = rss > 0;
		pw.has_rss_peak_bytes = rss_peak > 0;
		pw.has_open_fds = fds > 0;
		pw.rss_bytes = rss;
		pw.rss_peak_bytes = rss_peak;
		pw.open_fds = fds;
		if (limit) {
			pw.has_fd_limit = 1;
			pw.fd_limit = limit;
		}
		/* begun after the target was asked to stop: the drain (the event once, first) */
		if (bss->shutdown_ns && start >= bss->shutdown_ns) {
			lsc__at_put_shutdown(a, bss->shutdown_ns, bss->shutdown_sig);
			pw.has_shutdown = pw.shutdown = 1;
		}
		r.body_case = LOOPSCOPE__RECORD__BODY_WINDOW;
		r.window = &pw;
		lsc__at_put(a, &r);
		if (st && st->nloops < sizeof(st->loops) / sizeof(st->loops[0])) {
			struct lsc_attach_loop_status *ls = &st->loops[st->nloops++];

			ls->tid = L.tid;
			ls->main = L.tid == (uint32_t)a->o.pid;
			ls->elu = pw.elu;
			ls->frozen_s = frozen ? (double)(now - L.last_ns) / 1e9 : 0;
			ls->lag_p99_ns = lsc_hist_quantile(&hl, 0.99);
			ls->busy_p99_ns = lsc_hist_quantile(&hb, 0.99);
			ls->window_ns = len;
			ls->idle_ns = idle < len ? idle : len;
			ls->iterations = pw.iterations;
			memset(&ls->lag, 0, sizeof(ls->lag));
			lsc_attach_buckets_add(&ls->lag, &hl);
		}
		if (L.tid == (uint32_t)a->o.pid && st) {
			st->have_window = 1;
			st->frozen_s = frozen ? (double)(now - L.last_ns) / 1e9 : 0;
			st->elu = pw.elu;
			st->iterations = pw.iterations;
			st->window_s = status_len;
			st->busy = hb;
			st->lag = hl;
			st->pool_known = L.pool_samples > 0;
			st->pool_depth = L.pool_depth;
			st->pool_depth_max = L.pool_depth_max;
			st->pool_threads = L.pool_threads;
			st->pool_busy_max = L.pool_busy_max;
			st->handles_known = L.handles_known;
			st->active_handles = L.active_handles;
			st->active_reqs = L.active_reqs;
			memcpy(st->handles, L.handles, sizeof(st->handles));
		}
	}
	lsc__at_put_samples(a, LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, a->blk, a->nblk, 0);
	a->nblk = 0;
	if (a->o.segmented && a->o.cpu_hz) { /* a span cut from segments has its own */
		lsc__at_put_samples(a, LOOPSCOPE__SAMPLE_KIND__CPU, a->cpu, a->ncpu,
				    1000000000ULL / a->o.cpu_hz);
		a->ncpu = 0;
	}
	if (st) {
		st->open_fds = fds;
		st->rss_bytes = rss;
		st->gc_count = a->win_gc;
		st->gc_pause_ns = a->win_gc_ns;
		snprintf(st->top_blocking, sizeof(st->top_blocking), "%s", a->win_top);
		st->top_blocking_ns = a->win_top_ns;
		memcpy(st->gc_kind, a->win_gc_kind, sizeof(st->gc_kind));
		st->gc_heap_after = a->win_gc_heap_after;
		st->nblocking = a->win_nblk;
		memcpy(st->blocking, a->win_blk, sizeof(st->blocking));
		st->blocking_other_count = a->win_blk_other;
		st->blocking_other_ns = a->win_blk_other_ns;
	}
	memset(a->win_gc_kind, 0, sizeof(a->win_gc_kind));
	a->win_gc_heap_after = 0;
	a->win_nblk = 0;
	a->win_blk_other = a->win_blk_other_ns = 0;
	a->win_gc = a->win_gc_ns = a->win_top_ns = 0;
	a->win_top[0] = 0;
	a->window_start = now;
}
