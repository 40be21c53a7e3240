/*
 * preload.c — the agent's interposition layer, loaded with LD_PRELOAD into someone else's
 * process: epoll (loop accounting), SIGPROF (CPU stacks), fork, the refloop observer, and the
 * agent's start and end. The calls that block a loop thread are in blocking.c, the program's
 * signals and exec in signals.c, the malloc family in heap.c. Everything it learns goes into
 * per-thread rings for the writer thread (writer.c); the computation lives in loop.c and ring.c.
 *
 * Safety rules (agent/README.md): on every path reachable from an interposed function or a signal
 * handler, no libc allocation, no stdio, no lock a signal handler could hold; an initial-exec TLS
 * guard against re-entry; errno preserved. The agent never aborts its host: when something fails
 * it stops capturing and counts what it dropped.
 */
#include "lsc_recording.h"
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "refloop.h"

struct lsc_agent_state lsc__A = {.fd = -1, .wake_fd = -1};
#define A lsc__A

__thread struct tls lsc__T __attribute__((tls_model("initial-exec")));
#define T lsc__T

const char *const lsc_agent_call_names[] = {
	"read",	       "pread",	  "readv",  "preadv",	       "write",	    "pwrite",
	"writev",      "open",	  "openat", "fsync",	       "fdatasync", "stat",
	"lstat",       "fstat",	  "statx",  "nanosleep",       "usleep",    "sleep",
	"getaddrinfo", "connect", "flock",  "fcntl(F_SETLKW)", "waitpid",   "system",
	"(busy loop)",
};

void lsc__mark_writer_thread(void)
{
	T.is_writer = 1;
}

uint64_t lsc__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rel_now(void)
{
	return lsc__now_ns() - A.t0;
}

static uint32_t gettid_cached(void)
{
	if (!T.tid)
		T.tid = (uint32_t)syscall(SYS_gettid);
	return T.tid;
}

uint32_t lsc__gettid(void)
{
	return gettid_cached();
}

/*
 * A thread's ring, made on its first event (also from a signal handler: mmap and an atomic push
 * are all it takes). Rings of exited threads are handed to new threads, so a program that churns
 * through threads does not pile up rings: the thread-exit destructor of ring_key frees a ring.
 */
static pthread_key_t ring_key;
static int ring_key_ok;

static void close_final_window(struct lsc_loop *L, int walk);

/* The thread exits (a Worker ends): its loop's last window goes to the writer, which frees
 * the slot for a loop to come; then its ring is free for another thread. */
static void ring_release(void *ring)
{
	struct lsc_loop *L = T.loop;

	if (L && L->tid == T.tid && atomic_load(&L->life) == LOOP_LIVE && !L->in_poll) {
		T.in_agent = 1;
		close_final_window(L, 0); /* the thread's frames are gone: its handles may be too */
		atomic_store(&L->life, LOOP_RETIRING);
		T.loop = NULL;
		T.in_agent = 0;
	}
	lsc__blocking_thread_exit();
	atomic_store_explicit(&((struct lsc_ring *)ring)->in_use, 0, memory_order_release);
}

static struct lsc_ring *my_ring(void)
{
	/* The main thread's takes a reading of V8's heap profile (Node.js: thousands of nodes at
	 * once, node_heap.c) without waiting for the writer. */
	size_t cap = gettid_cached() == (uint32_t)A.pid ? (4u << 20)
		     : T.loop				? (1u << 20)
							: (256u << 10);
	struct lsc_ring *r = T.ring, *head;

	if (r)
		return r;
	for (r = atomic_load(&A.rings); r; r = r->next) {
		int free_ring = 0;

		if (r->cap == cap && atomic_compare_exchange_strong(&r->in_use, &free_ring, 1))
			break;
	}
	if (!r) {
		r = lsc_ring_new(cap);
		if (!r)
			return NULL;
		atomic_store(&r->in_use, 1);
		head = atomic_load(&A.rings);
		do
			r->next = head;
		while (!atomic_compare_exchange_weak(&A.rings, &head, r));
	}
	atomic_store(&r->tid, gettid_cached());
	r->is_loop = T.loop != NULL; /* a ring another thread used is this one's now */
	/* In the ring's own order: what follows is this thread's (the writer may still be draining
	 * an exited thread's records from it). */
	lsc_ring_push(r, LSC_EV_OWNER, &T.tid, sizeof(T.tid), NULL, 0);
	/* Keys below 32 live in the thread descriptor: setting one never allocates. */
	if (ring_key_ok)
		pthread_setspecific(ring_key, r);
	T.ring = r;
	return r;
}

