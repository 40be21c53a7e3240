/*
 * lsc_report.h — what `loopscope report` computes from a recording: the numbers a person reads
 * first, and a diagnosis, each finding with its evidence and the frame it points at. Pure
 * computation; render/ turns it into text or JSON.
 *
 * Default rules start from Clinic.js Doctor's published thresholds (lag median >= 10 ms or max
 * >= 100 ms; ELU median >= 0.95; >= 100 ms of GC pause in any one second; handle counts that only
 * grow) and add what Doctor cannot see: thread-pool saturation, blocking calls with their stack,
 * managed-heap growth by type.
 */
#ifndef LSC_REPORT_H
#define LSC_REPORT_H

#include "lsc_flame.h"
#include "lsc_loops.h"
#include "lsc_recording.h"
#include "lsc_symbols.h"

#define LSC_REPORT_TOP	    5
#define LSC_REPORT_FRAMES   12
#define LSC_REPORT_FINDINGS 12
/* a long busy stretch with fewer CPU samples than this is said to have few */
#define LSC_REPORT_STRETCH_SAMPLES 5

/* What the owner frame is (owner.c): the best tier on a stack gives its owner. */
enum lsc_owner_tier {
	LSC_OWNER_APP = 0,	  /* the application's JS or native code */
	LSC_OWNER_DEPENDENCY = 1, /* node_modules/: JS or a native addon */
	LSC_OWNER_NODE_JS = 2,	  /* Node's built-in JS (node:fs, node:internal/...) */
	LSC_OWNER_NODE = 3,	  /* the node binary's native code (node::, v8::, its libuv) */
	LSC_OWNER_RUNTIME = 4,	  /* a linked-in runtime (libuv, refloop), V8's generated code */
	LSC_OWNER_LIBRARY = 5,	  /* shared libraries: libc, ld.so, libuv.so */
	LSC_OWNER_KERNEL = 6,
	LSC_OWNER_UNNAMED = 7, /* an address nothing names */
};

struct lsc_report_frame {
	char name[512];
	char file[256];
	unsigned line;
	int kind;
	int tier; /* enum lsc_owner_tier */
};

struct lsc_report_stack {
	char what[64]; /* "read", "cpu" */
	uint64_t count;
	uint64_t total; /* ns, samples or bytes */
	uint64_t max;
	double share; /* of the relevant total */
	size_t nframes;
	struct lsc_report_frame frames[LSC_REPORT_FRAMES]; /* leaf first */
	struct lsc_report_frame owner;			   /* the frame to open (owner.c) */
};

enum lsc_severity { LSC_SEV_INFO = 0, LSC_SEV_WARNING = 1, LSC_SEV_CRITICAL = 2 };

struct lsc_finding {
	char id[32]; /* "blocking-calls", "lag", ... stable, for tools */
	int severity;
	char title[160];
	char evidence[1024];
	int has_frame;
	struct lsc_report_frame frame;
	/* for the order: findings of one severity, the cause that holds the most of the run's time
	 * first (0 for symptoms, delay and saturation, which the causes explain, and for what is
	 * not a matter of time: growth, leaks), then in the rules' order */
	double impact;
	unsigned order;
};

