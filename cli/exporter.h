/*
 * exporter.h — what the parts of `loopscope exporter` share: the processes it watches, each with
 * its attach session and the cumulative figures its metrics are made of (exporter_metrics.c
 * folds each closed window in and renders the exposition; exporter_http.c serves it;
 * cmd_exporter.c finds the processes and runs the sessions).
 */
#ifndef LSC_EXPORTER_H
#define LSC_EXPORTER_H

#include "lsc_attach.h"
#include "lsc_recording.h"

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
	uint32_t tid;
	char call[32]; /* "other": the calls past the table */
	uint64_t count, ns;
};

/* Everything a process's series say, cumulative since the exporter attached to it. */
struct ex_proc {
	int pid;
	unsigned long long start_ticks; /* /proc/PID/stat's starttime: a reused PID is another */
	char service[128], exe[256];
	struct lsc_attach *a;	  /* attached; or NULL: */
	struct ex_follow *follow; /* its recording followed as it grows (exporter_follow.c) */
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
	uint64_t gc_heap_bytes; /* after the last collection that said (0: unknown) */
	uint32_t open_fds;
	struct ex_rec *rec; /* its rotating recordings (exporter_record.c), or NULL */
	struct ex_proc *next;
};

/* The exporter's own figures. */
struct ex_self {
	unsigned targets;
	uint64_t attach_errors, attached, exited;
};

/* exporter_metrics.c: a closed window of p's session into its figures; a recording's window or
 * event (the agent's, followed). */
void ex_fold(struct ex_proc *p, const struct lsc_attach_status *st);
void ex_fold_window(struct ex_proc *p, const Loopscope__Window *w);
void ex_fold_event(struct ex_proc *p, const Loopscope__Event *e);
/* The service of a process: OTEL_SERVICE_NAME or LOOPSCOPE_SERVICE in environ (NUL-separated,
 * n bytes; NULL: unknown), else the script Node runs (argv), else the executable's name. */
void ex_service(const char *environ, size_t n, const char *const *argv, size_t argc,
		const char *exe, char *out, size_t cap);

/* exporter_follow.c: recordings in dirs that processes under the agent are writing, followed as
 * they grow: each live one a process in *procs (no privilege needed). Looks for new files; reads
 * what was appended; ends the processes that exited. Whether anything changed. */
struct ex_follow;
int ex_follow_tick(const char *const *dirs, size_t ndirs, struct ex_proc **procs,
		   struct ex_self *self, int scan);
/* Whether PID is followed through its recording (attach leaves it alone). */
int ex_followed(const struct ex_proc *procs, int pid);
void ex_follow_free(struct ex_proc *p);
/* Ends *pp's watch (its session, or its recording's following), unlinks and frees it. */
void ex_drop(struct ex_proc **pp, struct ex_self *self);
/* The exposition of every process (openmetrics: OpenMetrics 1.0, else Prometheus text 0.0.4),
 * malloc'ed, NUL-terminated; NULL when out of memory. */
char *ex_render(const struct ex_proc *procs, const struct ex_self *self, int openmetrics,
		size_t *len);

/* exporter_record.c: rotating recordings (--record-dir). */
struct ex_rec_opts {
	const char *dir; /* NULL: none */
	uint64_t segment_ns, max_bytes, max_age_ns;
	unsigned cpu_hz;
	const char *tee; /* tests: the first session's records also in one continuous file */
};
/* DIR made if missing; a directory this user can write: 0, or -1 with one line in err. */
int ex_rec_dir_check(const char *dir, char *err, size_t cap);
/* Before p's session starts: its directory made and ao set to write its first segment; 0, or
 * -1 (said: watched without a recording). */
int ex_rec_begin(const struct ex_rec_opts *o, struct ex_proc *p, struct lsc_attach_opts *ao);
/* After one of p's windows closed: the next segment when this one is --segment long. */
void ex_rec_window(const struct ex_rec_opts *o, struct ex_proc *p);
void ex_rec_end(struct ex_proc *p);
/* The session did not start: what ex_rec_begin made is removed. */
void ex_rec_abandon(struct ex_proc *p);
/* Deletes the oldest segments past the bounds (every 10 s at most, unless now). */
void ex_rec_retain(const struct ex_rec_opts *o, const struct ex_proc *procs, int now);

/* exporter_http.c: whether addr is one --listen takes (0, or -1 with one line in err). */
int ex_http_check(const char *addr, char *err, size_t errlen);
/* Serves GET /metrics on addr ("HOST:PORT"; HOST may be empty: all). 0, or
 * -1 with one line in err. */
int ex_http_start(const char *addr, char *err, size_t errlen);
/* The expositions the next scrapes get (taken over: freed by the server). */
void ex_http_publish(char *text, size_t text_len, char *om, size_t om_len);
void ex_http_stop(void);

#endif