static void push(uint16_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	struct lsc_ring *r = my_ring();

	if (!r) { /* no ring could be made; a full ring counts its own drops */
		atomic_fetch_add_explicit(&A.dropped_events, 1, memory_order_relaxed);
		return;
	}
	lsc_ring_push(r, type, a, alen, b, blen);
}

void lsc__push(uint16_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	push(type, a, alen, b, blen);
}

static int wake_writer(void);

int lsc__push_wait(uint16_t type, const void *a, size_t alen, const void *b, size_t blen,
		   unsigned limit_ms)
{
	struct timespec step = {0, 1000000};
	struct lsc_ring *r = my_ring();
	unsigned waited = 0;

	if (!r)
		return -1;
	while (!lsc_ring_fits(r, alen + blen) && waited++ < limit_ms) {
		wake_writer();
		nanosleep(&step, NULL);
	}
	return lsc_ring_push(r, type, a, alen, b, blen);
}

static int wake_writer(void)
{
	uint64_t one = 1;

	return A.wake_fd >= 0 ? (int)write(A.wake_fd, &one, sizeof(one)) : -1;
}

/* Node.js: a stack whose JS frames the writer names from V8's heap (node_names.c). That heap
 * changes (a compaction moves an SFI: the frame stays unnamed) and is gone once Node disposes
 * its isolate at the exit: the writer is woken within 10 ms of such a stack rather than at its
 * next window. */
void lsc__push_js(uint16_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	static _Atomic uint64_t last;
	uint64_t now, then;

	push(type, a, alen, b, blen);
	atomic_fetch_add_explicit(&A.js_pushed, 1, memory_order_relaxed);
	now = lsc__now_ns();
	then = atomic_load_explicit(&last, memory_order_relaxed);
	if (now - then >= 10000000ULL &&
	    atomic_compare_exchange_strong_explicit(&last, &then, now, memory_order_relaxed,
						    memory_order_relaxed))
		wake_writer();
}

/* ------------------------------------------------------------------ real functions */

DECLARE_REAL(int, epoll_pwait, int, struct epoll_event *, int, int, const sigset_t *);
DECLARE_REAL(int, epoll_pwait2, int, struct epoll_event *, int, const struct timespec *,
	     const sigset_t *);

/* ------------------------------------------------------------------ loops */

/*
 * libuv's default loop, when epfd is its epoll instance; never made here. uv_default_loop()
 * makes the loop when it does not exist yet, on the calling thread: at the first poll of
 * Node's platform thread, which comes before Node's main thread makes the loop, it made the
 * loop there, and now and then at the very moment the main thread made it too (two
 * uv_loop_init of one loop at once leave its signal watcher linked to itself in the watcher
 * queue, and uv__io_poll spinning in epoll_ctl for good). So libuv's own pointer is read,
 * found in the executable's symbol table with the pool's statics (pool.c): NULL, the loop does
 * not exist yet and this one is not it. Without the symbol table (stripped, or libuv shared)
 * no loop is the default one: no handle counts, rather than a call that may make it.
 */
static uv_loop_t *default_loop_of(int epfd)
{
	uv_loop_t *uv;

	if (!lsc__uv_default_loop_ptr)
		return NULL;
	uv = __atomic_load_n((uv_loop_t *const *)lsc__uv_default_loop_ptr, __ATOMIC_ACQUIRE);
	return uv && uv->backend_fd == epfd ? uv : NULL;
}

static void snapshot_handles(struct lsc_loop *L, struct lsc_window *w);

/* On the loop's own thread, between polls: the window so far goes to the writer, ending at the
 * loop's last poll return. If the writer still holds the previous window, wait for it (briefly:
 * a window is never merged into oblivion at the end). walk: the loop's handles may be counted
 * now (the program runs on). Not after main() returned or the thread's function did: a handle
 * in their frames is now stack that exit(), its handlers or a TLS destructor write over, and
 * the handle queue runs through it (libuv's hello-world keeps its handles in main's frame). The
 * window then has what the loop counted at its polls. */
