/*
 * writer.c — the agent's writer thread: the one place that turns what the application threads
 * pushed (rings) and what the loop threads closed (windows) into recording records, and writes
 * them with write(2) at least once per window, so a SIGKILL loses at most the last one.
 *
 * It owns the stack table (frames → stack id, each Stack record written once), the mappings
 * written so far (read from the dynamic linker, build-ids from the mapped notes), and the
 * per-cycle sample totals. It blocks every signal, so the program's signals and the agent's
 * SIGPROF land on the program's threads. Its memory is mmap'd and bounded: when the stack table
 * is full, new stacks are counted as dropped, not stored.
 */
#include "lsc_recording.h"
#include "preload.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define OUT_CAP	     (4u << 20)
#define STACK_CAP    (1u << 18) /* distinct stacks kept; more are dropped */
#define ACC_CAP	     16384	/* distinct (stack, thread) pairs per cycle */
#define MAX_MAPPINGS 4096

void lsc__mark_writer_thread(void);

struct stack_slot {
	uint64_t hash;
	uint32_t id;
	uint32_t nframes;
	uint64_t frames_off;
};

struct acc {
	uint32_t stack, tid;
	uint64_t value;
};

struct ring_state {
	struct lsc_ring *ring;
	uint32_t tid; /* the thread the Thread record was written for */
	uint64_t last_cpu_t;
	uint32_t last_cpu_stack;
};

static struct {
	pthread_t thread;
	int started;
	uint8_t *out;
	size_t len;
	struct stack_slot *stacks;
	uint64_t *frames;
	uint64_t frames_used, frames_cap;
	uint32_t nstacks;
	uint64_t dropped_stacks, dropped_samples;
	struct acc *cpu, *blk, *off;
	size_t ncpu, nblk, noff;
	uint64_t mapped[MAX_MAPPINGS];
	size_t nmapped;
	struct ring_state rings[1024];
	size_t nrings;
	uint64_t last_maps_ns;
	uint8_t rec[65536];
	uint32_t hidx[2][LSC_HIST_BUCKETS];
	uint64_t hcnt[2][LSC_HIST_BUCKETS];
	/* the native heap: the last snapshot's totals, and its columns */
	uint64_t last_heap_ns, heap_live, heap_alloc;
	uint64_t loop_alloc[LSC_AGENT_MAX_LOOPS]; /* heap_alloc at each loop's last window */
	uint32_t snapshot;
	uint32_t *hstack;
	uint64_t *hval[5];
} W;

#define A lsc__A

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

static void put(const Loopscope__Record *r)
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
static uint32_t intern(const uint64_t *f, uint32_t n)
{
	uint64_t h = lsc_hash_frames(f, n);
	size_t j = h & (STACK_CAP * 2 - 1);
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Stack s = LOOPSCOPE__STACK__INIT;
	struct stack_slot *slot;

	for (; W.stacks[j].hash; j = (j + 1) & (STACK_CAP * 2 - 1)) {
		slot = &W.stacks[j];
		if (slot->hash == h && slot->nframes == n &&
		    memcmp(W.frames + slot->frames_off, f, n * sizeof(*f)) == 0)
			return slot->id;
	}
	if (W.nstacks >= STACK_CAP || W.frames_used + n > W.frames_cap) {
		W.dropped_stacks++;
		return 0;
	}
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
	put(&r);
	return slot->id;
}

static void accumulate(struct acc *v, size_t *n, uint32_t stack, uint32_t tid, uint64_t value)
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
	put(&r);
	*n = 0;
}

/* ------------------------------------------------------------------ events */

static void put_event(uint64_t t, Loopscope__Event *e)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;

	e->has_t_ns = 1;
	e->t_ns = t;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = e;
	put(&r);
}

static void put_thread(struct ring_state *rs)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Thread t = LOOPSCOPE__THREAD__INIT;
	char path[64], name[32] = "";
	int fd;

	rs->last_cpu_t = 0;
	snprintf(path, sizeof(path), "/proc/self/task/%u/comm", rs->tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, name, sizeof(name) - 1);

		close(fd);
		name[n > 0 ? n : 0] = 0;
		name[strcspn(name, "\n")] = 0;
	}
	t.has_tid = t.has_loop = 1;
	t.tid = rs->tid;
	t.name = name;
	t.loop = rs->ring->is_loop;
	r.body_case = LOOPSCOPE__RECORD__BODY_THREAD;
	r.thread = &t;
	put(&r);
}

