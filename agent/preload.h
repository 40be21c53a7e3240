/*
 * preload.h — what the files of the LD_PRELOAD library (preload.c, heap.c, writer.c) share and
 * the unit-tested core does not need: the per-thread state with its re-entrancy guard, and the
 * heap tracker's entry points.
 */
#ifndef LSC_PRELOAD_H
#define LSC_PRELOAD_H

#include "agent.h"

#include <dlfcn.h>
#include <signal.h>

/* What the library exports: the functions it interposes (agent.map lists them). */
#ifndef EXPORT
#define EXPORT __attribute__((visibility("default")))
#endif

/* The next definition of an interposed function (libc's), looked up once. */
#define REAL(name)		     real_##name
#define DECLARE_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
#define RESOLVE(name)                                                                              \
	do {                                                                                       \
		if (!real_##name)                                                                  \
			real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name);            \
	} while (0)

struct tls {
	int in_agent;	      /* re-entrancy guard: set while the agent runs on this thread */
	uint64_t short_ns;    /* file calls under the threshold since the last one recorded */
	uint32_t short_calls; /* (blocking.c) */
	int sched_fd;	      /* /proc/thread-self/schedstat + 1, once a loop thread's call opened
				 it; -1: cannot be read (blocking.c) */
	unsigned long sched_dev, sched_ino; /* which file that fd is, checked before closing it */
	int in_call;			    /* inside a timed call (blocking.c) */
	struct lsc_sched_snap {		    /* its last readings, a ring (blocking.c) */
		uint64_t cpu_ns, runq_ns, slices; /* the scheduler's figures */
		uint64_t t_ns, idle_ns;		  /* when, and the loop's epoll waits by then */
		int ok;
	} sched[8];
	unsigned sched_next;
	int is_writer;
	struct lsc_loop *loop; /* the loop this thread polls, once it has polled */
	struct lsc_ring *ring;
	uint32_t tid;
	volatile sig_atomic_t prof_hit; /* SIGPROF interrupted this thread */
	/* the heap tracker's */
	int64_t heap_gap;	/* bytes to the next sample point (--heap sampled) */
	uint64_t heap_rng;	/* 0 until this thread's first sample draw */
	const void *last_alloc; /* a free of this is a temporary allocation */
	int64_t last_gap;	/* sampled: heap_gap after last_alloc; moved since: not temporary */
	struct ucache *ucache;	/* --heap full: the stacks this thread unwound (heap.c) */
	uintptr_t stk_lo, stk_hi;  /* this thread's stack, once known (node_frames.c reads its
				      frames there without a system call); stk_hi 1: unknown */
	uint32_t js_gen;	   /* full collections of this thread's isolate (node.c) */
	volatile int js_seen_busy; /* js_seen[] being written (a signal handler leaves it be) */
	struct lsc_js_seen {	   /* node_frames.c: the functions of frames seen since the last */
		uint64_t key;	   /* one: by bytecode (interpreted) or code address */
		uint64_t sfi, print;
		uint32_t gen;
	} js_seen[64];
	int no_ucache;
	/* the thread pool's (pool.c) */
	int pool_worker;	 /* one of libuv's pool threads */
	uint32_t pool_unsampled; /* submissions since this thread's last submission stack */
	uint64_t pool_credit;	 /* ns: the submission stacks' token bucket */
	uint64_t pool_last_ns;
	/* Node.js (node.c): this thread's isolate's GC pause in progress, and what this loop
	 * thread is (0: not yet known; its polls ask until it is) */
	uint64_t gc_start_ns, gc_before;
	int gc_depth;
	int role_known;
	unsigned role_tries, role_waits;
};
extern __thread struct tls lsc__T __attribute__((tls_model("initial-exec")));

/* The drain began on this thread outside a poll: a loop thread's window ends here. */
void lsc__shutdown_split_here(void);
/* At the main loop's polls: its listening sockets still listen (listeners.c). */
void lsc__listeners_check(uint64_t now);

/* A loop thread, outside its poll: its scheduler figures now, for the next long call
 * (blocking.c; from the SIGPROF handler, async-signal-safe). */
void lsc__sched_refresh(void);
/* A long busy stretch from t0 to t1 (now): how long of it the thread was runnable, waiting for
 * a CPU, against the last reading; 0 when it cannot say. The reading is renewed. */
int lsc__sched_stretch(uint64_t t0, uint64_t t1, uint64_t *runq, uint64_t *on_cpu);

/* In a forked child: the schedstat fd was the parent thread's (blocking.c). */
void lsc__blocking_after_fork(void);
void lsc__blocking_thread_exit(void);

/* Appends a record to this thread's ring (made on first use). */
void lsc__push(uint16_t type, const void *a, size_t alen, const void *b, size_t blen);
/* The same for a stack that carries JS frames to name: the writer is woken soon (preload.c). */
void lsc__push_js(uint16_t type, const void *a, size_t alen, const void *b, size_t blen);
/* The same, waiting up to limit_ms for the writer to make room (not from a signal handler):
 * for records that must not be dropped (V8's heap profile). -1 when it still does not fit. */
int lsc__push_wait(uint16_t type, const void *a, size_t alen, const void *b, size_t blen,
		   unsigned limit_ms);

/* Node.js: finds V8's GC API (returns 1 when the program is Node; *missing names a symbol that
 * was not found), then registers the GC callbacks from the main thread's polls. */
