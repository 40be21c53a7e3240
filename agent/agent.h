/*
 * agent.h — the LD_PRELOAD agent's core, shared by its files and its unit tests: configuration,
 * per-thread event rings, per-loop accounting (ELU, busy segments, simulated timer lag, windows),
 * and the writer thread's entry points.
 *
 * Threads: a loop's accounting belongs to the thread that polls its epoll fd; a ring has one
 * producer (its thread, including that thread's signal handlers) and one consumer (the writer
 * thread). Nothing here allocates from libc, takes a lock or uses stdio on those paths.
 */
#ifndef LSC_AGENT_H
#define LSC_AGENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lsc_hist.h"

#define LSC_AGENT_MAX_LOOPS	32
#define LSC_AGENT_MAX_FRAMES	64
#define LSC_AGENT_HANDLE_TYPES	20 /* > UV_HANDLE_TYPE_MAX of libuv 1.44-1.46 */
#define LSC_AGENT_LAG_PERIOD_NS 1000000ULL

enum { LOOP_OWNED = 0, LOOP_PARKED = 1, LOOP_CLAIMED = 2 };
/* A loop's slot (struct lsc_loop.life): its thread polls it; its thread exited and its last
 * window waits for the writer; free for the next loop (a Worker comes, another goes); being
 * taken. Slots are never unmapped: the writer and the --wall sampler may still read one. */
enum { LOOP_LIVE = 0, LOOP_RETIRING = 1, LOOP_FREE = 2, LOOP_TAKING = 3 };

enum lsc_heap_mode { LSC_HEAP_OFF = 0, LSC_HEAP_SAMPLED = 1, LSC_HEAP_FULL = 2 };

struct lsc_agent_config {
	char output[4096];
	uint64_t window_ns;	     /* LOOPSCOPE_WINDOW_MS, default 1000 */
	uint64_t block_threshold_ns; /* LOOPSCOPE_BLOCK_THRESHOLD_MS, default 1 (0 allowed) */
	uint64_t busy_threshold_ns;  /* LOOPSCOPE_BUSY_THRESHOLD_MS, default 10 */
	unsigned cpu_hz;	     /* LOOPSCOPE_CPU_HZ, default 99; 0 off */
	int heap_mode;		     /* LOOPSCOPE_HEAP: off | sampled | full */
	uint64_t sample_interval;    /* LOOPSCOPE_SAMPLE_INTERVAL bytes, default 512 KiB */
	uint64_t js_heap_interval;   /* LOOPSCOPE_JS_HEAP_INTERVAL bytes, default 256 KiB; 0 off */
	int follow_children;	     /* LOOPSCOPE_FOLLOW_CHILDREN: 1 all, 2 ("node") Node's */
	int wall;		     /* LOOPSCOPE_WALL=1: off-CPU samples of loop threads */
};

/* Parses LOOPSCOPE_* from an environment lookup function (getenv in the agent). Returns 0, or
 * -EINVAL with *bad naming the variable that is wrong. */
int lsc_agent_config_parse(struct lsc_agent_config *c, const char *(*get)(const char *),
			   const char **bad);

/* ------------------------------------------------------------------ rings */

enum lsc_ev_type {
	LSC_EV_BLOCKING = 1,	/* struct lsc_ev_blocking + frames */
	LSC_EV_CPU = 2,		/* struct lsc_ev_cpu + frames */
	LSC_EV_BUSY = 3,	/* struct lsc_ev_busy: a long busy segment */
	LSC_EV_GC = 4,		/* struct lsc_ev_gc + type table */
	LSC_EV_CRASH = 5,	/* struct lsc_ev_crash + frames */
	LSC_EV_OWNER = 6,	/* uint32_t tid: the records that follow are this thread's */
	LSC_EV_WALL = 7,	/* struct lsc_ev_wall + frames: time a loop thread spent off CPU */
	LSC_EV_POOL_SUBMIT = 8, /* struct lsc_ev_pool_submit + frames: a job for the pool */
	LSC_EV_POOL_PICKUP = 9, /* struct lsc_ev_pool_pickup: a worker took a job */
	LSC_EV_JSNODE = 11,	/* struct lsc_ev_jsnode + name + script: V8's allocation profile */
	LSC_EV_JSHEAP_END = 12, /* struct lsc_ev_jsheap_end: one reading of it is complete */
	LSC_EV_RESOURCES = 13,	/* struct lsc_ev_resources + "Type=count;...": Node's own list */
	LSC_EV_THREAD = 14,	/* struct lsc_ev_thread + script: what this loop thread is */
};

