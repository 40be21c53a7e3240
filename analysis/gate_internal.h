/*
 * gate_internal.h — what the budget's parser (gate.c), the measuring of recordings
 * (gate_measure.c) and the judging (gate_judge.c) share: the metrics' table and a recording's
 * measured figures.
 */
#ifndef LSC_GATE_INTERNAL_H
#define LSC_GATE_INTERNAL_H

#include "lsc_gate.h"
#include "lsc_heap.h"
#include "lsc_report.h"

enum unit { U_TIME, U_BYTES, U_RATE, U_COUNT, U_SHARE, U_RATIO };

struct metric {
	const char *name;
	int unit;
	int function;	   /* 1: takes (FUNCTION), 2: requires it */
	const char *needs; /* what capture provides it */
};

const struct metric *lsc__gate_metric_of(const char *name);
/* The metrics of one loop (each loop has its own): the rest serve the whole process. */
int lsc__gate_loop_metric(const struct metric *m);
/* Rates and the growth of the handle count can go below zero; nothing else a budget checks can. */
int lsc__gate_never_negative(const struct metric *m);

/* One recording, measured once: every loop's report, its heap's. */
struct measured {
	struct lsc_report_loops loops;		   /* every loop's report, the platform's too */
	const struct lsc_report *main;		   /* the main loop's: the process's figures */
	struct lsc_recording *view[LSC_MAX_LOOPS]; /* each loop's view, made when a check needs
						    * its stacks */
	size_t worst;				   /* the loop the last loop metric came from */
	struct lsc_heap_report heap;
	int heap_ok;
};

int lsc__gate_measure(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		      struct measured *m);
void lsc__gate_measured_free(struct measured *m);
/* The check's metric in one recording (*have 0: it has none); a loop metric over the loops
 * the check selects, the worst of them (m->worst says which). */
double lsc__gate_value(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		       struct measured *m, const struct lsc_gate_check *c, int *have);
/* Whether the check's loop selector matches a loop of the recording. */
int lsc__gate_selects_any(const struct measured *m, const struct lsc_gate_check *c);

#endif