struct lsc_report {
	/* the loop it is of (lsc_report_build_loops; empty from lsc_report_build), and how many
	 * loops the recording has that are shown by default */
	char loop_name[128];
	char loop_key[48];
	int loop_role;
	unsigned loops_in_recording;
	/* the run */
	uint32_t pid;
	char executable[256];
	char source[32];
	char runtime[64]; /* the header's: "node", "libuv program", "unknown" */
	uint64_t duration_ns;
	int complete;		/* a footer was written (the process did not die) */
	uint64_t start_unix_ns; /* when what is reported begins (a span's start, when cut) */
	int cut;		/* a span of a longer recording (--since, --until, a segment) */
	/* the capture's own counters (the footer's): what it dropped, merged, and its time on the
	 * program's main thread ("js_heap_read_ns", "node_resources_read_ns") */
	size_t ncounters;
	struct {
		char name[40];
		uint64_t value;
	} counters[32];
	/* attach: the share of stacks that reach their thread's root (_start, clone, clone3), of
	 * CPU samples, off-CPU time and blocking calls, from the footer's stacks_* counters; < 0:
	 * not recorded */
	double roots_cpu, roots_offcpu, roots_blocking;
	int truncated;
	uint64_t windows;
	/* the loop */
	int has_loop;
	double elu_mean, elu_p50, elu_max;
	uint64_t iterations;
	uint64_t busy_p50, busy_p99, busy_max; /* ns */
	uint64_t lag_p50, lag_p99, lag_max;    /* ns */
	/* the drain: windows after a SIGTERM/SIGINT/SIGHUP the program handles, left out of the
	 * loop's figures above and shown apart */
	uint64_t shutdown_windows, shutdown_ns;
	double shutdown_elu;
	/* the moment it began (the shutdown event: a signal, or its last listener closed), and
	 * what ran after it: blocking calls and long busy stretches, left out of their figures */
	int has_shutdown_at;
	uint64_t shutdown_at_ns;
	char shutdown_reason[64];
	uint64_t drain_blocking_count, drain_blocking_ns, drain_busy_count, drain_busy_ns;
	int has_drain_owner;
	struct lsc_report_frame drain_owner; /* under the longest of them */
	/* windows in which the loop made no turn and did not wait (attach): held by one callback */
	uint64_t frozen_windows, frozen_ns;
	/* the thread pool */
	int has_pool;
	double pool_full_share; /* of the windows, those whose queue reached the thread count */
	uint32_t pool_threads, pool_depth_max;
	int has_pool_depth_mean;
	double pool_depth_mean; /* over the windows that have it, weighted by their length */
	uint64_t pool_wait_p50, pool_wait_p99, pool_wait_max;
	/* where jobs were submitted from (the agent's POOL_SUBMITS samples): the owner frame with
	 * the most, and its share of all */
	uint64_t pool_submits;
	int has_pool_submitter;
	struct lsc_report_frame pool_submitter;
	double pool_submitter_share;
	/* GC */
	uint64_t gc_count, gc_pause_total, gc_pause_max, gc_worst_second;
	/* heap */
	int has_native, has_managed;
	uint64_t native_first, native_last, native_max;
	unsigned native_points; /* windows in the native trend, and its fit's R² */
	double native_r2;
	uint64_t managed_first, managed_last; /* live after GC: lsc_heap_managed_series()'s */
	unsigned managed_points;	      /* GCs in that series */
	/* full (mark-compact) collections, and the heap after the first and the last: garbage
	 * promoted between them is no growth until one of them has swept it */
	unsigned managed_full;
	uint64_t managed_full_first, managed_full_last;
	double managed_full_r2; /* their trend's fit (0 when it does not rise) */
	double managed_slope;	/* bytes per second, least squares over them */
	double managed_r2;
	char managed_top_type[128];
	uint64_t managed_top_type_growth;
	/* Node.js: the JS function whose allocations grew most (the JS heap's sites, by owner) */
	int has_js_top;
	struct lsc_report_frame js_top;
	int64_t js_top_growth;
	double js_top_share;
	uint64_t rss_max; /* the high-water mark when the windows have it, else window ends' */
	int rss_max_is_peak;
	/* handles and fds */
	int has_handles;
	uint32_t handles_first, handles_last, handles_max;
	double handles_growing; /* of the windows where the count changed, the share it rose in */
	/* Node.js: the figures above are Node's own count (process.getActiveResourcesInfo(): its
	 * handles, requests, refed Timeouts and Immediates), here by type, most grown first; the
	 * function that creates the type that grew most, from the JS heap's allocation sites */
	int handles_node;
	size_t nres_types;
	struct lsc_report_resource {
		char type[48];
		uint32_t first, last, max;
		uint32_t changes, rises; /* windows where its count changed, and rose */
	} res_types[32];
	int has_res_creator;
	struct lsc_report_frame res_creator;
	uint64_t res_creator_count; /* its live JS objects' growth, first to last JS snapshot */
	int res_creator_exact;	    /* its stacks pass through the type's constructor; 0: its
				     * objects grew most alongside (V8 inlined the constructor) */
	uint32_t fds_max, fd_limit;
	uint64_t requests;
	/* writes queued behind readers slower than the writer (report_pitfalls.c), at the
	 * windows' ends: libuv's write queues (all streams; the most on one), Node's sockets' JS
	 * write buffers (run on Node), the peak of their sum and when; a few points over time; the
	 * function that wrote, the owner of the CPU samples in the write path */
	int has_write_queue, has_js_write;
	uint64_t write_peak, write_peak_at_ns, write_peak_uv, write_peak_js, write_peak_one;
	uint32_t write_need_drain_max;
	size_t nwrite_points;
	struct {
		uint64_t t_ns, bytes;
	} write_points[8];
	/* what kept the process alive after it was asked to stop (report_pitfalls.c): the last
	 * window's handles by libuv type and, Node.js, its resources by type */
	int has_alive;
	uint32_t alive_handles, alive_reqs;
	size_t nalive, nalive_res;
	struct {
		char type[48];
		uint32_t count;
	} alive[16], alive_res[16];
	/* attach: where the alive handles were made (Window.alive_sites), by type and site, the
	 * most first; has_frame 0: made before the capture began (or its stack unknown) */
	size_t nalive_sites;
	struct {
		char type[48];
		uint32_t count;
		int has_frame;
		struct lsc_report_frame frame;
	} alive_site[8];
	int has_writer;
	int writer_from_heap; /* too few CPU samples in the write path: the owner of the native
			       * bytes live at the peak (writer_samples: their bytes) */
	struct lsc_report_frame writer;
	double writer_share;
	uint64_t writer_samples;
	/* calls and stacks: the long calls in which the loop thread slept (blocking.c) */
	uint64_t blocking_count, blocking_total_ns;
	size_t nblocking;
	struct lsc_report_stack blocking[LSC_REPORT_TOP];
	/* of the blocking calls' time, where the capture measured it: asleep in the kernel, on
	 * the CPU in it (copying a cached file), preempted (under half of each call) */
	uint64_t blocking_measured_ns, blocking_asleep_ns, blocking_cpu_ns, blocking_runq_ns;
	/* the long calls that were not blocking: runnable but preempted (contention, with their
	 * stacks), waiting on the runtime's own locks; and the app's own lock waits, with their
	 * stacks */
	uint64_t contention_count, contention_ns;
	uint64_t lock_runtime_count, lock_runtime_ns, lock_app_count, lock_app_ns;
	size_t ncontention, nlocks;
	struct lsc_report_stack contention[LSC_REPORT_TOP], locks[LSC_REPORT_TOP];
	uint64_t cpu_total;
	int has_gc_owner; /* the owner of the most CPU samples in the garbage collector: who
			   * allocated */
	struct lsc_report_frame gc_owner;
	double gc_owner_share;
	int has_cpu_owner; /* the owner frame with the most CPU samples over every stack */
	struct lsc_report_frame cpu_owner;
	double cpu_owner_share;
	size_t ncpu;
	struct lsc_report_stack cpu[LSC_REPORT_TOP];
	/* long busy segments (the agent's "(busy loop)" events): CPU-bound stretches of the loop,
	 * kept apart from blocking calls, which they contain */
	uint64_t busy_long_count, busy_long_total_ns;
	/* their time is shared among the CPU samples taken in each (the rows' count: samples);
	 * stretches with fewer than LSC_REPORT_STRETCH_SAMPLES, and their time */
	uint64_t busy_samples, busy_few_samples, busy_few_ns;
	unsigned cpu_hz;	 /* CPU samples per second of CPU time (the header's; 0: none) */
	uint64_t busy_runq_ns;	 /* of their time, runnable but not running (where measured) */
	uint64_t busy_asleep_ns; /* of their time, neither running nor runnable (where measured) */
	/* the windows' busy segments of 10 ms or more (lower bounds of their buckets); with no
	 * stretch events (attach), the stretches are these (busy_from_hist) */
	uint64_t busy_hist_long_count, busy_hist_long_ns, busy_hist_long_runq_ns;
	int busy_from_hist;
	/* of them, the tick or microtask chains (report_chains.c): stretches that ran inside the
	 * queue's runner with one function of the program re-queued, kept apart from the others
	 * (not in the figures above); attach, which has no stretch events: the loop's long
	 * segments, when most of its CPU samples are a chain's (starve_from_samples) */
	uint64_t starve_count, starve_ns, starve_max_ns, starve_samples;
	int starve_from_samples;
	int has_starve_fn; /* the function re-queued, most of the chains' samples */
	struct lsc_report_frame starve_fn;
	double starve_fn_share;
	int starve_kind; /* enum lsc_chain_kind */
	/* the owner frame that holds the most of their time, over every stack, and its share */
	int has_busy_owner;
	struct lsc_report_frame busy_owner;
	double busy_owner_share;
	size_t nbusy;
	struct lsc_report_stack busy[LSC_REPORT_TOP];
	/* the crash, when the process died of a signal */
	int crashed;
	int crash_signal;
	uint64_t crash_addr;
	struct lsc_report_stack crash;
	/* the diagnosis */
	size_t nfindings;
	struct lsc_finding findings[LSC_REPORT_FINDINGS];
};