/* A loop thread's role, found at its first polls (preload.c, node.c): a Thread record. */
struct lsc_ev_thread {
	uint32_t role;		 /* LOOPSCOPE__THREAD_ROLE__* */
	uint32_t worker_id;	 /* Node.js Worker: its threadId; 0: none or unknown */
	uint32_t scriptlen, pad; /* the script follows */
};

/* Node.js's process.getActiveResourcesInfo(), counted by type (node_resources.c). */
struct lsc_ev_resources {
	uint64_t t_ns, took_ns;
	uint32_t len, pad; /* the text follows */
};

/* A node of V8's sampling heap profile (a JS stack that allocated objects still live). */
struct lsc_ev_jsnode {
	uint64_t bytes, count;	     /* live there, V8's estimates from its samples */
	uint32_t node_id, parent_id; /* V8's, never reused; parent 0: under the root */
	uint32_t line, column;	     /* of the function, 1-based; 0: none */
	uint16_t namelen, scriptlen; /* the name and script follow (a node new to the writer) */
	uint32_t reading;	     /* the reading it belongs to (one that lost its end is void) */
};

struct lsc_ev_jsheap_end {
	uint64_t t_ns, took_ns; /* when, and how long the loop thread spent reading */
	uint32_t nodes, ok;	/* ok 0: a node did not fit in the ring; the reading is void */
	uint32_t reading, pad;
};

struct lsc_ev_pool_submit {
	uint64_t t_ns;
	uint32_t depth;	 /* jobs waiting, this one included */
	uint32_t weight; /* submissions this stack stands for (0: no stack taken) */
	uint32_t nframes;
	uint32_t aux; /* as lsc_ev_blocking's */
};

struct lsc_ev_pool_pickup {
	uint64_t t_ns;
	uint64_t wait_ns; /* UINT64_MAX: not known (submitted before the agent saw it) */
	uint32_t busy, threads;
};

struct lsc_ev_blocking {
	uint64_t t_ns; /* start, since the agent started */
	uint64_t duration_ns;
	int64_t result;
	uint32_t call; /* index into lsc_agent_call_names */
	uint32_t nframes;
	uint32_t calls;	   /* the calls it stands for: 1, or short ones summed (blocking.c) */
	uint32_t switches; /* the scheduler's, during the call (sched_known) */
	uint64_t run_queue_ns, on_cpu_ns;
	uint32_t sched_known;
	uint32_t aux; /* Node.js: 2 * nframes more words follow the frames (agent/node_frames.c) */
};

struct lsc_ev_cpu {
	uint64_t t_ns;
	uint32_t nframes;
	uint32_t loop; /* taken on a loop thread (its busy stretches share its samples) */
	uint32_t aux;  /* as lsc_ev_blocking's */
	uint32_t pad;
};

struct lsc_ev_wall {
	uint64_t t_ns, offcpu_ns;
	uint32_t tid, nframes;
	uint32_t aux, pad; /* as lsc_ev_blocking's */
};

struct lsc_ev_busy {
	uint64_t start_ns;
	uint64_t duration_ns;
	uint64_t run_queue_ns; /* of it, runnable but not running (sched_known) */
	uint32_t sched_known, pad;
	uint64_t on_cpu_ns; /* of it, running (sched_known); the rest it slept */
};

struct lsc_ev_gc_type {
	char name[48];
	uint64_t count, bytes;
};

struct lsc_ev_gc {
	uint64_t t_ns, pause_ns, before, after;
	uint32_t kind, ntypes; /* followed by ntypes struct lsc_ev_gc_type */
};

struct lsc_ev_crash {
	uint64_t t_ns, fault_addr;
	int32_t signal;
	uint32_t nframes;
};

struct lsc_ring {
	_Atomic uint64_t head; /* bytes ever written (producer) */
	_Atomic uint64_t tail; /* bytes ever consumed (writer) */
	_Atomic uint64_t dropped;
	_Atomic int in_use; /* 0: its thread exited; the next new thread takes it over */
	_Atomic uint32_t tid;
	int is_loop;
	struct lsc_ring *next; /* the registry, newest first; never unlinked */
	size_t cap;	       /* a power of two */
	uint8_t data[];
};

/* A ring of cap bytes (power of two) in mmap'd memory; NULL when mmap fails. */
struct lsc_ring *lsc_ring_new(size_t cap);
/* Appends one record of two parts; 0, or -1 when it does not fit (counted in dropped). */
int lsc_ring_push(struct lsc_ring *r, uint16_t type, const void *a, size_t alen, const void *b,
		  size_t blen);
