/*
 * lsc_gate.h — performance budgets for CI: a budget file of checks ("lag.p99 <= 50ms",
 * "cpu.share(handle_video) <= 5%", "lag.p99 <= baseline + 10%"), parsed with every mistake
 * named by its line, and judged against one or more recordings (their median) and an optional
 * baseline. The format is docs/ci.md's.
 */
#ifndef LSC_GATE_H
#define LSC_GATE_H

#include "lsc_recording.h"
#include "lsc_symbols.h"

#define LSC_GATE_MAX_CHECKS 128

enum lsc_gate_op { LSC_OP_LE, LSC_OP_LT, LSC_OP_GE, LSC_OP_GT };

struct lsc_gate_check {
	unsigned line;
	char metric[48];
	char function[128]; /* blocking.*(fn), cpu.share(fn); "" otherwise */
	char loop[48];	    /* a loop metric's [selector] (lsc_loops.h); "": the main loop */
	int op;
	int relative;	   /* limit = baseline (+|-) delta */
	int delta_percent; /* the delta is a percentage of the baseline */
	double limit;	   /* absolute limit, or the delta */
	double tolerance;  /* added to the limit in the direction that forgives */
	char text[256];	   /* the check as written */
	/* results */
	double measured, baseline, effective;
	int pass;
	char note[800]; /* what to look at when it fails */
};

struct lsc_gate {
	struct lsc_gate_check checks[LSC_GATE_MAX_CHECKS];
	size_t n;
	int needs_baseline;
	char file[256]; /* the budget's name, for errors found when judging */
};

/* Parses a budget; 0, or LSC_EBADBUDGET with one line in err naming the file's line and the
 * mistake. */
int lsc_gate_parse(const char *text, const char *file, struct lsc_gate *g, char *err,
		   size_t errlen);

/* Judges every check against the median over recs (n >= 1) and base (may be NULL unless a
 * check is relative). 0 when judged (pass/fail in each check); LSC_ENODATA with one line in err
 * when a metric is not in a recording, naming the capture option that provides it;
 * LSC_EBADBUDGET with one line in err naming the file's line when a relative limit comes out
 * below zero for a metric that never is ("baseline - 2ms" against a baseline of 1 ms). */
int lsc_gate_judge(struct lsc_gate *g, const struct lsc_recording *const *recs, size_t n,
		   const struct lsc_recording *base, struct lsc_symbolizer *const *syms,
		   struct lsc_symbolizer *base_sym, char *err, size_t errlen);

/* A run of the build: one recording, or a set of processes (the recordings of one run's
 * processes): a check's metric in a set is the worst of its members'. sym may be NULL. */
struct lsc_gate_run {
	const struct lsc_recording *const *r;
	struct lsc_symbolizer *const *sym;
	size_t n;
};
/* lsc_gate_judge over runs (each one recording or a set); base too, or NULL. */
int lsc_gate_judge_runs(struct lsc_gate *g, const struct lsc_gate_run *runs, size_t n,
			const struct lsc_gate_run *base, char *err, size_t errlen);

/* The metrics a budget knows, by index; NULL past the last. */
const char *lsc_gate_metric(size_t i);
/* One recording's metrics, measured once (diff's table). lsc_gate_measure returns whether the
 * recording has the metric, and its value in *v. */
struct lsc_gate_measurer;
int lsc_gate_measurer_new(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			  struct lsc_gate_measurer **out);
/* loop: a loop metric's selector (NULL: the main loop; several: the highest). */
int lsc_gate_measure(struct lsc_gate_measurer *g, const char *metric, const char *function,
		     const char *loop, double *v);
void lsc_gate_measurer_free(struct lsc_gate_measurer *g);

/* The metric's unit for printing: "ns", "bytes", "bytes/s", "", "share". */
const char *lsc_gate_unit(const char *metric);
/* Formats v in the metric's unit ("12.3 ms", "4.0 MiB", "3.0 %"). */
void lsc_gate_format(const char *metric, double v, char *buf, size_t cap);

#endif
