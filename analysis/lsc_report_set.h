/*
 * lsc_report_set.h — the report of a set: the recordings of several processes of one run (a
 * cluster's primary and workers, child_process.fork's children; docs/report.md "Processes").
 * Each process gets its loops' reports (lsc_report_build_loops); then a row per process, the
 * findings that processes running the same program share ("1 of 2 children of pid 100: ..."),
 * what the children's loops did in all, the descendants that did not record and why, and the
 * worst process, whose report is shown in full.
 */
#ifndef LSC_REPORT_SET_H
#define LSC_REPORT_SET_H

#include "lsc_report.h"

#define LSC_SET_MAX	   64
#define LSC_SET_SHARED	   16
#define LSC_SET_NOT_RECORD 32

struct lsc_report_process {
	uint32_t pid, parent_pid;
	char command[256];		/* its argv, joined */
	unsigned group;			/* processes with one group run one program, one parent */
	struct lsc_report_loops *loops; /* owned */
};

struct lsc_snap_summary;
struct lsc_report_set {
	size_t n, lead;
	struct lsc_report_process p[LSC_SET_MAX];
	/* findings shared by the processes of a group: the finding, how many of the group's
	 * processes have it (the same rule at the same frame), and the group's size */
	size_t nshared;
	struct lsc_set_finding {
		struct lsc_finding f; /* its title without a loop's name */
		unsigned procs, of, group;
		uint32_t example_pid;
	} shared[LSC_SET_SHARED];
	/* the children of the first process, in all: their main loops' busy time and windows'
	 * length, CPU samples */
	unsigned children;
	double children_busy_s, children_wall_s;
	uint64_t children_cpu;
	/* descendants that did not record (the first recording's Process records), Node.js ones
	 * by name, the others counted */
	size_t nmissing, missing_other;
	/* the JS heap snapshots the run had Node write, summed up (set by the caller; NULL: none)
	 */
	const struct lsc_snap_summary *snapshots;
	struct {
		uint32_t pid;
		char command[200];
		char why[200];
	} missing[LSC_SET_NOT_RECORD];
};

/* recs[0] is the recording named (the one `run` started), syms may be NULL or hold NULLs.
 * sel: the loop selector every process's report takes (lsc_loops.h), NULL: the default. 0,
 * LSC_EBADLOOP, -ENOMEM; a process whose loops sel does not match is left without a report. */
int lsc_report_build_set(const struct lsc_recording *const *recs, size_t n,
			 struct lsc_symbolizer *const *syms, const char *sel,
			 struct lsc_report_set *out);
void lsc_report_set_free(struct lsc_report_set *s);
/* The most severe finding of any loop (LSC_SEV_*), -1 for none or l NULL. */
int lsc_report_loops_severity(const struct lsc_report_loops *l);

#endif