/* Whether a record of len bytes fits now (the producer's view: the writer only makes room). */
int lsc_ring_fits(struct lsc_ring *r, size_t len);
/* Takes the next record into buf; returns its length, 0 when empty. *type set. */
size_t lsc_ring_pop(struct lsc_ring *r, uint16_t *type, void *buf, size_t cap);

/* ------------------------------------------------------------------ loops */

struct lsc_window {
	uint64_t start_ns, end_ns, idle_ns, iterations;
	uint32_t active_handles, active_reqs, handles_known;
	uint32_t handles[LSC_AGENT_HANDLE_TYPES];
	uint64_t write_queued, write_queued_max; /* the streams' write queues, at the end */
	uint32_t alive[LSC_AGENT_HANDLE_TYPES];	 /* active and referenced: they keep it alive */
	struct lsc_hist busy, lag;
};

struct lsc_loop {
	int epfd;
	uint32_t tid;
	int shutdown_split;	/* its window was closed at the first poll after the drain began */
	uint64_t idle_total_ns; /* every wait in epoll so far (blocking.c subtracts it) */
	void *uv_loop;		/* the uv_loop_t polling epfd, when it is libuv's default loop */
	/* the poll in progress: idle counted up to enter_ns; when it began, and its timeout */
	uint64_t enter_ns, wait_start_ns;
	int in_poll, wait_timeout_ms;
	/* Who may touch the windows: LOOP_OWNED (the loop thread, between polls), LOOP_PARKED (in
	 * epoll: the writer may claim it), LOOP_CLAIMED (the writer is closing a window). */
	_Atomic int owner;
	int after_empty_check; /* the last poll had timeout 0 and found nothing */
	/* busy segments: from the return of a poll that waited to the next that will wait */
	uint64_t busy_start_ns;
	/* the simulated 1 ms repeating timer (monitorEventLoopDelay) */
	uint64_t next_due_ns, last_fire_ns;
	uint64_t handles_ns; /* when the loop thread last counted its handles */
	/* windows: the loop thread fills win[cur]; the writer takes win[!cur] when ready */
	struct lsc_window win[2];
	_Atomic int ready[2];
	int cur;
	_Atomic uint64_t merged; /* windows folded into the next one (the writer was late) */
	/* --wall: off-CPU ns the sampler measured and hands to the loop thread's signal handler,
	 * and the stack of the loop's wait, taken at its first poll, for time spent in epoll */
	_Atomic uint64_t wall_pending;
	uint32_t npoll_frames;
	uint64_t poll_frames[LSC_AGENT_MAX_FRAMES];
	_Atomic int life; /* LOOP_LIVE ...; last: lsc_loop_init leaves it alone */
};

void lsc_loop_init(struct lsc_loop *L, int epfd, uint32_t tid, uint64_t now_ns);
/* A poll begins at t; timeout as passed to epoll (0: a non-blocking check). Returns the length
 * of the busy segment this ends (0 for the wait that follows an empty check at once). */
uint64_t lsc_loop_poll_enter(struct lsc_loop *L, uint64_t t, int timeout);
/* It returned at t with nevents events (negative: an error). */
void lsc_loop_poll_exit(struct lsc_loop *L, uint64_t t, int timeout, int nevents);
/* At a poll boundary: closes the current window when it has run window_ns, handing it to the
 * writer. Returns 1 when a window was closed. */
int lsc_loop_maybe_close_window(struct lsc_loop *L, uint64_t t, uint64_t window_ns);
/* The handle counts of from (the loop's last) into to. */
void lsc_loop_carry_handles(struct lsc_window *to, const struct lsc_window *from);
/* The writer's side for a loop parked in epoll: when the current window has run window_ns by t,
 * claims the loop, counts the wait so far as idle, closes the window, and parks it again.
 * Returns 1 when a window was closed. A loop that is not parked is left alone. */
int lsc_loop_close_parked(struct lsc_loop *L, uint64_t t, uint64_t window_ns);
/* The writer's side: the index of a ready window or -1; release it when done. */
int lsc_loop_take_window(struct lsc_loop *L);
void lsc_loop_release_window(struct lsc_loop *L, int i);

/* ------------------------------------------------------------------ the native heap */

/* One allocation site: a distinct stack. Counts are in thousandths, so that the weighted
 * estimates of --heap sampled and the exact counts of --heap full share the counters. */