static void one_record(struct ring_state *rs, uint16_t type, size_t len)
{
	uint32_t tid = rs->tid, stack;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;

	switch (type) {
	case LSC_EV_BLOCKING: {
		struct lsc_ev_blocking *b = (void *)W.rec;
		Loopscope__BlockingEvent be = LOOPSCOPE__BLOCKING_EVENT__INIT;

		if (len < sizeof(*b) || sizeof(*b) + b->nframes * 8 > len)
			return;
		stack = intern((uint64_t *)(b + 1), b->nframes);
		be.call = (char *)lsc_agent_call_names[b->call];
		be.has_duration_ns = be.has_stack_id = be.has_tid = be.has_result = 1;
		be.duration_ns = b->duration_ns;
		be.stack_id = stack;
		be.tid = tid;
		be.result = b->result;
		e.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
		e.blocking = &be;
		put_event(b->t_ns, &e);
		accumulate(W.blk, &W.nblk, stack, tid, b->duration_ns);
		break;
	}
	case LSC_EV_CPU: {
		struct lsc_ev_cpu *c = (void *)W.rec;

		if (len < sizeof(*c) || sizeof(*c) + c->nframes * 8 > len)
			return;
		stack = intern((uint64_t *)(c + 1), c->nframes);
		accumulate(W.cpu, &W.ncpu, stack, tid, 1);
		rs->last_cpu_t = c->t_ns;
		rs->last_cpu_stack = stack;
		break;
	}
	case LSC_EV_WALL: {
		struct lsc_ev_wall *wv = (void *)W.rec;

		if (len < sizeof(*wv) || sizeof(*wv) + wv->nframes * 8 > len)
			return;
		stack = intern((uint64_t *)(wv + 1), wv->nframes);
		accumulate(W.off, &W.noff, stack, wv->tid, wv->offcpu_ns);
		break;
	}
	case LSC_EV_BUSY: {
		struct lsc_ev_busy *b = (void *)W.rec;
		Loopscope__BlockingEvent be = LOOPSCOPE__BLOCKING_EVENT__INIT;

		if (len < sizeof(*b))
			return;
		/* A CPU sample that fell inside the segment says where it was spent. */
		be.call = (char *)lsc_agent_call_names[CALL_BUSY];
		be.has_duration_ns = be.has_stack_id = be.has_tid = 1;
		be.duration_ns = b->duration_ns;
		be.stack_id = rs->last_cpu_t >= b->start_ns &&
					      rs->last_cpu_t <= b->start_ns + b->duration_ns
				      ? rs->last_cpu_stack
				      : 0;
		be.tid = tid;
		e.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
		e.blocking = &be;
		put_event(b->start_ns, &e);
		break;
	}
	case LSC_EV_GC: {
		struct lsc_ev_gc *g = (void *)W.rec;
		struct lsc_ev_gc_type *t = (void *)(g + 1);
		Loopscope__GcEvent ge = LOOPSCOPE__GC_EVENT__INIT;
		Loopscope__TypeStat ts[64], *tsp[64];
		uint32_t i;

		if (len < sizeof(*g) || g->ntypes > 64 || sizeof(*g) + g->ntypes * sizeof(*t) > len)
			return;
		for (i = 0; i < g->ntypes; i++) {
			loopscope__type_stat__init(&ts[i]);
			ts[i].name = t[i].name;
			ts[i].has_count = ts[i].has_bytes = 1;
			ts[i].count = t[i].count;
			ts[i].bytes = t[i].bytes;
			tsp[i] = &ts[i];
		}
		ge.has_kind = ge.has_pause_ns = ge.has_heap_before = ge.has_heap_after = 1;
		ge.kind = g->kind;
		ge.pause_ns = g->pause_ns;
		ge.heap_before = g->before;
		ge.heap_after = g->after;
		ge.types = tsp;
		ge.n_types = g->ntypes;
		e.body_case = LOOPSCOPE__EVENT__BODY_GC;
		e.gc = &ge;
		put_event(g->t_ns, &e);
		break;
	}
	case LSC_EV_CRASH: {
		struct lsc_ev_crash *c = (void *)W.rec;
		Loopscope__CrashEvent ce = LOOPSCOPE__CRASH_EVENT__INIT;

		if (len < sizeof(*c) || sizeof(*c) + c->nframes * 8 > len)
			return;
		ce.has_signal = ce.has_stack_id = ce.has_tid = ce.has_fault_addr = 1;
		ce.signal = c->signal;
		ce.stack_id = intern((uint64_t *)(c + 1), c->nframes);
		ce.tid = tid;
		ce.fault_addr = c->fault_addr;
		e.body_case = LOOPSCOPE__EVENT__BODY_CRASH;
		e.crash = &ce;
		put_event(c->t_ns, &e);
		break;
	}
	}
}