/* heap_js.c: the JS heap's site that grew most, for the report (0, LSC_ENODATA, -ENOMEM). */
int lsc__report_js_top(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		       struct lsc_report *rep);

/* report_chains.c: tick and microtask chains told from CPU samples (a stretch's, or the loop's) */
enum lsc_chain_kind { LSC_CHAIN_TICK = 0, LSC_CHAIN_MICROTASK = 1, LSC_CHAIN_EITHER = 2 };
struct lsc_chains;
struct lsc_chain_verdict {
	int chain; /* most samples under a runner, most of those under one function */
	int kind;  /* enum lsc_chain_kind */
	int fn;	   /* the function's index in the chains' table */
	uint64_t samples, under_runner, fn_samples;
};
int lsc__chains_new(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		    struct lsc_chains **out);
void lsc__chains_free(struct lsc_chains *c);
/* Samples (stack ids and their counts) judged: 0 or -ENOMEM. */
int lsc__chains_judge(struct lsc_chains *c, const uint32_t *ids, const uint32_t *counts, size_t n,
		      struct lsc_chain_verdict *v);
/* A chain counted toward the report's function; then the function with the most, into rep. */
void lsc__chains_add(struct lsc_chains *c, const struct lsc_chain_verdict *v);
void lsc__chains_finish(const struct lsc_chains *c, struct lsc_report *rep);

