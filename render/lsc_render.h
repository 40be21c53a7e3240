/*
 * lsc_render.h — loopscope's outputs: flame trees as SVG, folded stacks, pprof and speedscope;
 * reports as text and JSON. Renderers write to the stream they are given (the CLI makes that a
 * temporary file it renames, or stdout) and return 0 or a negative errno; they never talk to the
 * user otherwise.
 */
#ifndef LSC_RENDER_H
#define LSC_RENDER_H

#include <stdio.h>

#include "lsc_flame.h"
#include "lsc_heap.h"
#include "lsc_report.h"
#include "lsc_report_set.h"

struct lsc_svg_opts {
	const char *title;
	const char *subtitle;  /* may be NULL */
	const char *countname; /* "samples", "ns", "bytes" */
	int width;	       /* pixels, default 1200 */
	double minwidth;       /* frames narrower than this many pixels are not drawn (0.1) */
	int reverse;	       /* icicle: the root on top */
	/* A differential graph (loopscope diff): for each node of the tree drawn, the baseline's
	 * value at the same path, scaled; red where the node grew, blue where it shrank. */
	const double *base;
};

struct lsc_profile_opts {
	const char *name;    /* profile name (speedscope), e.g. "cpu" */
	const char *type;    /* pprof sample type, e.g. "samples", "alloc_space" */
	const char *unit;    /* "count", "nanoseconds", "bytes" */
	const char *mapping; /* file name for pprof's one mapping, e.g. the executable */
	int64_t period;	     /* pprof period; 0 for none */
	const char *period_type, *period_unit; /* NULL: the sample type's */
	int64_t time_nanos;		       /* when the profile started (unix ns); 0 unknown */
	int64_t duration_nanos;
};

int lsc_render_folded(FILE *out, const struct lsc_flame *f);
/* Two-column folded output ("stack base new") over both trees' stacks, raw counts (as
 * flamegraph's difffolded.pl writes them), each stack once. */
int lsc_render_folded_diff(FILE *out, const struct lsc_flame *base, const struct lsc_flame *cur);
int lsc_render_svg(FILE *out, const struct lsc_flame *f, const struct lsc_svg_opts *o);
int lsc_render_pprof(FILE *out, const struct lsc_flame *f, const struct lsc_profile_opts *o);
int lsc_render_speedscope(FILE *out, const struct lsc_flame *f, const struct lsc_profile_opts *o);
/* One speedscope profile per tree (per thread), named by names[i], over one frame table. */
int lsc_render_speedscope_profiles(FILE *out, const struct lsc_flame *const *flames,
				   const char *const *names, size_t nprofiles,
				   const struct lsc_profile_opts *o);

int lsc_render_report_text(FILE *out, const struct lsc_report *r);
/* Several loops' reports (lsc_report_build_loops): a row per loop, the lead's diagnosis, the
 * others' findings, then the lead's sections (what serves the process from the main loop's).
 * One loop alone renders as lsc_render_report_text. */
int lsc_render_report_loops_text(FILE *out, const struct lsc_report_loops *l);
int lsc_render_report_loops_json(FILE *out, const struct lsc_report_loops *l);
/* A set of processes' report (analysis/lsc_report_set.h): a row per process, the findings
 * they share, what did not record, then the worst process's report. One process alone renders
 * as lsc_render_report_loops_*. */
int lsc_render_report_set_text(FILE *out, const struct lsc_report_set *s);
int lsc_render_report_set_json(FILE *out, const struct lsc_report_set *s);
int lsc_render_report_json(FILE *out, const struct lsc_report *r);

/* Writes s escaped for XML text and attributes, at most max characters (gate's JUnit too). */
void lsc__xml_escape(FILE *out, const char *s, size_t max);

/* loopscope heap and leaks (render/heap.c). when: "the process's exit", "the crash", ... */
int lsc_render_heap_text(FILE *out, const struct lsc_heap_report *h);
int lsc_render_heap_json(FILE *out, const struct lsc_heap_report *h);
int lsc_render_heap_svg(FILE *out, const struct lsc_heap_report *h);
int lsc_render_heap_html(FILE *out, const struct lsc_heap_report *h, const char *title);

/* `heap FILE.heapsnapshot` (render/heapsnap.c): a V8 heap snapshot, analysed. */
#include "lsc_heapsnap.h"
struct lsc_snap_view {
	const char *source;
	const struct lsc_snap *snap;
	const uint32_t *top; /* lsc_snap_top_retainers' */
	size_t ntop;
	const struct lsc_snap_class *classes;
	size_t nclasses;
};
int lsc_render_snap_text(FILE *out, const struct lsc_snap_view *v);
int lsc_render_snap_json(FILE *out, const struct lsc_snap_view *v);
/* Several snapshots of one process, compared (lsc_snap_compare). */
struct lsc_snaps_view {
	const char *const *sources; /* cmp->n of them */
	const struct lsc_snap *last;
	const struct lsc_snap_compared *cmp;
};
int lsc_render_snaps_text(FILE *out, const struct lsc_snaps_view *v);
int lsc_render_snaps_json(FILE *out, const struct lsc_snaps_view *v);
/* The run's heap snapshots in the report (lsc_snap_summarise): a section; nothing when none. */
int lsc_render_snap_summary_text(FILE *out, const struct lsc_snap_summary *m);

/* `report -o report.html` (render/report_html.c): one self-contained page. */
struct lsc_recording;
struct lsc_report_html_in {
	const char *title;
	const char *note;	      /* a line under the title (other processes, loops), or NULL */
	const struct lsc_report *rep; /* the process's report (its main loop's) */
	const struct lsc_recording *rec; /* its recording: the windows and events drawn */
	/* the flame graphs as SVG documents (lsc_render_svg's), or NULL when there is none */
	const char *flame_cpu, *flame_blocking, *flame_offcpu;
	const struct lsc_heap_report *heap;	  /* or NULL */
	const struct lsc_snap_summary *snapshots; /* the run's heap snapshots, or NULL */
	/* the process's other loops' reports (Workers), their findings listed after the main
	 * loop's; none: 0 */
	size_t nloops;
	const struct lsc_report *const *loops;
	/* a set's processes (this one first), each in a row: NULL when alone */
	size_t nprocs;
	const struct lsc_report_html_proc {
		uint32_t pid;
		const char *executable;
		double elu;
		uint64_t lag_p99_ns;
		const char *finding; /* its first finding's title, or NULL */
	} * procs;
};
int lsc_render_report_html(FILE *out, const struct lsc_report_html_in *in);
int lsc_render_leaks_text(FILE *out, const struct lsc_heap_report *h, uint64_t min_bytes,
			  const char *when);
int lsc_render_leaks_json(FILE *out, const struct lsc_heap_report *h, uint64_t min_bytes,
			  const char *when);

#endif