/* ------------------------------------------------------------------ windows and the process */

static uint64_t rss_bytes(void)
{
	char buf[128];
	unsigned long long size = 0, res = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return 0;
	return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint32_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint32_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n ? n - 1 : 0; /* not the directory's own fd */
}

static void put_window(struct lsc_loop *L, int slot, const struct lsc_window *w)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Window pw = LOOPSCOPE__WINDOW__INIT;
	Loopscope__Histogram busy, lag;
	Loopscope__HandleCount hc[LSC_AGENT_HANDLE_TYPES], *hcp[LSC_AGENT_HANDLE_TYPES];
	struct rlimit rl;
	uint64_t len = w->end_ns > w->start_ns ? w->end_ns - w->start_ns : 1;
	size_t i, n = 0;

	pw.has_start_ns = pw.has_length_ns = pw.has_loop_tid = pw.has_elu = pw.has_iterations = 1;
	pw.start_ns = w->start_ns;
	pw.length_ns = len;
	pw.loop_tid = L->tid;
	pw.elu = w->idle_ns >= len ? 0 : 1.0 - (double)w->idle_ns / (double)len;
	pw.iterations = w->iterations;
	lsc_hist_to_proto(&w->busy, &busy, W.hidx[0], W.hcnt[0]);
	lsc_hist_to_proto(&w->lag, &lag, W.hidx[1], W.hcnt[1]);
	pw.busy = &busy;
	pw.lag = &lag;
	if (w->handles_known) {
		pw.has_active_handles = pw.has_active_reqs = 1;
		pw.active_handles = w->active_handles;
		pw.active_reqs = w->active_reqs;
		for (i = 1; i < LSC_AGENT_HANDLE_TYPES; i++) {
			if (!w->handles[i])
				continue;
			loopscope__handle_count__init(&hc[n]);
			hc[n].type = (char *)(lsc_handle_type_name((unsigned)i)
						      ? lsc_handle_type_name((unsigned)i)
						      : "unknown");
			hc[n].has_count = 1;
			hc[n].count = w->handles[i];
			hcp[n] = &hc[n];
			n++;
		}
		pw.handles = hcp;
		pw.n_handles = n;
	}
	if (lsc__heap_sites()) {
		pw.has_malloc_live_bytes = pw.has_malloc_alloc_bytes = 1;
		pw.malloc_live_bytes = W.heap_live;
		pw.malloc_alloc_bytes = W.heap_alloc - W.loop_alloc[slot];
		W.loop_alloc[slot] = W.heap_alloc;
	}
	pw.has_open_fds = pw.has_rss_bytes = 1;
	pw.open_fds = open_fds();
	pw.rss_bytes = rss_bytes();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		pw.has_fd_limit = 1;
		pw.fd_limit = rl.rlim_cur > UINT32_MAX ? UINT32_MAX : (uint32_t)rl.rlim_cur;
	}
	r.body_case = LOOPSCOPE__RECORD__BODY_WINDOW;
	r.window = &pw;
	put(&r);
}

