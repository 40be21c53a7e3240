/*
 * writer.c — the agent's writer: the one place that turns what the application threads pushed
 * (rings) and what the loop threads closed (windows) into recording records (records.c), and
 * writes them with write(2) at least once per window, so a SIGKILL loses at most the last one.
 *
 * Its cycles run on a thread of its own once the program has a second thread or a loop, and
 * inline on the program's only thread before that (see "who runs the cycles" below). It owns
 * the stack table (frames → stack id, each Stack record written once), the mappings written so
 * far (read from the dynamic linker, build-ids from the mapped notes), the per-cycle sample
 * totals and the heap snapshots. Its thread blocks every signal, so the program's signals and
 * the agent's SIGPROF land on the program's threads. Its memory is mmap'd and bounded: when the
 * stack table is full, new stacks are counted as dropped, not stored.
 */
#include "writer.h"

#include <errno.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void lsc__mark_writer_thread(void);

struct lsc_writer lsc__W;

#define A lsc__A
#define W lsc__W
#define T lsc__T

static void flush(void)
{
	size_t off = 0;

	while (off < W.len) {
		ssize_t n = write(A.fd, W.out + off, W.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a full disk: the recording ends short, the program goes on */
		off += (size_t)n;
	}
	W.len = 0;
}

void lsc__w_put(const Loopscope__Record *r)
{
	ssize_t n = lsc_record_encode(r, W.out + W.len, OUT_CAP - W.len);

	if (n < 0) {
		flush();
		n = lsc_record_encode(r, W.out, OUT_CAP);
		if (n < 0)
			return;
	}
	W.len += (size_t)n;
}

/* ------------------------------------------------------------------ stacks */

/* The id of this stack, writing its Stack record the first time; 0 when the table is full. */
uint32_t lsc__w_intern(const uint64_t *raw, uint32_t n)
{
	return lsc__w_intern_aux(raw, NULL, n);
}

/* The stack table, twice as large; 0 when it cannot grow. */
static int stacks_grow(void)
{
	uint32_t cap = W.stacks_cap * 2, i, j;
	struct stack_slot *t;

	if (cap > STACK_CAP * 2 || !(t = lsc_map_table(cap * sizeof(*t))))
		return 0;
	for (i = 0; i < W.stacks_cap; i++) {
		if (!W.stacks[i].hash)
			continue;
		for (j = W.stacks[i].hash & (cap - 1); t[j].hash; j = (j + 1) & (cap - 1))
			;
		t[j] = W.stacks[i];
	}
	lsc_unmap(W.stacks, W.stacks_cap * sizeof(*W.stacks));
	W.stacks = t;
	W.stacks_cap = cap;
	return 1;
}

/* The same, with Node.js's interpreted frames' bytecode addresses (agent/node_frames.c). */
uint32_t lsc__w_intern_aux(const uint64_t *raw, const uint64_t *aux, uint32_t n)
{
	uint64_t f[LSC_AGENT_MAX_FRAMES + 8], h;
	size_t j;
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Stack s = LOOPSCOPE__STACK__INIT;
	struct stack_slot *slot;

	/* JS frames named after the code at their address now (jsmap.c) */
	if (n > sizeof(f) / sizeof(f[0]))
		n = sizeof(f) / sizeof(f[0]);
	memcpy(f, raw, n * sizeof(*f));
	lsc__js_rewrite(f, aux, n);
	h = lsc_hash_frames(f, n);
	j = h & (W.stacks_cap - 1);

	for (; W.stacks[j].hash; j = (j + 1) & (W.stacks_cap - 1)) {
		slot = &W.stacks[j];
		if (slot->hash == h && slot->nframes == n &&
		    memcmp(W.frames + slot->frames_off, f, n * sizeof(*f)) == 0)
			return slot->id;
	}
	if (W.nstacks >= STACK_CAP || W.frames_used + n > W.frames_cap ||
	    ((W.nstacks + 1) * 2 > W.stacks_cap && !stacks_grow())) {
		W.dropped_stacks++;
		return 0;
	}
	for (j = h & (W.stacks_cap - 1); W.stacks[j].hash; j = (j + 1) & (W.stacks_cap - 1))
		;
	slot = &W.stacks[j];
	slot->hash = h;
	slot->id = ++W.nstacks;
	slot->nframes = n;
	slot->frames_off = W.frames_used;
	memcpy(W.frames + W.frames_used, f, n * sizeof(*f));
	W.frames_used += n;
	s.has_id = 1;
	s.id = slot->id;
	s.frames = (uint64_t *)f;
	s.n_frames = n;
	r.body_case = LOOPSCOPE__RECORD__BODY_STACK;
	r.stack = &s;
	lsc__w_put(&r);
	return slot->id;
}

void lsc__w_accumulate(struct acc *v, size_t *n, uint32_t stack, uint32_t tid, uint64_t value)
{
	size_t i;

	for (i = *n; i-- > 0;)
		if (v[i].stack == stack && v[i].tid == tid) {
			v[i].value += value;
			return;
		}
	if (*n == ACC_CAP) {
		W.dropped_samples++;
		return;
	}
	v[(*n)++] = (struct acc){stack, tid, value};
}

static void put_samples(int kind, struct acc *v, size_t *n)
{
	static uint32_t stacks[ACC_CAP], tids[ACC_CAP];
	static uint64_t values[ACC_CAP];
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Samples s = LOOPSCOPE__SAMPLES__INIT;
	size_t i;

	if (!*n)
		return;
	for (i = 0; i < *n; i++) {
		stacks[i] = v[i].stack;
		tids[i] = v[i].tid;
		values[i] = v[i].value;
	}
	s.has_kind = 1;
	s.kind = kind;
	s.stack_id = stacks;
	s.n_stack_id = *n;
	s.value = values;
	s.n_value = *n;
	s.tid = tids;
	s.n_tid = *n;
	r.body_case = LOOPSCOPE__RECORD__BODY_SAMPLES;
	r.samples = &s;
	lsc__w_put(&r);
	*n = 0;
}

/* ------------------------------------------------------------------ the native heap */

static const int heap_kinds[5] = {
	LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES,  LOOPSCOPE__SAMPLE_KIND__LIVE_COUNT,
	LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES, LOOPSCOPE__SAMPLE_KIND__ALLOC_COUNT,
	LOOPSCOPE__SAMPLE_KIND__TEMP_COUNT,
};

static void put_heap_batch(size_t n, int end)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Samples s = LOOPSCOPE__SAMPLES__INIT;
	int k;

	for (k = 0; k < 5; k++) {
		s.has_kind = s.has_t_ns = s.has_snapshot = 1;
		s.kind = heap_kinds[k];
		s.t_ns = W.last_heap_ns;
		s.snapshot = W.snapshot;
		s.has_snapshot_end = s.snapshot_end = end && k == 4;
		s.stack_id = W.hstack;
		s.n_stack_id = n;
		s.value = W.hval[k];
		s.n_value = n;
		if (lsc__heap_mode() == LSC_HEAP_SAMPLED) {
			s.has_period = 1;
			s.period = A.cfg.sample_interval;
		}
		r.body_case = LOOPSCOPE__RECORD__BODY_SAMPLES;
		r.samples = &s;
		lsc__w_put(&r);
	}
}