static void close_final_window(struct lsc_loop *L, int walk)
{
	struct timespec step = {0, 2000000};
	uint64_t t = L->busy_start_ns > L->win[L->cur].start_ns ? L->busy_start_ns : rel_now();
	int tries;

	if (L->in_poll || t <= L->win[L->cur].start_ns)
		return;
	/* A sliver after the last full window, with no iteration in it, says nothing about the
	 * loop (and would read as a window of ELU 1). */
	if (!L->win[L->cur].iterations && t - L->win[L->cur].start_ns < A.cfg.window_ns / 10)
		return;
	if (walk)
		snapshot_handles(L, &L->win[L->cur]);
	else if (!L->win[L->cur].handles_known)
		lsc_loop_carry_handles(&L->win[L->cur], &L->win[!L->cur]);
	for (tries = 0; tries < 100; tries++) {
		if (atomic_load(&L->ready[!L->cur]) == 0) {
			lsc_loop_maybe_close_window(L, t, 0);
			wake_writer();
			return;
		}
		wake_writer();
		nanosleep(&step, NULL);
	}
}

static struct lsc_loop *loop_for(int epfd)
{
	struct lsc_loop *L;
	int i;

	if (T.loop && T.loop->epfd == epfd)
		return T.loop;
	for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
		L = atomic_load(&A.loops[i]);
		if (L && L->epfd == epfd && L->tid == gettid_cached() &&
		    atomic_load(&L->life) == LOOP_LIVE)
			return T.loop = L;
	}
	/* This thread now polls another epoll fd (Node does at exit): its last loop's window ends
	 * where that loop was last seen. */
	if (T.loop)
		close_final_window(T.loop, 1);
	/* A new loop: this thread polls it. A slot an exited thread's loop freed, or memory
	 * (two windows of histograms) from mmap. */
	for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
		int free_slot = LOOP_FREE;

		L = atomic_load(&A.loops[i]);
		if (L && atomic_compare_exchange_strong(&L->life, &free_slot, LOOP_TAKING)) {
			lsc_loop_init(L, epfd, gettid_cached(), rel_now());
			L->uv_loop = default_loop_of(epfd);
			atomic_store(&L->life, LOOP_LIVE);
			return T.loop = L;
		}
	}
	L = mmap(NULL, sizeof(*L), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (L == MAP_FAILED)
		return NULL;
	lsc_loop_init(L, epfd, gettid_cached(), rel_now());
	L->uv_loop = default_loop_of(epfd);
	for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
		struct lsc_loop *expected = NULL;

		if (atomic_compare_exchange_strong(&A.loops[i], &expected, L)) {
			T.loop = L;
			lsc__writer_spawn(); /* windows close once per window: they need the thread
					      */
			return L;
		}
	}
	munmap(L, sizeof(*L));
	return NULL;
}

/* libuv's own view of the loop, read on the loop thread between polls: safe to walk. */
static void snapshot_handles(struct lsc_loop *L, struct lsc_window *w)
{
	uv_loop_t *uv = L->uv_loop;
	void **q, **head;
	unsigned n = 0;
	uint64_t queued = 0, queued_max = 0;

	/* A loop that was closed (uv_loop_close scribbles over it) is not walked, ever again. */
	if (!uv || uv->backend_fd != L->epfd) {
		L->uv_loop = NULL;
		return;
	}
	w->active_handles = uv->active_handles;
	w->active_reqs = uv->active_reqs.count;
	memset(w->handles, 0, sizeof(w->handles));
	memset(w->alive, 0, sizeof(w->alive));
	head = (void **)&uv->handle_queue;
	for (q = head[0]; q != head && n < 1000000; q = q[0], n++) {
		uv_handle_t *h = (uv_handle_t *)((char *)q - offsetof(uv_handle_t, handle_queue));

		if ((unsigned)h->type < LSC_AGENT_HANDLE_TYPES) {
			w->handles[h->type]++;
			/* libuv 1.x's UV_HANDLE_ACTIVE (4) and UV_HANDLE_REF (8), uv-common.h */
			if ((h->flags & 0xc) == 0xc)
				w->alive[h->type]++;
		}
		/* bytes libuv holds for writing on a stream (a slow reader): backpressure */
		if (h->type == UV_TCP || h->type == UV_NAMED_PIPE || h->type == UV_TTY) {
			size_t qs = ((uv_stream_t *)h)->write_queue_size;

			queued += qs;
			if (qs > queued_max)
				queued_max = qs;
		}
	}
	w->write_queued = queued;
	w->write_queued_max = queued_max;
	w->handles_known = 1;
}

