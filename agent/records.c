/*
 * records.c — the writer's record builders: one ring record (a blocking call, a CPU or off-CPU
 * sample, a busy stretch, a GC, a crash) into an Event or into the cycle's sample totals; a
 * thread's name; a loop's closed window with the process's RSS and descriptors; the executable
 * segments of a loaded object. Called only from the writer's cycles (writer.c).
 */
#include "writer.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define A lsc__A
#define W lsc__W

/* ------------------------------------------------------------------ events */

static void put_event(uint64_t t, Loopscope__Event *e)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;

	e->has_t_ns = 1;
	e->t_ns = t;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = e;
	lsc__w_put(&r);
}

/* The moment the program began to stop, once, before the first window marked shutdown (and
 * before the footer, when no window came after it). */
void lsc__w_shutdown_event(void)
{
	static int written;
	uint64_t sd = atomic_load(&A.shutdown_ns);
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;
	Loopscope__ShutdownEvent se = LOOPSCOPE__SHUTDOWN_EVENT__INIT;
	char why[64];
	int sig;

	if (!sd || written)
		return;
	written = 1;
	sig = atomic_load(&A.shutdown_why);
	if (sig == LSC_SHUTDOWN_CLOSED)
		snprintf(why, sizeof(why), "its last listening socket closed");
	else
		snprintf(why, sizeof(why), "SIG%s", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	se.reason = why;
	e.body_case = LOOPSCOPE__EVENT__BODY_SHUTDOWN;
	e.shutdown = &se;
	put_event(sd - 1, &e);
}

void lsc__w_put_thread(struct ring_state *rs, const struct lsc_ev_thread *role, const char *script)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Thread t = LOOPSCOPE__THREAD__INIT;
	char path[64], name[32] = "", buf[256];
	int fd;

	if (!role)
		rs->last_cpu_t = 0; /* a new owner */
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
	if (role) {
		size_t n = role->scriptlen < sizeof(buf) - 1 ? role->scriptlen : sizeof(buf) - 1;

		t.loop = 1;
		t.has_role = 1;
		t.role = (Loopscope__ThreadRole)role->role;
		t.has_worker_id = role->worker_id != 0;
		t.worker_id = role->worker_id;
		memcpy(buf, script, n);
		buf[n] = 0;
		t.script = n ? buf : NULL;
	}
	r.body_case = LOOPSCOPE__RECORD__BODY_THREAD;
	r.thread = &t;
	lsc__w_put(&r);
}

/* Node's "Type=count;..." taken at t, a reading of its own (32 types at most). */
static void resources(uint64_t t, const char *text, size_t len)
{
	struct lsc_res_reading *rd = &W.res[W.nres % 4];
	const char *tail = memchr(text, 1, len); /* "\1SUM,MAX,NEED": the sockets' writes */
	size_t i = 0, k, n = 0;

	rd->has_writable = 0;
	if (tail) {
		uint64_t v[3] = {0, 0, 0};
		size_t f = 0, j;

		for (j = (size_t)(tail - text) + 1; j < len && f < 3; j++) {
			if (text[j] == ',')
				f++;
			else if (text[j] >= '0' && text[j] <= '9')
				v[f] = v[f] * 10 + (uint64_t)(text[j] - '0');
		}
		rd->has_writable = 1;
		rd->writable = v[0];
		rd->writable_max = v[1];
		rd->need_drain = (uint32_t)v[2];
		len = (size_t)(tail - text);
	}
	while (i < len && n < 32) {
		size_t eq = i, end;
		uint32_t v = 0;

		while (eq < len && text[eq] != '=' && text[eq] != ';')
			eq++;
		for (end = eq + 1; end < len && text[end] >= '0' && text[end] <= '9'; end++)
			v = v * 10 + (uint32_t)(text[end] - '0');
		if (eq >= len || text[eq] != '=' || eq == i)
			break;
		k = eq - i < sizeof(rd->type[0]) ? eq - i : sizeof(rd->type[0]) - 1;
		memcpy(rd->type[n], text + i, k);
		rd->type[n][k] = 0;
		rd->count[n++] = v;
		i = end + 1; /* past the ';' */
	}
	rd->n = n;
	rd->t_ns = t;
	W.nres++;
}