static uint64_t nonneg(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

/* The stacks of the heap's sites new since the last cycle whose JS frames are to be named (aux):
 * interned now, while V8's heap holds what names them, not at the next snapshot (which may come
 * after Node disposed its isolate, at the exit). */
static void heap_name_new_sites(void)
{
	struct lsc_heap_sites *t = lsc__heap_sites();
	uint32_t i, n;

	if (!t)
		return;
	n = atomic_load(&t->n);
	if (n > t->cap)
		n = t->cap;
	for (i = W.sites_named > 1 ? W.sites_named : 1; i < n; i++) {
		struct lsc_heap_site *e = &t->site[i];

		if (!atomic_load_explicit(&e->ready, memory_order_acquire))
			break; /* being filled: the next cycle looks again from here */
		if (e->aux && !e->rec_id)
			e->rec_id = lsc__w_intern_aux(t->frames + e->frames_off,
						      t->frames + e->frames_off + e->nframes / 3,
						      e->nframes / 3);
	}
	W.sites_named = i;
}

/*
 * A snapshot of every allocation site whose counters moved since the last one (all of them the
 * first time), and the totals the windows report. Sampled counts are in thousandths.
 */
static void heap_snapshot(void)
{
	struct lsc_heap_sites *t = lsc__heap_sites();
	uint32_t i, n;
	uint64_t live = 0, alloc = 0;
	size_t m = 0;

	if (!t || !W.hstack)
		return;
	W.last_heap_ns = lsc__now_ns() - A.t0;
	W.snapshot++;
	n = atomic_load(&t->n);
	if (n > t->cap)
		n = t->cap;
	for (i = 1; i < n; i++) {
		struct lsc_heap_site *e = &t->site[i];
		int64_t lb, lm;
		uint64_t ab, am, tm;

		if (!atomic_load_explicit(&e->ready, memory_order_acquire))
			continue;
		/* freed first: a free never runs ahead of its allocation's count */
		lb = -(int64_t)atomic_load_explicit(&e->freed_bytes, memory_order_acquire);
		lm = -(int64_t)atomic_load_explicit(&e->freed_milli, memory_order_acquire);
		ab = atomic_load_explicit(&e->alloc_bytes, memory_order_relaxed);
		am = atomic_load_explicit(&e->alloc_milli, memory_order_relaxed);
		lb += (int64_t)ab;
		lm += (int64_t)am;
		tm = atomic_load_explicit(&e->temp_milli, memory_order_relaxed);
		live += nonneg(lb);
		alloc += ab;
		if (lb == e->w_live_bytes && lm == e->w_live_milli && ab == e->w_alloc_bytes &&
		    am == e->w_alloc_milli && tm == e->w_temp_milli)
			continue;
		if (!e->rec_id)
			e->rec_id = e->aux ? lsc__w_intern_aux(t->frames + e->frames_off,
							       t->frames + e->frames_off +
								       e->nframes / 3,
							       e->nframes / 3)
					   : lsc__w_intern(t->frames + e->frames_off, e->nframes);
		if (!e->rec_id)
			continue; /* the stack table is full: counted in dropped_stacks */
		e->w_live_bytes = lb;
		e->w_live_milli = lm;
		e->w_alloc_bytes = ab;
		e->w_alloc_milli = am;
		e->w_temp_milli = tm;
		W.hstack[m] = e->rec_id;
		W.hval[0][m] = nonneg(lb);
		W.hval[1][m] = (nonneg(lm) + 500) / 1000;
		W.hval[2][m] = ab;
		W.hval[3][m] = (am + 500) / 1000;
		W.hval[4][m] = (tm + 500) / 1000;
		if (++m == ACC_CAP) {
			put_heap_batch(m, 0);
			m = 0;
		}
	}
	put_heap_batch(m, 1);
	W.heap_live = live;
	W.heap_alloc = alloc;
}

static struct ring_state *state_for(struct lsc_ring *ring)
{
	size_t i;

	for (i = 0; i < W.nrings; i++)
		if (W.rings[i].ring == ring)
			return &W.rings[i];
	if (W.nrings == sizeof(W.rings) / sizeof(W.rings[0]))
		return NULL;
	W.rings[W.nrings] = (struct ring_state){.ring = ring};
	return &W.rings[W.nrings++];
}

static void drain(void)
{
	struct lsc_ring *ring;
	int i;

	for (ring = atomic_load(&A.rings); ring; ring = ring->next) {
		struct ring_state *rs = state_for(ring);
		uint16_t type;
		size_t len;

		if (!rs)
			continue;
		while ((len = lsc_ring_pop(ring, &type, W.rec, sizeof(W.rec)))) {
			if (type == LSC_EV_OWNER && len == sizeof(uint32_t)) {
				/* A new thread owns the ring from here on: the last one's samples
				 * (and any of an older thread with the new one's tid) go. */
				lsc__stretch_forget(rs->tid);
				memcpy(&rs->tid, W.rec, sizeof(uint32_t));
				lsc__stretch_forget(rs->tid);
				lsc__w_put_thread(rs, NULL, NULL);
				continue;
			}
			lsc__w_one_record(rs, type, len);
		}
	}
	if (lsc__now_ns() - A.t0 - W.last_heap_ns >= A.cfg.window_ns || atomic_load(&A.stop) ||
	    atomic_load(&A.flush_req))
		heap_snapshot();
	for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
		struct lsc_loop *L = atomic_load(&A.loops[i]);
		int k, life = L ? atomic_load(&L->life) : LOOP_FREE;

		if (life != LOOP_LIVE && life != LOOP_RETIRING)
			continue;
		/* A loop waiting in epoll past its window's end: close the window for it. */
		lsc_loop_close_parked(L, lsc__now_ns() - A.t0, A.cfg.window_ns);
		while ((k = lsc_loop_take_window(L)) >= 0) {
			lsc__w_put_window(L, i, &L->win[k]);
			lsc_loop_release_window(L, k);
		}
		/* Its thread exited and its last window is written: the slot is free. */
		if (life == LOOP_RETIRING && !atomic_load(&L->ready[0]) &&
		    !atomic_load(&L->ready[1])) {
			lsc__stretch_forget(L->tid);
			W.loop_alloc[i] = W.heap_alloc;
			atomic_store(&L->life, LOOP_FREE);
		}
	}
	put_samples(LOOPSCOPE__SAMPLE_KIND__CPU, W.cpu, &W.ncpu);
	put_samples(LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, W.blk, &W.nblk);
	put_samples(LOOPSCOPE__SAMPLE_KIND__OFFCPU, W.off, &W.noff);
	put_samples(LOOPSCOPE__SAMPLE_KIND__POOL_SUBMITS, W.sub, &W.nsub);
}