static void window_boundary(struct lsc_loop *L, uint64_t t)
{
	struct lsc_window *w = &L->win[L->cur];
	uint64_t sd = atomic_load(&A.shutdown_ns);
	/* the first poll after the program began to stop closes the window, so that the run's
	 * part of it stays the run's and the windows after it are the drain's (records.c) */
	int split = sd && !L->shutdown_split && w->start_ns < sd - 1;

	if (!split && t < w->start_ns + A.cfg.window_ns)
		return;
	snapshot_handles(L, w);
	if (lsc_loop_maybe_close_window(L, t, split ? 0 : A.cfg.window_ns)) {
		L->shutdown_split |= split;
		if (split) /* a window the writer may close while the loop waits: with handles */
			snapshot_handles(L, &L->win[L->cur]);
		wake_writer();
	}
}

/* The program began to stop on this thread, outside a poll (its last listener closed): if it
 * is a loop thread, its window ends here, the run's part apart from the drain's. */
void lsc__shutdown_split_here(void)
{
	struct lsc_loop *L = T.loop;

	if (!L || L->in_poll || L->shutdown_split || T.in_agent)
		return;
	T.in_agent = 1;
	snapshot_handles(L, &L->win[L->cur]);
	if (lsc_loop_maybe_close_window(L, rel_now(), 0)) {
		L->shutdown_split = 1;
		snapshot_handles(
			L, &L->win[L->cur]); /* the new window's, should the writer close it */
		wake_writer();
	}
	T.in_agent = 0;
}

/* What this loop thread is, told once (a Thread record): the main loop, or what node.c finds
 * (a Worker's, Node's platform loop), or another loop. */
static void loop_role(void)
{
	struct lsc_ev_thread ev = {0};
	char script[256] = "";
	int role = LOOPSCOPE__THREAD_ROLE__ROLE_MAIN;

	if (gettid_cached() != (uint32_t)A.pid) {
		role = lsc__node_loop_role(&ev.worker_id, script, (int)sizeof(script));
		if (role < 0)
			return; /* the next poll asks again */
		if (role == 0)
			role = LOOPSCOPE__THREAD_ROLE__ROLE_LOOP;
	}
	T.role_known = 1;
	ev.role = (uint32_t)role;
	ev.scriptlen = (uint32_t)strlen(script);
	lsc__push(LSC_EV_THREAD, &ev, sizeof(ev), script, ev.scriptlen);
}

/* --wall: the stack of this loop's wait, once; idle time off CPU is charged to it. */
static void poll_stack(struct lsc_loop *L)
{
	void *frames[LSC_AGENT_MAX_FRAMES + 8];
	int n = unw_backtrace(frames, LSC_AGENT_MAX_FRAMES + 8), i = 0, k = 0;

	while (i < n && lsc__own_frame((uintptr_t)frames[i]))
		i++;
	for (; i < n && k < LSC_AGENT_MAX_FRAMES; i++)
		L->poll_frames[k++] = (uint64_t)(uintptr_t)frames[i];
	L->npoll_frames = (uint32_t)k;
}

/* Node.js: the main loop's poll with no active handle or request left (what Node's clean-up
 * makes, closing its handles, before it disposes the isolate at a natural exit). The writer
 * names the JS frames of the stacks still waiting now, while V8's heap is there to name them;
 * a live loop never gets here. */
static void js_names_before_teardown(struct lsc_loop *L, int timeout)
{
	uv_loop_t *uv = L->uv_loop;

	if (timeout != 0 || !uv || gettid_cached() != (uint32_t)A.pid || uv->active_handles ||
	    uv->active_reqs.count ||
	    atomic_load(&A.js_pushed) == atomic_load_explicit(&A.js_drained, memory_order_acquire))
		return;
	lsc__writer_flush_wait(50);
}

static struct lsc_loop *poll_begin(int epfd, int timeout, uint64_t *t0)
{
	struct lsc_loop *L;
	uint64_t busy;

