/*
 * lsc_heap.h — what `loopscope heap` and `loopscope leaks` compute from a recording: the memory
 * timeline (native live bytes, the managed heap after each GC, RSS, GC pauses), a growth verdict
 * for each heap with its rate and how it was reached, the allocation sites ranked by growth, the
 * managed types ranked by growth, temporary allocations, and what was still live at the end.
 * Pure computation; render/ draws it.
 */
#ifndef LSC_HEAP_H
#define LSC_HEAP_H

#include "lsc_report.h"

#define LSC_HEAP_TOP 10

enum lsc_heap_verdict {
	LSC_GROWTH_UNKNOWN = 0, /* too few points to say */
	LSC_GROWTH_FLAT,
	LSC_GROWTH_WARMUP,   /* grew at first, then flat */
	LSC_GROWTH_SAWTOOTH, /* rises and falls, but its floor rises */
	LSC_GROWTH_LEAK,     /* grows steadily */
};
const char *lsc_heap_verdict_name(int v); /* "leak", "warm-up then flat", ... */

struct lsc_heap_point {
	double t;     /* seconds since the start */
	double bytes; /* the value there */
};

struct lsc_heap_series {
	struct lsc_heap_point *p;
	size_t n;
};

struct lsc_heap_trend {
	int verdict;
	double rate;	   /* bytes per second after the warm-up (Theil-Sen) */
	double confidence; /* share of later point pairs that rise, 0.5 (noise) .. 1 (steady) */
	double first, last, max;
	char how[512]; /* how the verdict was reached, in a sentence or two */
};

struct lsc_heap_site {
	struct lsc_report_stack stack; /* total: live bytes at the end */
	uint32_t stack_id;
	int64_t growth;	     /* live bytes, last snapshot minus first */
	double share;	     /* of all growth */
	uint64_t live_count; /* at the end */
	uint64_t alloc_bytes, alloc_count, temp_count;
	int likely_leak; /* grew steadily over the snapshots */
	int engine;	 /* native: the JS engine's own (no JS frame, in V8's code), not a leak
			  * of the program's when the JS heap explains the growth */
	size_t stacks;	 /* JS: the stacks merged into this site (one function, several paths) */
};

/* Node.js: the JS heap by allocation site, from V8's sampling heap profiler (the agent's
 * JS_LIVE_* snapshots): estimates, each sample standing for `interval` bytes on average. */
struct lsc_heap_js {
	uint32_t snapshots; /* complete ones */
	double first_s, last_s;
	uint64_t interval;
	uint64_t live_bytes, live_count; /* at the last snapshot */
	int64_t growth;			 /* live bytes, last snapshot minus first */
	struct lsc_heap_site *sites;	 /* one per owner function (the first frame of the
					  * program's own code), by growth */
	size_t nsites;
};

struct lsc_heap_type {
	char name[64];
	int64_t growth; /* bytes live after GC, last GC minus first */
	uint64_t first, last;
};

struct lsc_snap_summary;
struct lsc_heap_report {
	/* the V8 heap snapshots the run had Node write, summed up: set by the caller, NULL: none
	 * (heap and report show them with the rest) */
	const struct lsc_snap_summary *v8_snapshots;
	char heap_mode[16]; /* "full", "sampled", "off", or "" (not recorded) */
	uint64_t sample_interval;
	double duration_s;
	int complete; /* the process ended normally (a footer) */
	/* the timeline */
	struct lsc_heap_series native, managed, rss, gc; /* gc: pause ns at each GC */
	int managed_is_rss; /* no heap size at GCs (the eBPF path): RSS at each GC's end */
	struct lsc_heap_trend native_trend, managed_trend;
	/* native snapshots */
	uint32_t snapshots; /* complete ones */
	double first_snapshot_s, last_snapshot_s;
	uint64_t live_bytes, live_count; /* at the last snapshot, all sites */
	struct lsc_heap_site *sites;	 /* every site live at the end or grown, by growth */
	size_t nsites;
	struct lsc_heap_site temp[LSC_HEAP_TOP]; /* by temporary allocations */
	size_t ntemp;
	struct lsc_heap_type types[LSC_HEAP_TOP]; /* managed types by growth */
	size_t ntypes;
	size_t unresolved_frames; /* frames no symbol could name */
	struct lsc_heap_js js;
};

/* The managed heap's series, one definition for every command: V8's (or refloop's) heap used
 * right after each full collection (mark-compact), or after every collection when there are
 * fewer than 4 full ones; where only the eBPF path ran, RSS at each GC's end (*is_rss). */
int lsc_heap_managed_series(const struct lsc_recording *r, struct lsc_heap_series *out,
			    int *is_rss);

/* 0; LSC_ENODATA when the recording has neither heap snapshots (native or JS) nor GC events
 * nor memory windows; -ENOMEM. */
int lsc_heap_build(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		   struct lsc_heap_report *out);
void lsc_heap_free(struct lsc_heap_report *h);

/* The verdict on one series (exposed for tests). */
void lsc_heap_trend(const struct lsc_heap_series *s, struct lsc_heap_trend *out);

#endif