static void counter(Loopscope__Counter *c, const char *name, uint64_t v)
{
	loopscope__counter__init(c);
	c->name = (char *)name;
	c->has_value = 1;
	c->value = v;
}

static void footer(void)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Footer f = LOOPSCOPE__FOOTER__INIT;
	Loopscope__Counter c[10], *cp[10];
	uint64_t js_named, js_unnamed, js_moved;
	struct lsc_ring *ring;
	uint64_t dropped = atomic_load(&A.dropped_events), merged = 0;
	int i;

	lsc__w_shutdown_event(); /* when no window came after it */

	for (ring = atomic_load(&A.rings); ring; ring = ring->next)
		dropped += atomic_load(&ring->dropped);
	for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
		struct lsc_loop *L = atomic_load(&A.loops[i]);

		if (L)
			merged += atomic_load(&L->merged);
	}
	f.has_end_ns = f.has_dropped_events = f.has_dropped_stacks = f.has_dropped_samples = 1;
	f.end_ns = lsc__now_ns() - A.t0;
	f.dropped_events = dropped;
	f.dropped_stacks = W.dropped_stacks;
	f.dropped_samples = W.dropped_samples;
	counter(&c[0], "windows_merged", merged);
	counter(&c[1], "stacks", W.nstacks);
	f.counters = cp;
	f.n_counters = 2;
	/* Node.js: V8's heap profile and Node's resources read, and the main thread's time on them
	 */
	if (lsc__jsheap_readings()) {
		counter(&c[f.n_counters++], "js_heap_readings", lsc__jsheap_readings());
		counter(&c[f.n_counters++], "js_heap_read_ns", lsc__jsheap_read_ns());
	}
	/* Node.js: JS frames named from their function's SFI (node_names.c), as attach counts */
	lsc__node_names_counts(&js_named, &js_unnamed, &js_moved);
	if (js_named || js_unnamed) {
		counter(&c[f.n_counters++], "js_frames_named", js_named);
		counter(&c[f.n_counters++], "js_frames_unnamed", js_unnamed);
		counter(&c[f.n_counters++], "js_frames_moved", js_moved);
		counter(&c[f.n_counters++], "js_functions_dropped", lsc__js_dropped());
	}
	if (W.nres) {
		counter(&c[f.n_counters++], "node_resources_readings", W.nres);
		counter(&c[f.n_counters++], "node_resources_read_ns", W.res_read_ns);
	}
	for (i = 0; i < (int)f.n_counters; i++)
		cp[i] = &c[i];
	r.body_case = LOOPSCOPE__RECORD__BODY_FOOTER;
	r.footer = &f;
	lsc__w_put(&r);
}

