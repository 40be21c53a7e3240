/*
 * lsc_attach.h — attaching loopscope's eBPF programs to a running process and turning what they
 * aggregate into a recording (docs/format.md), window by window. Used by `loopscope attach` and
 * `loopscope top`; the commands never touch a skeleton.
 */
#ifndef LSC_ATTACH_H
#define LSC_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "lsc_hist.h"

struct lsc_attach_opts {
	int pid;
	const char *output; /* the recording; NULL: none (top) */
	unsigned cpu_hz;    /* 0: no CPU samples */
	int offcpu;	    /* off-CPU time by stack (sched_switch) */
	int stacks_dwarf;   /* CPU samples unwound in user space from a stack copy */
	int stacks_fp; /* CPU samples walked by frame pointers only (default: the hybrid walk) */
	uint64_t block_threshold_ns;
	uint64_t window_ns;
	int any_target;	    /* a target without libuv: record CPU and syscalls anyway (--anyway) */
	const char *set_id; /* the recordings of several processes' one set (--children) */
	/* no uprobes on the pool's job submission (about 6 µs a job): queue waits estimated
	 * from the queue's walks alone, no submitting stacks (the exporter's default) */
	int no_pool_probes;
	/* the loop from the scheduler's switches alone, no program on any syscall (the exporter's
	 * default; bpf/switch.bpf.h): blocking calls are the sleeps in other calls, without
	 * stacks; a turn is a sleep in the loop's wait */
	int switch_loop;
	/* one of consecutive segments (the exporter's --record-dir): the header names the
	 * service and the segment; CPU samples are written at every window's end, so that a span
	 * cut from the segments has its own (lsc_attach_rotate goes on in the next file) */
	int segmented;
	const char *service;
	const char *tee; /* tests: every record written to this file too (one continuous copy) */
};

#define LSC_ATTACH_HANDLE_TYPES 20

/* A window's durations counted at fixed bounds, for a consumer that keeps cumulative histograms
 * of its own (the exporter's Prometheus histograms): le[i] holds how many were at most
 * lsc_attach_bounds_ns[i]. */
#define LSC_ATTACH_BOUNDS 14
extern const uint64_t lsc_attach_bounds_ns[LSC_ATTACH_BOUNDS];
struct lsc_attach_buckets {
	uint64_t count, sum_ns, le[LSC_ATTACH_BOUNDS];
};
/* Adds h's values (nanoseconds) to b; one value. */
void lsc_attach_buckets_add(struct lsc_attach_buckets *b, const struct lsc_hist *h);
void lsc_attach_buckets_add_one(struct lsc_attach_buckets *b, uint64_t ns);

#define LSC_ATTACH_GC_KINDS 6  /* the recording's GcEvent.Kind, UNKNOWN to FULL */
#define LSC_ATTACH_BLOCKING 32 /* distinct (thread, syscall) pairs kept a window */

/* What the last window said, for a status line or a live view. */
struct lsc_attach_status {
	double elapsed_s;
	int have_window; /* a window has closed */
	double frozen_s; /* the main loop completed no turn for this long (0: it turns) */
	double elu;
	uint64_t iterations;
	double window_s;
	struct lsc_hist busy, lag; /* the last window's */
	uint32_t pool_depth, pool_depth_max, pool_threads, pool_busy_max;
	int pool_known;
	uint64_t pool_waits, pool_wait_p99_ns, pool_wait_max_ns; /* jobs taken in the window */
	uint32_t active_handles, active_reqs, handles[LSC_ATTACH_HANDLE_TYPES];
	int handles_known;
	uint32_t open_fds;
	uint64_t rss_bytes;
	uint64_t gc_count, gc_pause_ns;				/* in the last window */
	struct lsc_attach_buckets gc_kind[LSC_ATTACH_GC_KINDS]; /* pauses by GcEvent.Kind */
	uint64_t gc_heap_after; /* the runtime's heap after the window's last collection that
				 * says (refloop's probes do; V8's uprobes do not): 0 unknown */
	struct lsc_attach_buckets pool_wait; /* the jobs taken in the last window */
	/* the last window's blocking calls by loop thread and syscall (the rest, past the table's
	 * size, in blocking_other_*) */
	unsigned nblocking;
	struct lsc_attach_blocking {
		uint32_t tid, nr;
		uint64_t count, ns;
	} blocking[LSC_ATTACH_BLOCKING];
	uint64_t blocking_other_count, blocking_other_ns;
	char top_blocking[128]; /* the last window's longest blocking call, or "" */
	uint64_t top_blocking_ns;
	uint64_t events, dropped; /* since attach */
	int target_gone;	  /* the process has exited */
	/* every loop's last window (the figures above are the main loop's): by thread */
	unsigned nloops;
	struct lsc_attach_loop_status {
		uint32_t tid;
		int main;
		double elu, frozen_s;
		uint64_t lag_p99_ns, busy_p99_ns;
		uint64_t window_ns, idle_ns, iterations; /* the window's length, its idle part */
		struct lsc_attach_buckets lag;
	} loops[8];
};

struct lsc_attach;

/* Loads and attaches. On failure returns a negative errno or LSC_E*, with one line in err saying
 * what went wrong and what to do. notes[] receives what was skipped and why (NULL-terminated,
 * owned by the session). */
int lsc_attach_start(const struct lsc_attach_opts *o, struct lsc_attach **out, char *err,
		     size_t errlen);
const char *const *lsc_attach_notes(const struct lsc_attach *a);
/* Reads the kernel's totals; when a window is due, closes it (and writes it). Never blocks for
 * long: call it every 100 ms or so. Returns 1 when a window closed, 0 otherwise, <0 on error. */
int lsc_attach_tick(struct lsc_attach *a, struct lsc_attach_status *st);
/* Segments: ends the current recording file at the window just closed (its samples so far
 * written, no footer: the session goes on) and goes on in path, a new segment readable alone
 * (the header again, mappings, threads; stacks and JS names written again as they are used).
 * On failure (path cannot be created) the current file goes on. */
int lsc_attach_rotate(struct lsc_attach *a, const char *path);
/* Detaches, closes the last window, writes CPU samples, mappings and the footer. Returns 0 or
 * the first write error. Frees a. */
int lsc_attach_stop(struct lsc_attach *a);

/* The name of an x86-64 syscall number ("read"), or NULL. */
const char *lsc_syscall_name(unsigned nr);

#endif
