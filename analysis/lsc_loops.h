/*
 * lsc_loops.h — the loops of a recording, each a subject of its own (docs/report.md "Loops").
 *
 * A process runs one loop or several: Node.js's main thread, each Worker's, Node's platform loop
 * (its delayed-task scheduler: internal), refloop's offload loop, an addon's. A loop is its
 * thread: its windows (loop_tid), the blocking calls and busy stretches on it (tid), its
 * isolate's GC pauses (GcEvent.tid; absent: the main loop's), the CPU, off-CPU and blocking
 * samples of its thread. What serves the whole process (the thread pool, the native and JS heaps,
 * Node's resource count, the CPU samples of threads that run no loop) goes with the main loop.
 *
 * A loop's view is a recording of its own (shallow: it borrows the messages of the recording it
 * was made from, and must be freed before it) that every analysis reads as it reads a whole one.
 *
 * Selectors, for --loop and gate metrics: "main", "worker" or "worker:*" (every Worker),
 * "worker:N" (the Worker whose threadId is N), "worker:NAME" (whose script's file name is NAME,
 * with or without its directory), "platform", "loop:TID" or "tid:TID" (by thread id), "*" or
 * "all" (every loop, the platform's too).
 */
#ifndef LSC_LOOPS_H
#define LSC_LOOPS_H

#include "lsc_recording.h"

#define LSC_MAX_LOOPS 64

struct lsc_loop_id {
	uint32_t tid;
	int role;	    /* LOOPSCOPE__THREAD_ROLE__* */
	uint32_t worker_id; /* a Worker's threadId (0: unknown) */
	char script[256];   /* a Worker's script */
	char name[128];	    /* "main", "worker 1 (hash.js)", "Node's platform loop", "loop 1234" */
	char key[48];	    /* its selector: "main", "worker:1", "platform", "loop:1234" */
	int hidden;	    /* internal (Node's platform loop): shown when asked for */
	int is_main;	    /* the view takes what serves the whole process */
};

/* The loops with windows, main first, then Workers by threadId, then the rest by thread id.
 * Returns how many (at most cap). Older recordings and attach's name roles by thread: the
 * process's own thread is the main loop. */
size_t lsc_loops_list(const struct lsc_recording *r, struct lsc_loop_id *out, size_t cap);

/* Whether loop matches the selector (above). -1: the selector is not one. */
int lsc_loop_matches(const struct lsc_loop_id *loop, const char *sel);

/* The loop's view of r (0, -ENOMEM). */
int lsc_recording_loop_view(const struct lsc_recording *r, const struct lsc_loop_id *loop,
			    struct lsc_recording **out);
void lsc_recording_view_free(struct lsc_recording *v);

#endif