int lsc__node_lookup(const char **missing, int *frames_missing);
/* main_loop: the poll is of libuv's default loop (Node's main one), not a private loop such as
 * spawnSync's, run from inside a JS call: the heap and resource readings wait for the former. */
void lsc__node_on_poll(uint32_t tid, int main_loop, int will_wait);
/* The same from the main thread's file calls, before its first poll (node.c says when). */
extern int lsc__node_pending;
void lsc__node_early(void);
/* recording.c: the recording opened (an fd, or -errno), its header
 * written (0 or -1), what the program is with the note to put in the
 * header, the run directory's PID file. */
int lsc__open_recording(const char *path);
int lsc__write_header(const char *runtime, const char *note);
void lsc__runtime_and_notes(char *runtime, size_t cap, char *note, size_t note_cap);
void lsc__note_pid(void);
/* node_frames.c: for each of frames (leaf first), two words in aux (aux[2k], aux[2k + 1]): the
 * SharedFunctionInfo a JS frame runs and its print (0, 0 for another frame), by walking frame
 * pointers from the interrupted registers (uc, a signal's ucontext) or, uc NULL, from the
 * caller's frame fp; whether any was found. */
int lsc__node_frames_init(void); /* -1: no metadata, JS frames stay addresses */
/* This thread's stack bounds, for lsc__node_frames (outside a signal handler: it allocates). */
void lsc__node_frames_thread(void);
uint32_t lsc__gettid(void); /* this thread's id, cached (preload.c) */
int lsc__node_frames(const void *uc, uint64_t fp, void *const *frames, int n, uint64_t *aux);
/* V8's API that more than one of node.c, node_heap.c, node_resources.c calls: resolved once by
 * lsc__node_lookup (a member is NULL when the node binary lacks it). */
struct lsc_v8_api {
	_Bool (*in_context)(void *isolate);		/* v8::Isolate::InContext */
	void (*scope_open)(void *scope, void *isolate); /* v8::HandleScope::HandleScope */
	void (*scope_close)(void *scope);		/* v8::HandleScope::~HandleScope */
	int (*write_utf8)(const void *str, void *isolate, char *buf, int cap, int *nchars,
			  int options); /* v8::String::WriteUtf8 */
};
extern struct lsc_v8_api lsc__v8;

/* V8's sampling heap profiler (node_heap.c): started on the isolate; read at the main thread's
 * polls, once a window. */
int lsc__node_heap_lookup(void);
void lsc__node_heap_start(void *isolate);
void lsc__node_heap_poll(int will_wait);
extern unsigned lsc__node_full_gcs; /* mark-compacts of the main isolate so far (node.c) */
/* Node's active resources by type (node_resources.c), read with the heap. */
void lsc__node_resources_read(void *isolate);
/* src run in the isolate's current context, its string result into out: length, or -1. */
int lsc__node_eval(void *isolate, const char *src, size_t srclen, char *out, int cap);
/* What a loop thread other than the main one is (node.c), at its polls: a Node.js Worker's
 * (its GC callbacks registered, its threadId and script into *worker_id
 * and script), Node's platform loop, another loop (0: not Node.js, or no isolate here); -1:
 * not yet known, ask at the next poll. */
int lsc__node_loop_role(uint32_t *worker_id, char *script, int cap);

/* SIGPROF: a CPU sample of this thread, or (--wall) where it is blocked (preload.c). */
void lsc__on_sigprof(int sig, siginfo_t *si, void *uc);
/* The program's signal dispositions behind the agent's handlers, SIGPROF and its timer
 * (signals.c); from the constructor, once recording. */
void lsc__signals_install(void);
void lsc__signals_after_fork(void);

/* libuv's thread pool (pool.c): its statics found in the executable's symbol table (0, or -1
 * when there is none); the next pthread_mutex_lock/unlock resolved; the start routine a new
 * thread gets (a marking trampoline for the pool's workers); the pool's size. */
int lsc__pool_find(void);
void lsc__pool_resolve(void);
void *(*lsc__pool_start_routine(void *(*fn)(void *)))(void *);
unsigned lsc__pool_threads(void);
/* libuv's fs.c in the executable (its local functions' span, found with the pool's statics):
 * where its file calls return to; 0 when unknown. */
extern uintptr_t lsc__uv_fs_lo, lsc__uv_fs_hi;
/* libuv's default loop pointer in the executable (uv-common.c's default_loop_ptr, found with
 * the pool's statics): NULL until the program makes the loop; NULL itself when not found. The
 * agent reads it and never calls uv_default_loop(), which would make the loop on the calling
 * thread (preload.c). */
extern void *const *lsc__uv_default_loop_ptr;
/* The pool's queue length integrated over time until t (job-ns, racy reads: for the writer). */
uint64_t lsc__pool_area(uint64_t t);

/* --wall: starts the off-CPU sampler thread (wall.c). */
int lsc__wall_start(void);
/* Whether an address is in the agent's own code (its frames are left off stacks). */
int lsc__own_frame(uintptr_t ip);

/* Resolves the real allocator; from the constructor, before anything else. */
void lsc__heap_resolve(void);
/* From the constructor, once the configuration is known: every allocation until now came from a
 * static bootstrap arena; from here on they are the real allocator's, tracked as mode says. */
void lsc__heap_start(int mode, uint64_t interval);
/* The writer's view: NULL when the heap is not tracked. */
struct lsc_heap_sites *lsc__heap_sites(void);
int lsc__heap_mode(void);
uint64_t lsc__heap_dropped(void); /* samples that found no room */

#endif