/* report_pitfalls.c: the classic pitfalls' findings (report_rules.c calls it); a new finding
 * (report_rules.c), or NULL when the report holds as many as it can. */
void lsc__report_pitfalls(struct lsc_report *rep);
/* report_pitfalls.c: what kept the process alive after it was asked to stop. */
void lsc__report_alive(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		       struct lsc_report *rep);
/* report_pitfalls.c: the writes queued behind slow readers, and who wrote (0 or -ENOMEM). */
int lsc__report_writes(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		       struct lsc_report *rep);
struct lsc_finding *lsc__report_finding(struct lsc_report *rep, const char *id, int sev);

/* report_rules.c: the findings from the numbers, in their order (report.c calls it). */
void lsc__report_diagnose(struct lsc_report *rep);

/* report_calls.c: the calls, stacks, stretches, CPU samples, crash, pool submitters and drain
 * into the report (report.c calls it). */
int lsc__report_calls(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		      struct lsc_report *rep);

/* report_node.c: Node's own resource counts into the handle figures (report.c calls it). */
void lsc__report_resources(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   struct lsc_report *rep);

/* sym may be NULL; it symbolizes what the recording's own symbols do not cover. */
int lsc_report_build(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		     struct lsc_report *out);

/* A report per loop (report_loops.c): those sel matches (lsc_loops.h), or with sel NULL every
 * loop but the hidden ones (Node's platform loop), which hidden counts. A recording with more
 * than one loop names the loop in each finding's title ("worker 2 (hash.js): ..."). lead: the
 * worst (the most severe finding, then the busiest), the one to show first; main: the main
 * loop's, which has what serves the whole process (LSC_MAX_LOOPS: not among them). A
 * recording without loop windows gives one report of all of it. 0, LSC_EBADLOOP,
 * LSC_ENOSUCHLOOP, -ENOMEM. */
