/*
 * rec_builder.h — building recordings in tests, record by record, through the real writer
 * (formats/lsc_recording.h). Used by the unit tests and by tools/mkrec.c, which makes the
 * checked-in golden recordings. Every call aborts the test on failure: a test that cannot build
 * its input has nothing to say.
 */
#ifndef LSC_REC_BUILDER_H
#define LSC_REC_BUILDER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsc_recording.h"

struct rb {
	struct lsc_writer *w;
	uint32_t next_stack;
};

static inline void rb_put(struct rb *b, Loopscope__Record *r)
{
	int err = lsc_writer_append(b->w, r);

	if (err) {
		fprintf(stderr, "rec_builder: append failed: %s\n", lsc_strerror(err));
		exit(1);
	}
}

static inline void rb_open(struct rb *b, const char *path)
{
	memset(b, 0, sizeof(*b));
	if (lsc_writer_open(path, &b->w)) {
		fprintf(stderr, "rec_builder: cannot create %s\n", path);
		exit(1);
	}
}

static inline void rb_close(struct rb *b)
{
	if (lsc_writer_close(b->w)) {
		fprintf(stderr, "rec_builder: close failed\n");
		exit(1);
	}
}

static inline void rb_header(struct rb *b, uint32_t pid, const char *exe, const char *source)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Header h = LOOPSCOPE__HEADER__INIT;

	h.has_pid = 1;
	h.pid = pid;
	h.executable = (char *)exe;
	h.source = (char *)source;
	h.clock = "monotonic";
	h.loopscope_version = "test";
	h.has_start_unix_ns = 1;
	h.start_unix_ns = 1764000000000000000ULL;
	r.body_case = LOOPSCOPE__RECORD__BODY_HEADER;
	r.header = &h;
	rb_put(b, &r);
}

static inline void rb_mapping(struct rb *b, uint32_t id, uint64_t start, uint64_t end, uint64_t off,
			      const char *path)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Mapping m = LOOPSCOPE__MAPPING__INIT;

	m.has_id = m.has_start = m.has_end = m.has_file_offset = 1;
	m.id = id;
	m.start = start;
	m.end = end;
	m.file_offset = off;
	m.path = (char *)path;
	r.body_case = LOOPSCOPE__RECORD__BODY_MAPPING;
	r.mapping = &m;
	rb_put(b, &r);
}

/* frames leaf first; returns the new stack's id */
static inline uint32_t rb_stack(struct rb *b, const uint64_t *frames, size_t n,
				uint32_t kernel_frames)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Stack s = LOOPSCOPE__STACK__INIT;

	s.has_id = 1;
	s.id = ++b->next_stack;
	s.frames = (uint64_t *)frames;
	s.n_frames = n;
	s.has_kernel_frames = kernel_frames != 0;
	s.kernel_frames = kernel_frames;
	r.body_case = LOOPSCOPE__RECORD__BODY_STACK;
	r.stack = &s;
	rb_put(b, &r);
	return s.id;
}

static inline void rb_symbol(struct rb *b, uint64_t addr, const char *fn, const char *file,
			     unsigned line, int jit, int kernel)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Symbol s = LOOPSCOPE__SYMBOL__INIT;

	s.has_addr = 1;
	s.addr = addr;
	s.function = (char *)fn;
	s.file = (char *)file;
	s.has_line = line != 0;
	s.line = line;
	s.has_jit = s.jit = jit;
	s.has_kernel = s.kernel = kernel;
	r.body_case = LOOPSCOPE__RECORD__BODY_SYMBOL;
	r.symbol = &s;
	rb_put(b, &r);
}

struct rb_window {
	uint64_t start_ns, length_ns;
	double elu;
	uint64_t iterations;
	uint64_t busy_ns, lag_ns; /* a typical value for each histogram */
	uint64_t busy_n, lag_n;
	uint32_t pool_threads, pool_depth;
	uint64_t pool_wait_ns, pool_wait_n;
	double pool_depth_mean; /* 0: not given */
	uint32_t handles, fds;
	uint64_t rss, native, requests;
	uint64_t rss_peak; /* VmHWM; 0: none */
	int shutdown;	   /* after the program was asked to stop */
	int frozen;	   /* no loop turn, no wait */
	uint32_t loop_tid; /* 0: not given */
};