struct lsc_heap_site {
	/* live = alloc - freed: two atomic adds per allocation, two per free */
	_Atomic uint64_t alloc_bytes, alloc_milli, freed_bytes, freed_milli, temp_milli;
	_Atomic uint32_t ready; /* hash, frames filled in */
	uint32_t nframes;
	uint64_t hash, frames_off;
	uint32_t aux; /* the frames are nframes / 3 addresses, then two words each (Node.js: the
			 JS frames' functions, node_frames.c) */
	/* The writer's own: the recording's stack id, and what the last snapshot said. */
	uint32_t rec_id;
	int64_t w_live_bytes, w_live_milli;
	uint64_t w_alloc_bytes, w_alloc_milli, w_temp_milli;
};

struct lsc_heap_sites {
	struct lsc_heap_site *site;   /* [cap]; 0 is "no stack", 1 "the table was full" */
	_Atomic uint32_t *index;      /* [2 * cap] site numbers by hash of the frames */
	size_t index_chunk;	      /* a 64th of it, in bytes (0: made ours at once) */
	_Atomic uint64_t index_ready; /* the 64ths made the process's own (heap_sites.c) */
	uint64_t *frames;
	_Atomic uint64_t frames_used;
	uint64_t frames_cap;
	_Atomic uint32_t n; /* sites handed out, may run past cap */
	uint32_t cap;	    /* a power of two */
	_Atomic uint64_t dropped;
};

/* Zeroed memory from mmap, reserved lazily (MAP_NORESERVE); NULL when mmap fails. */
void *lsc_map_zeroed(size_t bytes);

/* The same with every page the process's own from the start: for a table filled at random
 * places. In lazily reserved memory, a slot's first read maps the kernel's shared zero page and
 * the write that follows copies it, which interrupts every other CPU the process runs on (a TLB
 * shootdown): a 12 MiB table filled with 10,000 functions at Node's start-up cost 3,000 of
 * those, 3 % of the start-up. Such tables start small and grow (the caller rehashes). */
void *lsc_map_table(size_t bytes);
void lsc_unmap(void *p, size_t bytes);

int lsc_heap_sites_init(struct lsc_heap_sites *t, uint32_t cap, uint64_t frames_cap);
/* The site of this stack (leaf first), made on first sight; 1 when the table is full. */
uint32_t lsc_heap_site(struct lsc_heap_sites *t, const uint64_t *f, uint32_t n);
/* The same for n words that are n / 3 frames and then two words per frame (aux: 1). */
uint32_t lsc_heap_site_aux(struct lsc_heap_sites *t, const uint64_t *f, uint32_t n, int aux);
void lsc_heap_count_alloc(struct lsc_heap_sites *t, uint32_t s, uint64_t bytes, uint64_t milli);
/* temporary: freed before its thread allocated anything else (heaptrack's definition). */
void lsc_heap_count_free(struct lsc_heap_sites *t, uint32_t s, uint64_t bytes, uint64_t milli,
			 int temporary);

/* The live sampled allocations of --heap sampled. */
struct lsc_heap_sample {
	_Atomic uint64_t ptr; /* 0 empty, 1 removed */
	uint32_t site;
	uint64_t bytes, milli; /* what this sample stands for */
};

struct lsc_heap_samples {
	struct lsc_heap_sample *slot;
	_Atomic uint8_t *filter; /* samples per hash cell: 0 means "certainly not sampled" */
	uint32_t mask, fmask;
	_Atomic uint64_t dropped;
};

int lsc_heap_samples_init(struct lsc_heap_samples *s, uint32_t slots, uint32_t filter);
/* The filter's cell for p's page: how many live samples hash there (255 sticks). */
static inline _Atomic uint8_t *lsc_heap_samples_cell(const struct lsc_heap_samples *s, uintptr_t p)
{
	return &s->filter[(p >> 12) & s->fmask];
}
/* 1 when p is certainly not a sample: no sample lives in its page (one byte read). */
static inline int lsc_heap_samples_none(const struct lsc_heap_samples *s, uintptr_t p)
{
	return s->filter &&
	       !atomic_load_explicit(lsc_heap_samples_cell(s, p), memory_order_relaxed);
}
/* Remembers a sampled pointer; -1 when its neighbourhood of the table is full (dropped). */
int lsc_heap_samples_put(struct lsc_heap_samples *s, uintptr_t p, uint32_t site, uint64_t bytes,
			 uint64_t milli);
/* Forgets p and returns 1 with what it stood for, or returns 0 when p was not sampled. */
int lsc_heap_samples_take(struct lsc_heap_samples *s, uintptr_t p, uint32_t *site, uint64_t *bytes,
			  uint64_t *milli);