struct lsc_report_loops {
	size_t n, lead, main, hidden;
	struct lsc_loop_id id[LSC_MAX_LOOPS];
	struct lsc_report *rep[LSC_MAX_LOOPS];
};
int lsc_report_build_loops(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   const char *sel, struct lsc_report_loops *out);
void lsc_report_loops_free(struct lsc_report_loops *l);
/* The most severe finding's LSC_SEV_* (-1: none); of_code: not counting "cpu-contention" (the
 * machine was busy: true of every loop). */
int lsc_report_severity(const struct lsc_report *r, int of_code);
/* Whether a's loop is worse than b's: its code's most severe finding, then any finding's, then
 * the busier (by more than 0.05 ELU). */
int lsc_report_worse(const struct lsc_report *a, const struct lsc_report *b);

/* blocking.c: what a long call was, from the scheduler's figures around it. */
enum lsc_call_kind {
	LSC_CALL_BLOCKED = 0,	 /* its own time: asleep in the kernel, or running there */
	LSC_CALL_CONTENTION = 1, /* runnable, not running, for half of it or more */
	LSC_CALL_LOCK = 2,	 /* a lock wait: the runtime's or the app's (by the owner) */
};
enum lsc_call_kind lsc_call_kind(const Loopscope__BlockingEvent *b);
/* Its duration in parts (with the figures): run queue, on CPU, asleep. */
void lsc_call_split(const Loopscope__BlockingEvent *b, uint64_t *runq, uint64_t *cpu,
		    uint64_t *asleep);

/* owner.c: a named frame's tier; "app", "node-internals", ... for JSON; "Node internals" and
 * the like for text ("" for the app's and its dependencies' code, and for unnamed addresses). */
enum lsc_owner_tier lsc_owner_tier(const struct lsc_named_frame *nf);
const char *lsc_owner_tier_name(enum lsc_owner_tier t);
const char *lsc_owner_tier_label(enum lsc_owner_tier t);

/* A recorded stack, named (leaf first; the owner: the leaf-most frame of the best tier). */
void lsc_report_fill_stack(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   uint32_t stack_id, struct lsc_report_stack *out);
/* "function (file.c:12)", or the name alone. */
void lsc_report_frame_where(const struct lsc_report_frame *f, char *buf, size_t cap);
/* An owner frame, after a preposition: "under keepItems (app.js:18)"; when it is not the
 * application's code, what it is instead: "in Node internals: readSync (node:fs:708)". With
 * prep NULL, no preposition: "keepItems (app.js:18)", "Node internals: readSync (...)". */
void lsc_report_owner_where(const struct lsc_report_frame *f, const char *prep, char *buf,
			    size_t cap);

#endif
