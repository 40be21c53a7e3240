/*
 * cli.h — what the commands share: the command table, the one error style, output files that
 * appear whole or not at all, and reading a recording with every failure said in one line.
 *
 * Exit codes: 0 ok, 1 failure (or a failed gate), 2 usage.
 */
#ifndef LSC_CLI_H
#define LSC_CLI_H

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

/* An output file written to "PATH.tmp.PID" and renamed over PATH on commit; "-" is stdout. */
struct lsc_out {
	FILE *f;
	char *path;
	char *tmp;
};
int lsc_out_open(struct lsc_out *o, const char *path);
/* Flushes, closes and renames; on any failure removes the temporary file. Returns 0 or errno. */
int lsc_out_commit(struct lsc_out *o);
void lsc_out_abort(struct lsc_out *o);

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
int cmd_heap(int argc, char **argv);
int cmd_leaks(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_diff(int argc, char **argv);
/* A process id from an option value, or a usage error (returns non-zero). */
int lsc_cli_parse_pid(const char *cmd, const char *v, int *pid);

#endif