	if (!atomic_load_explicit(&A.active, memory_order_relaxed) || T.in_agent || T.is_writer)
		return NULL;
	T.in_agent = 1;
	L = loop_for(epfd);
	/* Node's readings: at the default loop's polls; before a wait, fresher (its state now is
	 * what holds while it waits, and at the exit that may follow) */
	lsc__node_on_poll(gettid_cached(), L && L->uv_loop, timeout != 0);
	if (L && !T.role_known) {
		loop_role();
		lsc__node_frames_thread(); /* its CPU samples' frames read without system calls */
	}
	if (L)
		js_names_before_teardown(L, timeout);
	if (L && A.cfg.wall && !L->npoll_frames)
		poll_stack(L);
	if (L) {
		*t0 = rel_now();
		if (L->uv_loop) /* a listener closed where epoll_ctl did not say (listeners.c) */
			lsc__listeners_check(*t0);
		window_boundary(L, *t0);
		/* About to wait: count the handles (at most ten times a window), so that a window
		 * the writer closes while the loop waits has them too. */
		if (timeout != 0 && *t0 - L->handles_ns >= A.cfg.window_ns / 10) {
			snapshot_handles(L, &L->win[L->cur]);
			L->handles_ns = *t0;
		}
		busy = lsc_loop_poll_enter(L, *t0, timeout);
		if (busy >= A.cfg.busy_threshold_ns) {
			struct lsc_ev_busy ev = {*t0 - busy, busy, 0, 0, 0, 0};

			/* how much of it the thread waited for a CPU (blocking.c) */
			ev.sched_known = lsc__sched_stretch(*t0 - busy, *t0, &ev.run_queue_ns,
							    &ev.on_cpu_ns);

			push(LSC_EV_BUSY, &ev, sizeof(ev), NULL, 0);
		}
	}
	T.in_agent = 0;
	return L;
}

static void poll_end(struct lsc_loop *L, int timeout, int r)
{
	int saved = errno;
	uint64_t t = rel_now();

	T.in_agent = 1;
	lsc_loop_poll_exit(L, t, timeout, r);
	window_boundary(L, t);
	T.in_agent = 0;
	errno = saved;
}

/* Our SIGPROF cut a wait short: wait on for what is left, as libuv would, so that one poll
 * stays one poll. Returns the timeout to wait again with, or -2 for "report no events". */
static int after_prof(int r, uint64_t t0, int timeout)
{
	uint64_t waited;

	if (r >= 0 || errno != EINTR || !T.prof_hit)
		return -3;
	T.prof_hit = 0;
	if (timeout < 0)
		return -1;
	waited = (rel_now() - t0) / 1000000;
	return waited >= (uint64_t)timeout ? -2 : timeout - (int)waited;
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *ss)
{
	struct lsc_loop *L;
	uint64_t t0;
	int r, to = timeout, next;

	RESOLVE(epoll_pwait);
	if (!(L = poll_begin(epfd, timeout, &t0)))
		return REAL(epoll_pwait)(epfd, ev, max, timeout, ss);
	while ((r = REAL(epoll_pwait)(epfd, ev, max, to, ss)) < 0 &&
	       (next = after_prof(r, t0, timeout)) != -3) {
		if (next == -2) {
			r = 0;
			break;
		}
		to = next;
	}
	poll_end(L, timeout, r);
	return r;
}

/* epoll_wait is epoll_pwait without a signal mask, to the kernel as to the accounting. */
EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	return epoll_pwait(epfd, ev, max, timeout, NULL);
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
			const sigset_t *ss)
{
	int timeout = !ts ? -1 : (int)(ts->tv_sec * 1000 + ts->tv_nsec / 1000000);
	struct lsc_loop *L;
	uint64_t t0;
	int r;

	RESOLVE(epoll_pwait2);
	if (!REAL(epoll_pwait2)) {
		errno = ENOSYS;
		return -1;
	}
	if (ts && timeout == 0 && (ts->tv_sec || ts->tv_nsec))
		timeout = 1;
	if (!(L = poll_begin(epfd, timeout, &t0)))
		return REAL(epoll_pwait2)(epfd, ev, max, ts, ss);
	r = REAL(epoll_pwait2)(epfd, ev, max, ts, ss);
	poll_end(L, timeout, r);
	return r;
}

