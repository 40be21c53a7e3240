/*
 * cli.h — what the commands share: the command table, the one error style, output files that
 * appear whole or not at all, and reading a recording with every failure said in one line.
 *
 * Exit codes: 0 ok, 1 failure (or a failed gate), 2 usage.
 */
#ifndef LSC_CLI_H
#define LSC_CLI_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "lsc_recording.h"
#include "lsc_symbols.h"

#define LSC_EXIT_OK    0
#define LSC_EXIT_FAIL  1
#define LSC_EXIT_USAGE 2

struct lsc_cmd {
	const char *name;
	const char *summary;
	const char *usage; /* the full help text */
	int (*run)(int argc, char **argv);
};

/* "loopscope: <what>" on stderr. Returns LSC_EXIT_FAIL, for `return lsc_fail(...)`. */
int lsc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "loopscope: <what>; see 'loopscope help CMD'". Returns LSC_EXIT_USAGE. */
int lsc_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lsc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a command's help to stdout; returns 0. */
int lsc_help(const char *cmd);
/* The command table (main.c), and what loopscope is, in a sentence. */
extern const struct lsc_cmd lsc_commands[];
extern const size_t lsc_ncommands;
extern const char lsc_about[];
/* manpage.c: the scdoc source of loopscope(1) (cmd NULL) or loopscope-CMD(1), from the
 * command table: one source for --help and the man pages. 0, or a usage error. */
int lsc_cli_scdoc(const char *cmd, FILE *f);

/*
 * An output. "-" is stdout. A new path or a regular file is written to "PATH.tmp.PID" (created
 * with O_EXCL) and renamed over PATH on commit. A character device or FIFO (/dev/null, /dev/full,
 * a pipe), or a symbolic link to one, is written in place: never created, truncated, replaced or
 * removed. Anything else is refused (lsc__out_classify says why).
 */
struct lsc_out {
	FILE *f;
	char *path;
	char *tmp;	 /* NULL when written in place */
	const char *why; /* after a failed open: why the path was refused, or NULL for errno */
};
/* Returns 0 or an errno; on a refusal o->why explains it in words. */
int lsc_out_open(struct lsc_out *o, const char *path);
/* Flushes, closes and renames; on any failure removes the temporary file (only that: never a path
 * it did not create). Returns 0 or errno (ENOSPC from /dev/full). */
int lsc_out_commit(struct lsc_out *o);
void lsc_out_abort(struct lsc_out *o);

/* What writing to a path would do: create it, replace a regular file, or write a device or FIFO
 * in place. A path that must not be written returns a negative errno, with *why set when the
 * errno alone would not say it (a symbolic link, a block device). */
enum lsc_out_kind { LSC_OUT_NEW, LSC_OUT_REGULAR, LSC_OUT_INPLACE };
int lsc__out_classify(const char *path, enum lsc_out_kind *kind, const char **why);

/* Writes one output: opens it (lsc_out_open), calls render, commits. On any failure says so in
 * one line (naming output, or "the output" for stdout) and leaves no file. Returns an exit code. */
int lsc_cli_emit(const char *output, int (*render)(FILE *f, const void *ctx), const void *ctx);

/* Reads a recording; on failure prints the one error line and returns non-zero. A truncated
 * recording is read with a warning. */
int lsc_cli_read_recording(const char *path, struct lsc_recording **out);
/* A symbolizer for what the recording's own symbols leave open; NULL when none can be built. */
struct lsc_symbolizer *lsc_cli_symbolizer(const struct lsc_recording *r);

/* Three lines on stderr after a capture: "SUBJECT VERB N s (HOW)" with the loop's numbers, the
 * report's first finding, and where the recording is. */
void lsc_cli_summary(const char *path, const char *subject, const char *verb, const char *how);

