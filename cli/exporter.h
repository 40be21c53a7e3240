/*
 * exporter.h — what the parts of `loopscope exporter` share: the processes it watches, each with
 * its attach session and the cumulative figures its metrics are made of (exporter_metrics.c
 * folds each closed window in and renders the exposition; exporter_http.c serves it;
 * cmd_exporter.c finds the processes and runs the sessions).
 */
#ifndef LSC_EXPORTER_H
#define LSC_EXPORTER_H

#include "lsc_attach.h"

#include <stddef.h>
#include <stdint.h>

#define EX_LOOPS    16 /* loops kept per process (Node: main, platform, Workers) */
#define EX_BLOCKING 64 /* (loop, syscall) pairs kept per process; the rest: syscall "other" */

struct ex_loop {
	uint32_t tid;
	int main;
	double busy_s, idle_s, elu; /* elu: the last window's */
	uint64_t iterations;
	struct lsc_attach_buckets lag;
};

struct ex_blocking {
	uint32_t tid, nr; /* nr UINT32_MAX: the calls past the table */
	uint64_t count, ns;
};

/* Everything a process's series say, cumulative since the exporter attached to it. */
struct ex_proc {
	int pid;
	unsigned long long start_ticks; /* /proc/PID/stat's starttime: a reused PID is another */
	char service[128], exe[256];
	struct lsc_attach *a;
	int have_window;
	struct ex_loop loops[EX_LOOPS];
	unsigned nloops;
	struct ex_blocking blocking[EX_BLOCKING];
	unsigned nblocking;
	struct lsc_attach_buckets gc[LSC_ATTACH_GC_KINDS], pool_wait;
	int pool_known, handles_known;
	uint32_t pool_depth, pool_threads, pool_busy_max;
	uint32_t active_handles, active_reqs, handles[LSC_ATTACH_HANDLE_TYPES];
	uint64_t rss_bytes;
	uint32_t open_fds;
	struct ex_proc *next;
};

/* The exporter's own figures. */
struct ex_self {
	unsigned targets;
	uint64_t attach_errors, attached, exited;
};

/* exporter_metrics.c: a closed window of p's session into its figures. */
void ex_fold(struct ex_proc *p, const struct lsc_attach_status *st);
/* The exposition of every process (openmetrics: OpenMetrics 1.0, else Prometheus text 0.0.4),
 * malloc'ed, NUL-terminated; NULL when out of memory. */
char *ex_render(const struct ex_proc *procs, const struct ex_self *self, int openmetrics,
		size_t *len);

/* exporter_http.c: whether addr is one --listen takes (0, or -1 with one line in err). */
int ex_http_check(const char *addr, char *err, size_t errlen);
/* Serves GET /metrics on addr ("HOST:PORT"; HOST may be empty: all). 0, or
 * -1 with one line in err. */
int ex_http_start(const char *addr, char *err, size_t errlen);
/* The expositions the next scrapes get (taken over: freed by the server). */
void ex_http_publish(char *text, size_t text_len, char *om, size_t om_len);
void ex_http_stop(void);

#endif