/* ------------------------------------------------------------------ refloop */

static void on_gc_end(void *ctx, const struct rl_gc_info *info)
{
	struct lsc_ev_gc_type types[64];
	struct lsc_ev_gc ev;
	uint32_t i, n = info->ntypes < 64 ? info->ntypes : 64;

	if (T.in_agent || !atomic_load_explicit(&A.active, memory_order_relaxed))
		return;
	T.in_agent = 1;
	for (i = 0; i < n; i++) {
		size_t len = strlen(info->types[i].name);

		if (len >= sizeof(types[i].name))
			len = sizeof(types[i].name) - 1;
		memcpy(types[i].name, info->types[i].name, len);
		types[i].name[len] = 0;
		types[i].count = info->types[i].count;
		types[i].bytes = info->types[i].bytes;
	}
	ev = (struct lsc_ev_gc){info->start_ns - A.t0, info->pause_ns, info->heap_before,
				info->live_after,      5 /* FULL */,   n};
	push(LSC_EV_GC, &ev, sizeof(ev), types, n * sizeof(types[0]));
	T.in_agent = 0;
}

/* ------------------------------------------------------------------ lifecycle */

/* libc's own, past the agent's wrappers (blocking.c) */
DECLARE_REAL(ssize_t, writev, int, const struct iovec *, int);

static void say(const char *a, const char *b)
{
	struct iovec v[3] = {
		{(void *)"loopscope agent: ", 17}, {(void *)a, strlen(a)}, {(void *)b, strlen(b)}};

	RESOLVE(writev);
	REAL(writev)(2, v, 3);
}

static const char *env(const char *name)
{
	return getenv(name);
}

static void child_after_fork(void)
{
	/* The writer thread did not come along. Go quiet: following children is done by their
	 * own exec'd agent (LOOPSCOPE_FOLLOW_CHILDREN), which opens a recording of its own. */
	atomic_store(&A.active, 0);
	A.fd = -1;
	lsc__writer_after_fork();
	lsc__signals_after_fork();
	lsc__blocking_after_fork();
}

static int start(void)
{
	const char *bad = NULL, *target;
	char runtime[128], note[256];
	rl_observer_register_fn reg;
	char path[4200];
	int err;

	err = lsc_agent_config_parse(&A.cfg, env, &bad);
	if (err) {
		if (bad && strcmp(bad, "LOOPSCOPE_OUTPUT") == 0 && !getenv("LOOPSCOPE_OUTPUT"))
			return -1; /* preloaded without configuration: stay out of the way */
		say(bad ? bad : "LOOPSCOPE_*", " is invalid; not recording\n");
		return -1;
	}
	A.pid = getpid();
	/* `loopscope run` names the process it started; a child that exec's gets its own
	 * recording only when children are followed. */
	target = getenv("LOOPSCOPE_TARGET_PID");
	if (!target) {
		/* Preloaded by hand: this process is the one recorded, and its children, which
		 * inherit LOOPSCOPE_OUTPUT, must not append to its file (records of several
		 * processes interleaved in one file are unreadable). Named as `run` names it. */
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)A.pid);
		setenv("LOOPSCOPE_TARGET_PID", pid, 1);
	} else if (atoi(target) != A.pid) {
		/* only Node.js children, unless asked for all: a Node program's shells and tools
		 * (npm's scripts, git) are not what is watched */
		if (!A.cfg.follow_children ||
		    (A.cfg.follow_children == 2 && !dlsym(RTLD_DEFAULT, "node_module_register")))
			return -1;
		snprintf(path, sizeof(path), "%s.%d", A.cfg.output, A.pid);
		if (strlen(path) >= sizeof(A.cfg.output))
			return -1;
		strcpy(A.cfg.output, path);
	}
	A.t0 = lsc__now_ns();
	A.fd = lsc__open_recording(A.cfg.output);
	if (A.fd < 0) {
		say(A.cfg.output, A.fd == -EEXIST ? ": exists and is not this run's (a link, or "
						    "another user's); not recording\n"
						  : ": cannot open the recording; not recording\n");
		A.fd = -1;
		return -1;
	}
	lsc__runtime_and_notes(runtime, sizeof(runtime), note, sizeof(note));
	/* Before any thread of libuv's pool exists: its workers start through pool.c. The same
	 * walk finds the default loop's pointer (no handle counts without it). */
	if (lsc__pool_find() && dlsym(RTLD_DEFAULT, "uv_queue_work") && !note[0])
		snprintf(note, sizeof(note),
			 "libuv's thread pool was not found in the executable's symbol table "
			 "(stripped, or libuv linked as a shared library): no thread-pool data%s",
			 lsc__uv_default_loop_ptr ? "" : ", no handle counts");
	else if (!lsc__uv_default_loop_ptr && dlsym(RTLD_DEFAULT, "uv_default_loop") && !note[0])
		snprintf(note, sizeof(note),
			 "libuv's default loop was not found in the executable's symbol table "
			 "(stripped, or libuv linked as a shared library): no handle counts");