/* One Mapping per executable segment of every loaded object, with its build-id. */
static int map_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	static char exe[4096];
	const char *path = info->dlpi_name;
	const uint8_t *bid = NULL;
	size_t bid_len = 0;
	int i;

	if (!path || !*path) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		exe[n > 0 ? n : 0] = 0;
		path = exe;
	}
	if (path[0] != '/')
		return 0; /* the vDSO */
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const void *)p;
			const uint8_t *name = p + sizeof(*nh),
				      *desc = name + ((nh->n_namesz + 3) & ~3u);

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4)) {
				bid = desc;
				bid_len = nh->n_descsz;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
		Loopscope__Mapping m = LOOPSCOPE__MAPPING__INIT;
		uint64_t start, page = 4096;
		size_t k;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		for (k = 0; k < W.nmapped && W.mapped[k] != start; k++)
			;
		if (k < W.nmapped || W.nmapped == MAX_MAPPINGS)
			continue;
		W.mapped[W.nmapped++] = start;
		m.has_id = m.has_start = m.has_end = m.has_file_offset = 1;
		m.id = (uint32_t)W.nmapped;
		m.start = start;
		m.end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
		m.file_offset = ph->p_offset & ~(page - 1);
		m.path = (char *)path;
		if (bid) {
			m.has_build_id = 1;
			m.build_id.data = (uint8_t *)bid;
			m.build_id.len = bid_len;
		}
		r.body_case = LOOPSCOPE__RECORD__BODY_MAPPING;
		r.mapping = &m;
		put(&r);
	}
	return 0;
}

/* ------------------------------------------------------------------ the thread */

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
		put(&r);
	}
}

static uint64_t nonneg(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
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
			e->rec_id = intern(t->frames + e->frames_off, e->nframes);
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
				/* A new thread owns the ring from here on. */
				memcpy(&rs->tid, W.rec, sizeof(uint32_t));
				put_thread(rs);
				continue;
			}
			one_record(rs, type, len);
		}
	}
	if (lsc__now_ns() - A.t0 - W.last_heap_ns >= A.cfg.window_ns || atomic_load(&A.stop) ||
	    atomic_load(&A.flush_req))
		heap_snapshot();
	for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
		struct lsc_loop *L = atomic_load(&A.loops[i]);
		int k;

		/* A loop waiting in epoll past its window's end: close the window for it. */
		if (L)
			lsc_loop_close_parked(L, lsc__now_ns() - A.t0, A.cfg.window_ns);
		while (L && (k = lsc_loop_take_window(L)) >= 0) {
			put_window(L, i, &L->win[k]);
			lsc_loop_release_window(L, k);
		}
	}
	put_samples(LOOPSCOPE__SAMPLE_KIND__CPU, W.cpu, &W.ncpu);
	put_samples(LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, W.blk, &W.nblk);
	put_samples(LOOPSCOPE__SAMPLE_KIND__OFFCPU, W.off, &W.noff);
}

static void footer(void)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Footer f = LOOPSCOPE__FOOTER__INIT;
	Loopscope__Counter c[2], *cp[2];
	struct lsc_ring *ring;
	uint64_t dropped = atomic_load(&A.dropped_events), merged = 0;
	int i;

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
	loopscope__counter__init(&c[0]);
	c[0].name = "windows_merged";
	c[0].has_value = 1;
	c[0].value = merged;
	loopscope__counter__init(&c[1]);
	c[1].name = "stacks";
	c[1].has_value = 1;
	c[1].value = W.nstacks;
	cp[0] = &c[0];
	cp[1] = &c[1];
	f.counters = cp;
	f.n_counters = 2;
	r.body_case = LOOPSCOPE__RECORD__BODY_FOOTER;
	r.footer = &f;
	put(&r);
}