/* The latest reading taken by the time a window ended; NULL when none is kept. */
static const struct lsc_res_reading *reading_at(uint64_t end_ns)
{
	const struct lsc_res_reading *best = NULL;
	unsigned k;

	for (k = 0; k < 4 && k < W.nres; k++) {
		const struct lsc_res_reading *rd = &W.res[(W.nres - 1 - k) % 4];

		if (rd->t_ns <= end_ns && (!best || rd->t_ns > best->t_ns))
			best = rd;
	}
	return best;
}

void lsc__w_one_record(struct ring_state *rs, uint16_t type, size_t len)
{
	uint32_t tid = rs->tid, stack;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;

	switch (type) {
	case LSC_EV_BLOCKING: {
		struct lsc_ev_blocking *b = (void *)W.rec;
		Loopscope__BlockingEvent be = LOOPSCOPE__BLOCKING_EVENT__INIT;

		if (len < sizeof(*b) || sizeof(*b) + b->nframes * (b->aux ? 24 : 8) > len)
			return;
		stack = lsc__w_intern_aux((uint64_t *)(b + 1),
					  b->aux ? (uint64_t *)(b + 1) + b->nframes : NULL,
					  b->nframes);
		be.call = (char *)lsc_agent_call_names[b->call];
		be.has_duration_ns = be.has_stack_id = be.has_tid = be.has_result = 1;
		be.duration_ns = b->duration_ns;
		be.stack_id = stack;
		be.tid = tid;
		be.result = b->result;
		be.has_calls = b->calls > 1;
		be.calls = b->calls;
		if (b->sched_known) {
			be.has_run_queue_ns = be.has_on_cpu_ns = be.has_switches = 1;
			be.run_queue_ns = b->run_queue_ns;
			be.on_cpu_ns = b->on_cpu_ns;
			be.switches = b->switches;
		}
		e.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
		e.blocking = &be;
		put_event(b->t_ns, &e);
		lsc__w_accumulate(W.blk, &W.nblk, stack, tid, b->duration_ns);
		break;
	}
	case LSC_EV_CPU: {
		struct lsc_ev_cpu *c = (void *)W.rec;

		if (len < sizeof(*c) || sizeof(*c) + c->nframes * (c->aux ? 24 : 8) > len)
			return;
		stack = lsc__w_intern_aux((uint64_t *)(c + 1),
					  c->aux ? (uint64_t *)(c + 1) + c->nframes : NULL,
					  c->nframes);
		lsc__w_accumulate(W.cpu, &W.ncpu, stack, tid, 1);
		rs->last_cpu_t = c->t_ns;
		rs->last_cpu_stack = stack;
		lsc__stretch_sample(tid, (int)c->loop, c->t_ns, stack);
		break;
	}
	case LSC_EV_WALL: {
		struct lsc_ev_wall *wv = (void *)W.rec;

		if (len < sizeof(*wv) || sizeof(*wv) + wv->nframes * (wv->aux ? 24 : 8) > len)
			return;
		stack = lsc__w_intern_aux((uint64_t *)(wv + 1),
					  wv->aux ? (uint64_t *)(wv + 1) + wv->nframes : NULL,
					  wv->nframes);
		lsc__w_accumulate(W.off, &W.noff, stack, wv->tid, wv->offcpu_ns);
		break;
	}
	case LSC_EV_BUSY: {
		struct lsc_ev_busy *b = (void *)W.rec;
		Loopscope__BlockingEvent be = LOOPSCOPE__BLOCKING_EVENT__INIT;
		static uint32_t sst[256], scnt[256];
		uint32_t best;
		size_t nst, i;

		if (len < sizeof(*b))
			return;
		/* The CPU samples that fell inside the stretch say where it was spent: all of
		 * them, by stack; the most frequent is its stack. */
		be.call = (char *)lsc_agent_call_names[CALL_BUSY];
		be.has_duration_ns = be.has_stack_id = be.has_tid = 1;
		be.duration_ns = b->duration_ns;
		be.stack_id = rs->last_cpu_t >= b->start_ns &&
					      rs->last_cpu_t <= b->start_ns + b->duration_ns
				      ? rs->last_cpu_stack
				      : 0;
		nst = lsc__stretch_counts(tid, b->start_ns, b->start_ns + b->duration_ns, sst, scnt,
					  sizeof(sst) / sizeof(sst[0]));
		for (i = 0, best = 0; i < nst; i++)
			if (scnt[i] > best)
				best = scnt[i], be.stack_id = sst[i];
		if (b->sched_known) {
			be.has_run_queue_ns = be.has_on_cpu_ns = 1;
			be.run_queue_ns = b->run_queue_ns;
			be.on_cpu_ns = b->on_cpu_ns;
		}
		be.cpu_stack_ids = sst;
		be.n_cpu_stack_ids = nst;
		be.cpu_counts = scnt;
		be.n_cpu_counts = nst;
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
		ge.has_tid = 1;
		ge.tid = rs->tid;
		ge.types = tsp;
		ge.n_types = g->ntypes;
		e.body_case = LOOPSCOPE__EVENT__BODY_GC;
		e.gc = &ge;
		put_event(g->t_ns, &e);
		break;
	}
	case LSC_EV_POOL_SUBMIT: {
		struct lsc_ev_pool_submit *ps = (void *)W.rec;

		if (len < sizeof(*ps) || sizeof(*ps) + ps->nframes * (ps->aux ? 24 : 8) > len)
			return;
		W.pool.seen = 1;
		if (ps->depth > W.pool.depth_max)
			W.pool.depth_max = ps->depth;
		if (ps->weight && ps->nframes) {
			stack = lsc__w_intern_aux(
				(uint64_t *)(ps + 1),
				ps->aux ? (uint64_t *)(ps + 1) + ps->nframes : NULL, ps->nframes);
			lsc__w_accumulate(W.sub, &W.nsub, stack, tid, ps->weight);
		}
		break;
	}
	case LSC_EV_POOL_PICKUP: {
		struct lsc_ev_pool_pickup *pp = (void *)W.rec;

		if (len < sizeof(*pp))
			return;
		W.pool.seen = 1;
		if (pp->busy > W.pool.busy_max)
			W.pool.busy_max = pp->busy;
		W.pool.threads = pp->threads;
		if (pp->wait_ns != UINT64_MAX)
			lsc_hist_add(&W.pool.wait, pp->wait_ns);
		break;
	}
	case LSC_EV_JSNODE: {
		struct lsc_ev_jsnode *jn = (void *)W.rec;

		if (len < sizeof(*jn) || sizeof(*jn) + (size_t)jn->namelen + jn->scriptlen > len)
			return;
		lsc__jsheap_node(jn, (const char *)(jn + 1));
		break;
	}
	case LSC_EV_THREAD: {
		struct lsc_ev_thread *th = (void *)W.rec;

		if (len >= sizeof(*th) && sizeof(*th) + th->scriptlen <= len)
			lsc__w_put_thread(rs, th, (const char *)(th + 1));
		break;
	}
	case LSC_EV_RESOURCES: {
		struct lsc_ev_resources *re = (void *)W.rec;

		if (len >= sizeof(*re) && sizeof(*re) + re->len <= len) {
			resources(re->t_ns, (const char *)(re + 1), re->len);
			W.res_read_ns += re->took_ns;
		}
		break;
	}
	case LSC_EV_JSHEAP_END:
		if (len >= sizeof(struct lsc_ev_jsheap_end))
			lsc__jsheap_end((const struct lsc_ev_jsheap_end *)(void *)W.rec);
		break;
	case LSC_EV_CRASH: {
		struct lsc_ev_crash *c = (void *)W.rec;
		Loopscope__CrashEvent ce = LOOPSCOPE__CRASH_EVENT__INIT;

		if (len < sizeof(*c) || sizeof(*c) + c->nframes * 8 > len)
			return;
		ce.has_signal = ce.has_stack_id = ce.has_tid = ce.has_fault_addr = 1;
		ce.signal = c->signal;
		ce.stack_id = lsc__w_intern((uint64_t *)(c + 1), c->nframes);
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

/* A /proc file of this process into buf (NUL-terminated; empty when unreadable). */
static void proc_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
}

static uint64_t rss_bytes(void)
{
	char buf[128];
	unsigned long long size = 0, res = 0;

	proc_text("/proc/self/statm", buf, sizeof(buf));
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return 0;
	return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* VmHWM from /proc/self/status: the peak RSS so far (read, never reset: resetting it through
 * clear_refs would change what the program's own getrusage reports). */
static uint64_t rss_peak_bytes(void)
{
	char buf[4096], *at;
	unsigned long long kib = 0;

	proc_text("/proc/self/status", buf, sizeof(buf));
	at = strstr(buf, "\nVmHWM:");
	if (!at || sscanf(at + 7, " %llu", &kib) != 1)
		return 0;
	return (uint64_t)kib * 1024;
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

void lsc__w_put_window(struct lsc_loop *L, int slot, const struct lsc_window *w)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Window pw = LOOPSCOPE__WINDOW__INIT;
	Loopscope__Histogram busy, lag, wait;
	Loopscope__HandleCount hc[LSC_AGENT_HANDLE_TYPES], *hcp[LSC_AGENT_HANDLE_TYPES];
	Loopscope__HandleCount ac[LSC_AGENT_HANDLE_TYPES], *acp[LSC_AGENT_HANDLE_TYPES];
	Loopscope__HandleCount rc[32], *rcp[32];
	const struct lsc_res_reading *rd;
	struct rlimit rl;
	uint64_t len = w->end_ns > w->start_ns ? w->end_ns - w->start_ns : 1;
	size_t i;

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
		pw.n_handles = lsc_handle_counts(w->handles, LSC_AGENT_HANDLE_TYPES, hc, hcp);
		pw.handles = hcp;
		pw.has_write_queued_bytes = pw.has_write_queued_max = 1;
		pw.write_queued_bytes = w->write_queued;
		pw.write_queued_max = w->write_queued_max;
		pw.n_alive_handles = lsc_handle_counts(w->alive, LSC_AGENT_HANDLE_TYPES, ac, acp);
		pw.alive_handles = acp;
	}
	/* Node's own count (its reading by the window's end), with the main thread's loop */
	if (L->tid == (uint32_t)A.pid && (rd = reading_at(w->end_ns)) != NULL) {
		pw.has_resources_counted = pw.resources_counted = 1;
		for (i = 0; i < rd->n; i++) {
			loopscope__handle_count__init(&rc[i]);
			rc[i].type = (char *)rd->type[i];
			rc[i].has_count = 1;
			rc[i].count = rd->count[i];
			rcp[i] = &rc[i];
		}
		pw.resources = rcp;
		pw.n_resources = rd->n;
		if (rd->has_writable) {
			pw.has_js_write_buffered_bytes = pw.has_js_write_buffered_max = 1;
			pw.has_js_write_need_drain = 1;
			pw.js_write_buffered_bytes = rd->writable;
			pw.js_write_buffered_max = rd->writable_max;
			pw.js_write_need_drain = rd->need_drain;
		}
	}
	/* The pool serves the whole process: its figures go with the main thread's loop. */
	if (L->tid == (uint32_t)A.pid && (W.pool.seen || lsc__pool_threads())) {
		pw.has_pool_threads = pw.has_pool_depth_max = pw.has_pool_busy_max = 1;
		pw.pool_threads = W.pool.threads ? W.pool.threads : lsc__pool_threads();
		pw.pool_depth_max = W.pool.depth_max;
		pw.pool_busy_max = W.pool.busy_max;
		{
			uint64_t area = lsc__pool_area(w->end_ns);

			if (area >= W.pool.area && w->end_ns > W.pool.area_t) {
				pw.has_pool_depth_mean = 1;
				pw.pool_depth_mean = (double)(area - W.pool.area) /
						     (double)(w->end_ns - W.pool.area_t);
			}
			W.pool.area = area;
			W.pool.area_t = w->end_ns;
		}
		lsc_hist_to_proto(&W.pool.wait, &wait, W.hidx[2], W.hcnt[2]);
		pw.pool_wait = &wait;
		W.pool.seen = 0;
		W.pool.depth_max = W.pool.busy_max = 0;
		lsc_hist_init(&W.pool.wait);
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
	pw.rss_peak_bytes = rss_peak_bytes();
	{
		uint64_t sd = atomic_load(&A.shutdown_ns);

		/* the drain's: a window most of which came after it began (preload.c closes the
		 * window at the first poll after it: the windows after that are wholly the
		 * drain's; the one it closed, where most of it was) */
		pw.has_shutdown = pw.shutdown =
			sd &&
			(w->start_ns >= sd - 1 ||
			 (w->end_ns >= sd - 1 && w->end_ns - (sd - 1) >= (sd - 1) - w->start_ns));
		if (pw.shutdown)
			lsc__w_shutdown_event();
	}
	pw.has_rss_peak_bytes = pw.rss_peak_bytes > 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		pw.has_fd_limit = 1;
		pw.fd_limit = rl.rlim_cur > UINT32_MAX ? UINT32_MAX : (uint32_t)rl.rlim_cur;
	}
	r.body_case = LOOPSCOPE__RECORD__BODY_WINDOW;
	r.window = &pw;
	lsc__w_put(&r);
}

/* A Mapping record, once per start address. */
static void put_mapping(uint64_t start, uint64_t end, uint64_t off, const char *path,
			const uint8_t *bid, size_t bid_len)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Mapping m = LOOPSCOPE__MAPPING__INIT;
	size_t k;

	for (k = 0; k < W.nmapped && W.mapped[k] != start; k++)
		;
	if (k < W.nmapped || W.nmapped == MAX_MAPPINGS)
		return;
	W.mapped[W.nmapped++] = start;
	m.has_id = m.has_start = m.has_end = m.has_file_offset = 1;
	m.id = (uint32_t)W.nmapped;
	m.start = start;
	m.end = end;
	m.file_offset = off;
	m.path = (char *)path;
	if (bid) {
		m.has_build_id = 1;
		m.build_id.data = (uint8_t *)bid;
		m.build_id.len = bid_len;
	}
	r.body_case = LOOPSCOPE__RECORD__BODY_MAPPING;
	r.mapping = &m;
	lsc__w_put(&r);
}

/* One Mapping per executable segment of every loaded object, with its build-id. */
int lsc__w_map_one(struct dl_phdr_info *info, size_t size, void *arg)
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
	if (bid && bid_len <= sizeof(W.known[0].bid) && strlen(path) < sizeof(W.known[0].path) &&
	    W.nknown < sizeof(W.known) / sizeof(W.known[0])) {
		size_t k;

		for (k = 0; k < W.nknown && strcmp(W.known[k].path, path); k++)
			;
		if (k == W.nknown) {
			strcpy(W.known[k].path, path);
			memcpy(W.known[k].bid, bid, bid_len);
			W.known[k].bid_len = bid_len;
			W.nknown++;
		}
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t start, page = 4096;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		put_mapping(start, info->dlpi_addr + ph->p_vaddr + ph->p_memsz,
			    ph->p_offset & ~(page - 1), path, bid, bid_len);
	}
	return 0;
}

/* A line of /proc/self/maps: "start-end perms offset dev inode path". */
static void maps_line(char *l)
{
	uint64_t start, end, off;
	char *p = l, *path;
	size_t k;

	start = strtoull(p, &p, 16);
	if (*p++ != '-')
		return;
	end = strtoull(p, &p, 16);
	if (*p++ != ' ' || strlen(p) < 5 || p[2] != 'x')
		return;
	p += 5;
	off = strtoull(p, &p, 16);
	path = strchr(p, '/');
	if (!path || start >= end)
		return;
	for (k = 0; k < W.nknown && strcmp(W.known[k].path, path); k++)
		;
	if (k < W.nknown)
		put_mapping(start, end, off, path, W.known[k].bid, W.known[k].bid_len);
	else
		put_mapping(start, end, off, path, NULL, 0);
}

/*
 * Executable file mappings the dynamic linker does not list: a file mapped again elsewhere (V8
 * maps node's embedded builtins next to the code it generates, "short builtin calls" on x64, by
 * mapping the node file a second time) or code a program mmaps from a file. From
 * /proc/self/maps, after the loader's; a file the loader listed lends its build-id.
 */
void lsc__w_file_maps(void)
{
	static char buf[65536];
	size_t have = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *l, *nl;

		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		for (l = buf; (nl = strchr(l, '\n')); l = nl + 1) {
			*nl = 0;
			maps_line(l);
		}
		have -= (size_t)(l - buf);
		memmove(buf, l, have);
		if (have == sizeof(buf) - 1)
			have = 0; /* a line longer than the buffer: dropped */
	}
	close(fd);
}