/* ------------------------------------------------------------------ who runs the cycles */

/*
 * glibc's malloc skips its arena lock and the atomics in free while the process has one
 * thread; an idle second thread costs a malloc-bound program about 11 % (docs/performance.md).
 * So the writer's thread starts only when the program has a second thread of its own or polls a
 * loop (lsc__writer_spawn). Until then the program's one thread runs the writer's cycles itself,
 * where it ends: at exit, before an exec, at a crash or a deadly signal. Such a process (one
 * thread, no loop) that is SIGKILLed leaves a recording with its header and nothing more.
 */
enum { RUN_NOBODY, RUN_THREAD, RUN_INLINE };
static _Atomic int runner;

DECLARE_REAL(int, pthread_create, pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* One cycle: what the rings hold and the loops closed, then (final) the footer; written. */
static void cycle(int final)
{
	uint64_t js = atomic_load_explicit(&A.js_pushed, memory_order_acquire);

	if (!W.maps_done) {
		/* the mappings before the first stack that points into them */
		dl_iterate_phdr(lsc__w_map_one, NULL);
		lsc__w_file_maps();
		flush();
		W.last_maps_ns = lsc__now_ns();
		W.maps_done = 1;
	}
	drain();
	heap_name_new_sites();
	atomic_store_explicit(&A.js_drained, js, memory_order_release);
	atomic_store(&A.flush_req, 0);
	/* Libraries dlopen'd since: their mappings, once a window. */
	if (lsc__now_ns() - W.last_maps_ns >= A.cfg.window_ns) {
		dl_iterate_phdr(lsc__w_map_one, NULL);
		lsc__w_file_maps();
		W.last_maps_ns = lsc__now_ns();
	}
	if (final)
		footer();
	flush();
	atomic_fetch_add(&A.flushes, 1);
	if (final)
		atomic_store(&A.writer_done, 1);
}

static void *writer_main(void *arg)
{
	struct pollfd p = {A.wake_fd, POLLIN, 0};
	uint64_t junk;
	int stop = 0;

	lsc__mark_writer_thread();
	while (!stop) {
		int timeout = (int)(A.cfg.window_ns / 4000000);

		poll(&p, 1, timeout < 10 ? 10 : timeout > 250 ? 250 : timeout);
		if (read(A.wake_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
			break;
		stop = atomic_load(&A.stop);
		if (stop)
			break;
		cycle(0);
		if (atomic_load(&A.writer_hold)) {
			/* an exec is coming: nothing of ours may be half written when it lands */
			atomic_store(&A.writer_parked, 1);
			while (atomic_load(&A.writer_hold) && !atomic_load(&A.stop))
				poll(NULL, 0, 5);
			atomic_store(&A.writer_parked, 0);
		}
	}
	cycle(1);
	return NULL;
}

/* A cycle on the calling thread, when no writer thread runs them: 0 when it ran. A final one
 * keeps the cycles to itself for good: nothing is written after the footer. */
static int run_inline(int final)
{
	int nobody = RUN_NOBODY;

	if (!W.prepared || !atomic_compare_exchange_strong(&runner, &nobody, RUN_INLINE))
		return -1;
	cycle(final);
	if (!final)
		atomic_store(&runner, RUN_NOBODY);
	return 0;
}

int lsc__writer_start(void)
{
	W.out = lsc_map_zeroed(OUT_CAP);
	W.stacks_cap = 4096;
	W.stacks = lsc_map_table(W.stacks_cap * sizeof(*W.stacks));
	W.frames_cap = (uint64_t)STACK_CAP * 32;
	W.frames = lsc_map_zeroed(W.frames_cap * sizeof(*W.frames));
	W.cpu = lsc_map_zeroed(ACC_CAP * sizeof(*W.cpu));
	W.blk = lsc_map_zeroed(ACC_CAP * sizeof(*W.blk));
	W.off = lsc_map_zeroed(ACC_CAP * sizeof(*W.off));
	W.sub = lsc_map_zeroed(ACC_CAP * sizeof(*W.sub));
	if (lsc__heap_sites()) {
		int k;

		W.hstack = lsc_map_zeroed(ACC_CAP * sizeof(*W.hstack));
		for (k = 0; k < 5; k++)
			W.hval[k] = lsc_map_zeroed(ACC_CAP * sizeof(*W.hval[k]));
		if (!W.hstack || !W.hval[4])
			W.hstack = NULL; /* no snapshots; the rest goes on */
	}
	if (!W.out || !W.stacks || !W.frames || !W.cpu || !W.blk || !W.off || !W.sub ||
	    A.wake_fd < 0)
		return -ENOMEM;
	RESOLVE(pthread_create);
	if (!REAL(pthread_create))
		return -ENOSYS;
	W.prepared = 1;
	return 0;
}

void lsc__writer_spawn(void)
{
	int nobody = RUN_NOBODY, was = T.in_agent;
	sigset_t all, old;

	if (!W.prepared || atomic_load_explicit(&runner, memory_order_relaxed) != RUN_NOBODY ||
	    !atomic_compare_exchange_strong(&runner, &nobody, RUN_THREAD))
		return;
	T.in_agent = 1;
	/* The thread starts with every signal blocked, and keeps it so. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (REAL(pthread_create)(&W.thread, NULL, writer_main, NULL))
		atomic_store(&runner, RUN_NOBODY); /* the cycles stay inline */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	T.in_agent = was;
}

/* The program's own second thread: from now on glibc's malloc locks anyway, and the writer's
 * thread costs the program nothing more. libuv's pool workers start through pool.c's
 * trampoline, which marks them. */
EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	RESOLVE(pthread_create);
	if (atomic_load_explicit(&runner, memory_order_relaxed) == RUN_NOBODY &&
	    atomic_load(&A.active))
		lsc__writer_spawn();
	return REAL(pthread_create)(t, attr, lsc__pool_start_routine(fn), arg);
}

/* Waits for the writer, in steps from 100 us up to 5 ms: a process that exits at once (node -e 0,
 * a CLI tool) is not held a whole step after its last cycle. */
static void wait_until(int (*done)(uint64_t), uint64_t arg, unsigned limit_ms)
{
	uint64_t step_ns = 100000, waited_ns = 0, limit_ns = (uint64_t)limit_ms * 1000000;

	while (!done(arg) && waited_ns < limit_ns) {
		struct timespec step = {0, (long)step_ns};

		nanosleep(&step, NULL);
		waited_ns += step_ns;
		if (step_ns < 5000000)
			step_ns *= 2;
	}
}

static int writer_finished(uint64_t unused)
{
	return atomic_load(&A.writer_done);
}

static int flushed_since(uint64_t before)
{
	return atomic_load(&A.flushes) >= before + 2 || atomic_load(&A.writer_done);
}

static void wake(void)
{
	uint64_t one = 1;

	if (write(A.wake_fd, &one, sizeof(one)) < 0) {
		/* the writer still wakes on its own within 250 ms */
	}
}

/* Each of these runs the cycle inline when there is no writer thread; when a cycle of this
 * thread's is what a signal interrupted, they leave it be (its records are not written). */
void lsc__writer_stop(unsigned limit_ms)
{
	atomic_store(&A.stop, 1); /* the last cycle: with a heap snapshot, and a footer */
	if (run_inline(1) == 0 || atomic_load(&runner) != RUN_THREAD)
		return;
	wake();
	wait_until(writer_finished, 0, limit_ms);
}

void lsc__writer_flush_wait(unsigned limit_ms)
{
	uint64_t before = atomic_load(&A.flushes);

	atomic_store(&A.flush_req, 1); /* with a heap snapshot: what was live at the crash */
	if (run_inline(0) == 0 || atomic_load(&runner) != RUN_THREAD)
		return;
	wake();
	/* Two completed cycles: one that may have begun before our event was pushed, one after. */
	wait_until(flushed_since, before, limit_ms);
}

static int parked(uint64_t unused)
{
	return atomic_load(&A.writer_parked) || atomic_load(&A.writer_done);
}

void lsc__writer_hold(unsigned limit_ms)
{
	if (run_inline(0) == 0 || atomic_load(&runner) != RUN_THREAD)
		return;
	atomic_store(&A.writer_hold, 1);
	wake();
	wait_until(parked, 0, limit_ms);
}

void lsc__writer_release(void)
{
	atomic_store(&A.writer_hold, 0);
}

void lsc__writer_after_fork(void)
{
	/* the child is quiet (preload.c): no cycle of the parent's writer state runs in it */
	W.prepared = 0;
	atomic_store(&runner, RUN_NOBODY);
}