static void *writer_main(void *arg)
{
	struct pollfd p = {A.wake_fd, POLLIN, 0};
	uint64_t junk;
	int stop = 0;

	lsc__mark_writer_thread();
	dl_iterate_phdr(map_one, NULL);
	flush();
	W.last_maps_ns = lsc__now_ns();
	while (!stop) {
		int timeout = (int)(A.cfg.window_ns / 4000000);

		poll(&p, 1, timeout < 10 ? 10 : timeout > 250 ? 250 : timeout);
		if (read(A.wake_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
			break;
		stop = atomic_load(&A.stop);
		drain();
		atomic_store(&A.flush_req, 0);
		/* Libraries dlopen'd since: their mappings, once a window. */
		if (lsc__now_ns() - W.last_maps_ns >= A.cfg.window_ns) {
			dl_iterate_phdr(map_one, NULL);
			W.last_maps_ns = lsc__now_ns();
		}
		flush();
		atomic_fetch_add(&A.flushes, 1);
		if (atomic_load(&A.writer_hold)) {
			/* an exec is coming: nothing of ours may be half written when it lands */
			atomic_store(&A.writer_parked, 1);
			while (atomic_load(&A.writer_hold) && !atomic_load(&A.stop))
				poll(NULL, 0, 5);
			atomic_store(&A.writer_parked, 0);
		}
	}
	drain();
	footer();
	flush();
	atomic_store(&A.writer_done, 1);
	return NULL;
}

int lsc__writer_start(void)
{
	sigset_t all, old;
	int err;

	W.out = lsc_map_zeroed(OUT_CAP);
	W.stacks = lsc_map_zeroed(STACK_CAP * 2 * sizeof(*W.stacks));
	W.frames_cap = (uint64_t)STACK_CAP * 32;
	W.frames = lsc_map_zeroed(W.frames_cap * sizeof(*W.frames));
	W.cpu = lsc_map_zeroed(ACC_CAP * sizeof(*W.cpu));
	W.blk = lsc_map_zeroed(ACC_CAP * sizeof(*W.blk));
	W.off = lsc_map_zeroed(ACC_CAP * sizeof(*W.off));
	if (lsc__heap_sites()) {
		int k;

		W.hstack = lsc_map_zeroed(ACC_CAP * sizeof(*W.hstack));
		for (k = 0; k < 5; k++)
			W.hval[k] = lsc_map_zeroed(ACC_CAP * sizeof(*W.hval[k]));
		if (!W.hstack || !W.hval[4])
			W.hstack = NULL; /* no snapshots; the rest goes on */
	}
	if (!W.out || !W.stacks || !W.frames || !W.cpu || !W.blk || !W.off || A.wake_fd < 0)
		return -ENOMEM;
	/* The thread starts with every signal blocked, and keeps it so. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&W.thread, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	W.started = 1;
	return 0;
}

static void wait_until(int (*done)(uint64_t), uint64_t arg, unsigned limit_ms)
{
	struct timespec step = {0, 5000000};
	unsigned waited = 0;

	while (!done(arg) && waited < limit_ms) {
		nanosleep(&step, NULL);
		waited += 5;
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

void lsc__writer_stop(unsigned limit_ms)
{
	uint64_t one = 1;

	if (!W.started)
		return;
	atomic_store(&A.stop, 1);
	if (write(A.wake_fd, &one, sizeof(one)) < 0) {
		/* the writer still wakes on its own within 250 ms */
	}
	wait_until(writer_finished, 0, limit_ms);
}

void lsc__writer_flush_wait(unsigned limit_ms)
{
	uint64_t one = 1, before = atomic_load(&A.flushes);

	if (!W.started)
		return;
	atomic_store(&A.flush_req, 1); /* with a heap snapshot: what was live at the crash */
	if (write(A.wake_fd, &one, sizeof(one)) < 0) {
		/* the writer still wakes on its own within 250 ms */
	}
	/* Two completed cycles: one that may have begun before our event was pushed, one after. */
	wait_until(flushed_since, before, limit_ms);
}

static int parked(uint64_t unused)
{
	return atomic_load(&A.writer_parked) || atomic_load(&A.writer_done);
}

void lsc__writer_hold(unsigned limit_ms)
{
	uint64_t one = 1;

	if (!W.started)
		return;
	atomic_store(&A.writer_hold, 1);
	if (write(A.wake_fd, &one, sizeof(one)) < 0) {
		/* the writer still wakes on its own within 250 ms */
	}
	wait_until(parked, 0, limit_ms);
}

void lsc__writer_release(void)
{
	atomic_store(&A.writer_hold, 0);
}

void lsc__writer_after_fork(void)
{
	W.started = 0;
}