uint64_t lsc_heap_rand(uint64_t *state);
/* Bytes to the next sample point: an Exp(interval) draw, at least 1. */
int64_t lsc_heap_next_gap(uint64_t *state, uint64_t interval);
/* What a sampled allocation of size bytes stands for: bytes, and thousandths of allocations. */
void lsc_heap_weight(uint64_t size, uint64_t interval, uint64_t *bytes, uint64_t *milli);

/* ------------------------------------------------------------------ the agent */

/* The calls the agent times on loop threads; names in lsc_agent_call_names. */
enum lsc_call {
	CALL_READ,
	CALL_PREAD,
	CALL_READV,
	CALL_PREADV,
	CALL_WRITE,
	CALL_PWRITE,
	CALL_WRITEV,
	CALL_OPEN,
	CALL_OPENAT,
	CALL_FSYNC,
	CALL_FDATASYNC,
	CALL_STAT,
	CALL_LSTAT,
	CALL_FSTAT,
	CALL_STATX,
	CALL_NANOSLEEP,
	CALL_USLEEP,
	CALL_SLEEP,
	CALL_GETADDRINFO,
	CALL_CONNECT,
	CALL_FLOCK,
	CALL_FCNTL_LOCK,
	CALL_WAITPID,
	CALL_SYSTEM,
	CALL_BUSY, /* not a call: a busy segment over the threshold */
};
extern const char *const lsc_agent_call_names[];

/* State shared by the interposition layer (preload.c) and the writer thread (writer.c). */
struct lsc_agent_state {
	_Atomic int active; /* capturing */
	struct lsc_agent_config cfg;
	int fd;	     /* the recording, O_APPEND */
	int wake_fd; /* eventfd: wakes the writer */
	uint64_t t0; /* CLOCK_MONOTONIC ns at start; event times are relative to it */
	int pid;
	struct lsc_loop *_Atomic loops[LSC_AGENT_MAX_LOOPS];
	struct lsc_ring *_Atomic rings; /* every thread's ring, newest first */
	_Atomic int stop;		/* the writer's last drain: then a footer, then it ends */
	_Atomic int flush_req;		/* drain now (a crash is waiting for it) */
	_Atomic uint64_t flushes;	/* drains completed */
	_Atomic uint64_t js_pushed;	/* stacks with JS frames to name, pushed (lsc__push_js) */
	_Atomic uint64_t js_drained;	/* of them, drained and named by the writer */
	_Atomic int writer_done;
	_Atomic uint64_t dropped_events; /* pushed to no ring (none could be made) */
	_Atomic int exec_hold;	  /* an exec is under way: the --wall sampler sends nothing */
	_Atomic int wall_sending; /* the --wall sampler is between its check and its tgkill */
	_Atomic int writer_hold;  /* the writer parks after its next flush (exec) */
	_Atomic int writer_parked;
	/* A SIGTERM, SIGINT or SIGHUP reached a program that handles it, or it closed its last
	 * listening socket: from then on it drains (ns since t0, plus 1; 0: not yet). Windows
	 * that end after it are marked shutdown; the writer writes a shutdown event once. */
	_Atomic uint64_t shutdown_ns;
	_Atomic int shutdown_why; /* the signal; LSC_SHUTDOWN_CLOSED: the last listener closed */
	_Atomic int listeners;	  /* listening sockets open (listeners.c) */
};
#define LSC_SHUTDOWN_CLOSED (-1)

/* The program is asked to stop, or stops serving (why: a signal, LSC_SHUTDOWN_CLOSED). Once. */
void lsc__shutdown_begins(int why);
extern struct lsc_agent_state lsc__A;

uint64_t lsc__now_ns(void); /* CLOCK_MONOTONIC: async-signal-safe (vDSO) */
/* Maps the writer's memory; its cycles run inline until lsc__writer_spawn. */
int lsc__writer_start(void);
/* The program polls a loop or starts a second thread: the writer's cycles move to a thread of
 * their own (once; a no-op after). */
void lsc__writer_spawn(void);
/* Drains, writes a footer, ends the writer thread; returns when it did (or after limit_ms). */
void lsc__writer_stop(unsigned limit_ms);
/* From a signal handler: asks for a drain and waits for it, at most limit_ms. */
void lsc__writer_flush_wait(unsigned limit_ms);
/* Before an exec: a drain, then the writer parks (not inside a write the exec would cut);
 * returns when it did (or after limit_ms). Release lets it go on (the exec failed). */
void lsc__writer_hold(unsigned limit_ms);
void lsc__writer_release(void);
/* In a forked child: there is no writer thread here. */
void lsc__writer_after_fork(void);

#endif