int cmd_report(int argc, char **argv);
int cmd_flame(int argc, char **argv);
int cmd_symbolize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_exporter(int argc, char **argv);
int cmd_heap(int argc, char **argv);
int cmd_leaks(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_diff(int argc, char **argv);
/* A whole number from min to max for option opt ("--window"), or one usage line naming the
 * option, the value and the range, with unit ("ms"; "" for none) after it (returns non-zero). */
int lsc_cli_parse_num(const char *cmd, const char *opt, const char *v, uint64_t min, uint64_t max,
		      const char *unit, uint64_t *out);
/*
 * Whether /tmp/perf-PID.map belongs to the process recorded: a regular file (not a symbolic
 * link), owned by uid (when uid < 0, unknown: by the caller or root), modified no earlier than
 * not_before_ns (wall clock, ns since the epoch; the filesystem's coarse clock allowed for).
 * Writes the path into path and returns 1 when it does, else 0. The one check every reader of a
 * JIT map in cli/ goes through: a stale map of a reused PID, or a link planted in /tmp, is not
 * read.
 */
int lsc_cli_perf_map(unsigned pid, long long uid, uint64_t not_before_ns, char *path, size_t cap);
/* A process id from an option value, or a usage error (returns non-zero). */
int lsc_cli_parse_pid(const char *cmd, const char *v, int *pid);

/* run_children.c: the descendants of the process `run` started, seen in /proc while it runs. */
#define LSC_RUN_MAX_CHILDREN 256
struct lsc_run_child {
	pid_t pid, ppid;
	char exe[256], cmdline[512];
	int node;	   /* its executable is a node */
	int agent;	   /* the agent is in its LD_PRELOAD */
	int env_read;	   /* its environment could be read */
	int still_running; /* it had not ended when run finalized */
	int settled;	   /* described twice alike: past its exec */
};
struct lsc_run_tree {
	pid_t root;
	size_t n;
	struct lsc_run_child d[LSC_RUN_MAX_CHILDREN];
};
/* One pass over /proc: the root's descendants not yet known. */
void lsc_run_tree_scan(struct lsc_run_tree *t);
/* waitpid(pid) that scans the descendants every 50 ms meanwhile: 0, or -errno. */
int lsc_run_wait(pid_t pid, int *status, struct lsc_run_tree *t);
/* After the root ended: waits up to secs for the descendants that loaded the agent to end. */
void lsc_run_wait_descendants(struct lsc_run_tree *t, double secs);
/* Symbolizes each follower's recording (REC.PID with set_id), appends a Process record per
 * descendant to output (follow: 1 all, 2 Node's); returns how many recorded. */
size_t lsc_run_finish_set(const char *output, const char *set_id, int follow,
			  const struct lsc_run_tree *t);

/* heap_snapshot.c: the heap snapshots r notes (run --heap-snapshot-on), read from beside
 * recpath and summed up; NULL when none (malloc'ed). */
struct lsc_snap_summary;
struct lsc_snap_summary *lsc_cli_snap_summary(const char *recpath, const struct lsc_recording *r);
/* run_snapshots.c: `run --heap-snapshot-on SIGNAL|near-oom|exit` (Node's own flags). */
struct lsc_run_snap {
	char signal[32]; /* "SIGUSR2", or empty */
	int near_oom, exit;
	char dir[PATH_MAX];    /* beside the recording */
	char script[PATH_MAX]; /* exit: the --require'd script, in the run directory */
};
static inline int lsc_run_snap_wanted(const struct lsc_run_snap *o)
{
	return o->signal[0] || o->near_oom || o->exit;
}
/* One --heap-snapshot-on (a comma-separated list), into o: 0 or LSC_EXIT_USAGE (said). */
int lsc_run_snap_option(const char *arg, struct lsc_run_snap *o);
/* Before the fork: o->dir from output; the exit script written into rundir. 0, or said. */
int lsc_run_snap_prepare(struct lsc_run_snap *o, const char *output, const char *rundir);
/* In the child, before exec: NODE_OPTIONS. */
void lsc_run_snap_env(const struct lsc_run_snap *o);
/* After the run: the run's snapshots noted in output; how many (said on stderr). */
struct timespec;
size_t lsc_run_snap_finish(const struct lsc_run_snap *o, const char *output, const char *rundir,
			   const struct timespec *start);

/* sets.c: a recording and the others of its set beside it (REC.PID, the same set id). */
#define LSC_CLI_MAX_SET 64
struct lsc_cli_set {
	size_t n;
	struct lsc_recording *r[LSC_CLI_MAX_SET]; /* r[0]: the one named; the rest by pid */
	struct lsc_symbolizer *sym[LSC_CLI_MAX_SET];
};
/* 0, or -1 when path itself cannot be read (said). */
int lsc_cli_read_set(const char *path, struct lsc_cli_set *s);
void lsc_cli_set_symbolizers(struct lsc_cli_set *s);
void lsc_cli_set_free(struct lsc_cli_set *s);
/* The member whose pid is pid, or -1 (said, with the set's pids). */
int lsc_cli_set_member(const struct lsc_cli_set *s, const char *path, int pid);

/* span.c: the time a reading command works on, and the exporter's rotating recordings. The
 * commands that read recordings take --since, --until and --service (LSC_CLI_SPAN_OPTIONS in
 * their getopt table, lsc_cli_span_option for the values) and set .pid from their --pid;
 * lsc_cli_read_set then reads a directory of rotating recordings as the chosen session's one
 * recording, and cuts every recording it reads to the span. */
struct lsc_cli_span {
	uint64_t since_ns, until_ns; /* wall clock; 0: the recording's start, its end */
	const char *service;
	int pid;
};
extern struct lsc_cli_span lsc_cli_span;
enum { LSC_OPT_SINCE = 0x5100, LSC_OPT_UNTIL, LSC_OPT_SERVICE };
#define LSC_CLI_SPAN_OPTIONS                                                                       \
	{"since", required_argument, NULL, LSC_OPT_SINCE},                                         \
		{"until", required_argument, NULL, LSC_OPT_UNTIL},                                 \
	{                                                                                          \
		"service", required_argument, NULL, LSC_OPT_SERVICE                                \
	}
/* 0, or a usage error said (non-zero). */
int lsc_cli_span_option(const char *cmd, int opt, const char *v);
/* 10, 10s, 500ms, 2m, 1.5h, 1d (from 1 ms to max_s); 0 or -1. */
int lsc_cli_parse_duration(const char *v, double max_s, double *secs);
/* "2026-12-01T05:00:00Z" */
void lsc_cli_format_time(uint64_t unix_ns, char *buf, size_t cap);
/* A service name as a file name: characters other than letters, digits, '-', '_' and '.' (not
 * first) become '_'. */
void lsc_cli_service_file_name(const char *service, char *out, size_t cap);
/* Cuts r (read from path) to the span, if one was given; 0 or -1 (said). */
int lsc_cli_apply_span(const char *path, struct lsc_recording *r);
/* The session of DIR the options choose (pid: --pid, 0: any), its segments that cover the
 * span read as one recording (not yet cut); 0 or -1 (said). */
int lsc_cli_read_dir(const char *dir, int pid, struct lsc_recording **out);

/* report_page.c: `report -o FILE.html`: the page of the set's first process (set->r[0], its
 * symbolizer set), written whole or not at all; the exit code. */
struct lsc_snap_summary;
int lsc_cli_report_page(const char *output, const char *src, struct lsc_cli_set *set,
			const struct lsc_snap_summary *snapshots);

/* heap_snapshot.c: `heap FILE.heapsnapshot` (V8's); the exit code. */
int lsc_cli_heap_snapshot(const char *path, const char *out, int json);
/* `heap S1 S2 [S3...]`: several snapshots of one process, in order, compared. */
int lsc_cli_heap_snapshots(const char *const *paths, size_t n, const char *out, int json);

/* pick.c: the one recording a command reads: REC, or another process of its set (pid), or
 * the view of one loop of it (loop: a selector of one loop). rec is what to read; whole, the
 * recording it is of (for its header and symbols). 0, or -1 (said). */
struct lsc_pick {
	struct lsc_cli_set set;
	const struct lsc_recording *whole;
	struct lsc_recording *rec, *view;
	struct lsc_symbolizer *sym;
	char loop_name[128];
};
int lsc_cli_pick(const char *cmd, const char *path, int pid, const char *loop, struct lsc_pick *p);
void lsc_cli_pick_free(struct lsc_pick *p);

#endif