static inline void rb_window(struct rb *b, const struct rb_window *x)
{
	static uint32_t idx[3][LSC_HIST_BUCKETS];
	static uint64_t cnt[3][LSC_HIST_BUCKETS];
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Window w = LOOPSCOPE__WINDOW__INIT;
	Loopscope__Histogram hb, hl, hw;
	struct lsc_hist h;

	w.has_start_ns = w.has_length_ns = w.has_elu = w.has_iterations = 1;
	w.start_ns = x->start_ns;
	w.length_ns = x->length_ns;
	w.elu = x->elu;
	w.iterations = x->iterations;
	w.has_loop_tid = x->loop_tid != 0;
	w.loop_tid = x->loop_tid;
	lsc_hist_init(&h);
	lsc_hist_add_n(&h, x->busy_ns, x->busy_n);
	lsc_hist_add_n(&h, x->busy_ns / 10, x->busy_n);
	lsc_hist_to_proto(&h, &hb, idx[0], cnt[0]);
	w.busy = &hb;
	lsc_hist_init(&h);
	lsc_hist_add_n(&h, x->lag_ns, x->lag_n);
	lsc_hist_add_n(&h, x->lag_ns * 3, x->lag_n / 50);
	lsc_hist_to_proto(&h, &hl, idx[1], cnt[1]);
	w.lag = &hl;
	if (x->pool_threads) {
		lsc_hist_init(&h);
		lsc_hist_add_n(&h, x->pool_wait_ns, x->pool_wait_n);
		lsc_hist_to_proto(&h, &hw, idx[2], cnt[2]);
		w.pool_wait = &hw;
		w.has_pool_threads = w.has_pool_depth_max = 1;
		w.pool_threads = x->pool_threads;
		w.pool_depth_max = x->pool_depth;
		w.has_pool_depth_mean = x->pool_depth_mean > 0;
		w.pool_depth_mean = x->pool_depth_mean;
	}
	w.has_active_handles = w.has_open_fds = w.has_fd_limit = 1;
	w.active_handles = x->handles;
	w.open_fds = x->fds;
	w.fd_limit = 1024;
	w.has_rss_bytes = x->rss != 0;
	w.rss_bytes = x->rss;
	w.has_rss_peak_bytes = x->rss_peak != 0;
	w.rss_peak_bytes = x->rss_peak;
	w.has_malloc_live_bytes = x->native != 0;
	w.malloc_live_bytes = x->native;
	w.has_requests = 1;
	w.requests = x->requests;
	w.has_shutdown = w.shutdown = x->shutdown;
	w.has_frozen = w.frozen = x->frozen;
	r.body_case = LOOPSCOPE__RECORD__BODY_WINDOW;
	r.window = &w;
	rb_put(b, &r);
}

/* A thread, with its loop's role (LOOPSCOPE__THREAD_ROLE__*, 0: none), a Worker's threadId and
 * script (NULL: none). */
static inline void rb_thread(struct rb *b, uint32_t tid, int role, uint32_t worker_id,
			     const char *script)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Thread t = LOOPSCOPE__THREAD__INIT;

	t.has_tid = t.has_loop = 1;
	t.tid = tid;
	t.loop = role != 0;
	t.has_role = role != 0;
	t.role = (Loopscope__ThreadRole)role;
	t.has_worker_id = worker_id != 0;
	t.worker_id = worker_id;
	t.script = (char *)script;
	r.body_case = LOOPSCOPE__RECORD__BODY_THREAD;
	r.thread = &t;
	rb_put(b, &r);
}

/* A GC pause on thread tid (0: none given: the main loop's). */
static inline void rb_gc_on(struct rb *b, uint64_t t, uint64_t pause, uint32_t tid)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;
	Loopscope__GcEvent g = LOOPSCOPE__GC_EVENT__INIT;

	e.has_t_ns = 1;
	e.t_ns = t;
	g.has_kind = g.has_pause_ns = 1;
	g.kind = LOOPSCOPE__GC_EVENT__KIND__SCAVENGE;
	g.pause_ns = pause;
	g.has_tid = tid != 0;
	g.tid = tid;
	e.body_case = LOOPSCOPE__EVENT__BODY_GC;
	e.gc = &g;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &e;
	rb_put(b, &r);
}

static inline void rb_gc(struct rb *b, uint64_t t, uint64_t pause, uint64_t before, uint64_t after,
			 const char *type, uint64_t type_bytes)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;
	Loopscope__GcEvent g = LOOPSCOPE__GC_EVENT__INIT;
	Loopscope__TypeStat ts = LOOPSCOPE__TYPE_STAT__INIT, *tsp = &ts;

	e.has_t_ns = 1;
	e.t_ns = t;
	g.has_kind = 1;
	g.kind = LOOPSCOPE__GC_EVENT__KIND__FULL;
	g.has_pause_ns = g.has_heap_before = g.has_heap_after = 1;
	g.pause_ns = pause;
	g.heap_before = before;
	g.heap_after = after;
	if (type) {
		ts.name = (char *)type;
		ts.has_bytes = ts.has_count = 1;
		ts.bytes = type_bytes;
		ts.count = type_bytes / 2064;
		g.types = &tsp;
		g.n_types = 1;
	}
	e.body_case = LOOPSCOPE__EVENT__BODY_GC;
	e.gc = &g;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &e;
	rb_put(b, &r);
}