#ifdef LSC_AGENT_NOHEAP
	/* This build has no malloc family (what `run --heap off` preloads): the recording must
	 * not claim heap tracking that a hand-set LOOPSCOPE_HEAP asked for. */
	if (A.cfg.heap_mode != LSC_HEAP_OFF && !note[0])
		snprintf(note, sizeof(note),
			 "LOOPSCOPE_HEAP asked for heap tracking, but this agent "
			 "(libloopscope_agent_noheap.so) has none");
	A.cfg.heap_mode = LSC_HEAP_OFF;
#endif
	if (lsc__write_header(runtime, note[0] ? note : NULL)) {
		say(A.cfg.output, ": cannot write the recording; not recording\n");
		return -1;
	}
	A.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ring_key_ok = pthread_key_create(&ring_key, ring_release) == 0 && ring_key < 32;
	reg = (rl_observer_register_fn)dlsym(RTLD_DEFAULT, "rl_observer_register");
	if (reg) {
		static const struct rl_observer obs = {.version = RL_OBSERVER_VERSION,
						       .gc_end = on_gc_end};

		reg(&obs);
	}
	atomic_store(&A.active, 1);
	lsc__heap_start(A.cfg.heap_mode, A.cfg.sample_interval);
	if (lsc__writer_start()) {
		atomic_store(&A.active, 0);
		say(A.cfg.output, ": cannot start the writer thread; not recording\n");
		return -1;
	}
	lsc__signals_install();
	if (A.cfg.wall && lsc__wall_start())
		say(A.cfg.output, ": cannot start the --wall sampler; no off-CPU samples\n");
	pthread_atfork(NULL, NULL, child_after_fork);
	return 0;
}

__attribute__((constructor)) static void agent_init(void)
{
	T.in_agent = 1;
	lsc__heap_resolve();
	lsc__note_pid();
	RESOLVE(epoll_pwait);
	RESOLVE(epoll_pwait2);
	lsc__pool_resolve();
	if (start())
		lsc__heap_start(LSC_HEAP_OFF, 0); /* not recording: the allocator passes through */
	T.in_agent = 0;
}

__attribute__((destructor)) static void agent_fini(void)
{
	struct itimerval off = {{0, 0}, {0, 0}};
	int i;

	if (!atomic_load(&A.active) || getpid() != A.pid)
		return;
	T.in_agent = 1;
	setitimer(ITIMER_PROF, &off, NULL);
	/* This thread's loops (the main loop, usually) end their last windows where they ended:
	 * at their last poll's return, not now, after the process's own teardown. A program that
	 * was stopping did its last drain work since then (a handler that flushes and exits): that
	 * stretch is a busy event of the drain, with its CPU samples. */
	for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
		struct lsc_loop *L = atomic_load(&A.loops[i]);
		uint64_t now = rel_now();

		if (!L || L->tid != gettid_cached() || atomic_load(&L->life) != LOOP_LIVE)
			continue;
		if (atomic_load(&A.shutdown_ns) && !L->in_poll && now > L->busy_start_ns &&
		    now - L->busy_start_ns >= A.cfg.busy_threshold_ns) {
			struct lsc_ev_busy ev = {
				L->busy_start_ns, now - L->busy_start_ns, 0, 0, 0, 0};

			push(LSC_EV_BUSY, &ev, sizeof(ev), NULL, 0);
		}
		close_final_window(L, 0); /* main() has returned */
	}
	atomic_store(&A.active, 0);
	lsc__writer_stop(5000);
	T.in_agent = 0;
}