/* The program began to stop at t (a shutdown event). */
static inline void rb_shutdown(struct rb *b, uint64_t t, const char *reason)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;
	Loopscope__ShutdownEvent se = LOOPSCOPE__SHUTDOWN_EVENT__INIT;

	e.has_t_ns = 1;
	e.t_ns = t;
	se.reason = (char *)reason;
	e.body_case = LOOPSCOPE__EVENT__BODY_SHUTDOWN;
	e.shutdown = &se;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &e;
	rb_put(b, &r);
}

/* A "(busy loop)" stretch with the CPU samples taken in it, by stack. */
static inline void rb_stretch(struct rb *b, uint64_t t, uint64_t dur, uint32_t stack, uint32_t tid,
			      const uint32_t *stacks, const uint32_t *counts, size_t n)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;
	Loopscope__BlockingEvent bl = LOOPSCOPE__BLOCKING_EVENT__INIT;

	e.has_t_ns = 1;
	e.t_ns = t;
	bl.call = "(busy loop)";
	bl.has_duration_ns = bl.has_stack_id = bl.has_tid = 1;
	bl.duration_ns = dur;
	bl.stack_id = stack;
	bl.tid = tid;
	bl.cpu_stack_ids = (uint32_t *)stacks;
	bl.n_cpu_stack_ids = n;
	bl.cpu_counts = (uint32_t *)counts;
	bl.n_cpu_counts = n;
	e.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
	e.blocking = &bl;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &e;
	rb_put(b, &r);
}

/* A blocking event with the scheduler's figures (runq < 0: none). */
static inline void rb_blocking_sched(struct rb *b, uint64_t t, const char *call, uint64_t dur,
				     uint32_t stack, uint32_t tid, int64_t runq, uint64_t cpu,
				     uint32_t switches)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;
	Loopscope__BlockingEvent bl = LOOPSCOPE__BLOCKING_EVENT__INIT;

	e.has_t_ns = 1;
	e.t_ns = t;
	bl.call = (char *)call;
	bl.has_duration_ns = bl.has_stack_id = bl.has_tid = 1;
	bl.duration_ns = dur;
	bl.stack_id = stack;
	bl.tid = tid;
	if (runq >= 0) {
		bl.has_run_queue_ns = bl.has_on_cpu_ns = bl.has_switches = 1;
		bl.run_queue_ns = (uint64_t)runq;
		bl.on_cpu_ns = cpu;
		bl.switches = switches;
	}
	e.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
	e.blocking = &bl;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &e;
	rb_put(b, &r);
}

static inline void rb_blocking(struct rb *b, uint64_t t, const char *call, uint64_t dur,
			       uint32_t stack, uint32_t tid)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;
	Loopscope__BlockingEvent bl = LOOPSCOPE__BLOCKING_EVENT__INIT;

	e.has_t_ns = 1;
	e.t_ns = t;
	bl.call = (char *)call;
	bl.has_duration_ns = bl.has_stack_id = bl.has_tid = 1;
	bl.duration_ns = dur;
	bl.stack_id = stack;
	bl.tid = tid;
	e.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
	e.blocking = &bl;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &e;
	rb_put(b, &r);
}

static inline void rb_samples(struct rb *b, int kind, const uint32_t *stacks,
			      const uint64_t *values, const uint32_t *tids, size_t n)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Samples s = LOOPSCOPE__SAMPLES__INIT;

	s.has_kind = 1;
	s.kind = kind;
	s.stack_id = (uint32_t *)stacks;
	s.n_stack_id = n;
	s.value = (uint64_t *)values;
	s.n_value = n;
	s.tid = (uint32_t *)tids;
	s.n_tid = tids ? n : 0;
	r.body_case = LOOPSCOPE__RECORD__BODY_SAMPLES;
	r.samples = &s;
	rb_put(b, &r);
}

/* One batch of heap snapshot n (kind: LIVE_BYTES, ...), its last when end is set. */
static inline void rb_heap_snapshot(struct rb *b, int kind, uint32_t n, int end, uint64_t t_ns,
				    const uint32_t *stacks, const uint64_t *values, size_t count)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Samples s = LOOPSCOPE__SAMPLES__INIT;

	s.has_kind = s.has_snapshot = s.has_snapshot_end = s.has_t_ns = 1;
	s.kind = kind;
	s.snapshot = n;
	s.snapshot_end = end;
	s.t_ns = t_ns;
	s.stack_id = (uint32_t *)stacks;
	s.n_stack_id = count;
	s.value = (uint64_t *)values;
	s.n_value = count;
	r.body_case = LOOPSCOPE__RECORD__BODY_SAMPLES;
	r.samples = &s;
	rb_put(b, &r);
}

static inline void rb_footer(struct rb *b, uint64_t end_ns)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Footer f = LOOPSCOPE__FOOTER__INIT;

	f.has_end_ns = 1;
	f.end_ns = end_ns;
	r.body_case = LOOPSCOPE__RECORD__BODY_FOOTER;
	r.footer = &f;
	rb_put(b, &r);
}

#endif
