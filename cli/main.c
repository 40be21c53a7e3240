/*
 * main.c — the `loopscope` command: the command table, help, version, and the shared helpers of
 * cli.h. Commands are thin: parse flags, call analysis and rendering, report errors.
 *
 * Adding a command:
 *   1. cli/cmd_<verb>.c with `int cmd_<verb>(int argc, char **argv)`, declared in cli.h;
 *   2. a row in `commands` below (name, one-line summary, full help);
 *   3. docs/<verb>.md, and a line in README's command list;
 *   4. tests: tests/cli/ (golden output, bad input: one error line, exit code, no partial file).
 */
#include "cli.h"
#include "lsc_report.h"
#include "lsc_report_set.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The span options every command that reads recordings takes (span.c). */
#define SPAN_HELP                                                                                  \
	"\n"                                                                                       \
	"  --since T, --until T   only that span of the recording: 15m, 2h, 1d (that long ago),\n" \
	"                         @UNIX-SECONDS, 2026-12-01T05:00:00Z (UTC)\n"                     \
	"REC may also be the --record-dir of `loopscope exporter`: --pid PID or --service NAME\n"  \
	"chooses the process, and the segments that cover the span are read as one recording.\n"

const struct lsc_cmd lsc_commands[] = {
	{"run", "run a command with the agent preloaded and record it (no root)",
	 "usage: loopscope run [options] -- CMD [ARGS...]\n"
	 "\n"
	 "Runs CMD with loopscope's agent preloaded (LD_PRELOAD: no root, no code change), records\n"
	 "its event loop, blocking calls, CPU stacks, GC and handles, then finalizes the recording\n"
	 "(symbols), prints a three-line summary and exits with CMD's status.\n"
	 "\n"
	 "  -o REC                 the recording (default: CMD-YYYYmmdd-HHMMSS.lsr here)\n"
	 "  --cpu-hz N             CPU samples per second of CPU time (default 99; 0: none)\n"
	 "  --block-threshold MS   record blocking calls this long or longer (default 1; 0: all)\n"
	 "  --window MS            one window of loop metrics this often (default 1000)\n"
	 "  --heap off|sampled|full  native heap tracking (default sampled)\n"
	 "  --sample-interval BYTES  mean bytes between heap samples (default 524288)\n"
	 "  --js-heap-interval BYTES  Node.js: mean bytes between V8's JS heap samples\n"
	 "                         (default 262144; 0: no JS heap sites)\n"
	 "  --wall                 off-CPU samples of loop threads (flame --kind offcpu)\n"
	 "  --follow-children[=all|node]  descendants record too, each to REC.PID beside REC,\n"
	 "                         one set that report and gate read together (all: every\n"
	 "                         one; node: Node.js ones, the default when CMD is node)\n"
	 "  --no-follow-children   CMD's own process only\n"
	 "  --heap-snapshot-on SIGNAL|near-oom|exit  Node.js: V8 heap snapshots beside REC, on\n"
	 "                         SIGNAL (SIGUSR2), near the heap limit, at exit (a comma list;\n"
	 "                         Node's own flags, added to NODE_OPTIONS); report and heap\n"
	 "                         read them with REC\n"
	 "\n"
	 "The agent also works preloaded by hand: agent/README.md lists its LOOPSCOPE_* settings.\n",
	 cmd_run},
	{"attach", "attach to a running process with eBPF and record it (root; no restart)",
	 "usage: loopscope attach -p PID [-p PID...] [--children] [-d DURATION] [-o REC] [options]\n"
	 "\n"
	 "Attaches eBPF programs to a running Node.js or libuv program: event-loop utilization,\n"
	 "busy segments and lag from its epoll syscalls, blocking syscalls on the loop thread with\n"
	 "their stacks, the thread pool's queue depth, handles, GC pauses and CPU stacks. Shows a\n"
	 "status line each second; stops at the duration, Ctrl-C or the process's exit; detaches,\n"
	 "finalizes the recording (symbols) and prints the report's headline.\n"
	 "\n"
	 "  -p, --pid PID           the process; several -p: one set (REC, and REC.PID for the\n"
	 "                          others), each attached by a loopscope process of its own\n"
	 "  --children              and every descendant of each (a cluster's workers)\n"
	 "  -d, --duration D        stop after D (10, 10s, 500ms, 2m; default: until Ctrl-C)\n"
	 "  -o REC                  the recording (default: NAME-PID-YYYYmmdd-HHMMSS.lsr here)\n"
	 "  --cpu-hz N              CPU samples per second (default 99; 0: none)\n"
	 "  --block-threshold MS    record loop-thread syscalls this long or longer (default 1)\n"
	 "  --offcpu                off-CPU time of the process's threads by stack (flame --kind\n"
	 "                          offcpu)\n"
	 "  --stacks auto|fp|dwarf  CPU stacks walked in the kernel by frame pointers where the code\n"
	 "                          keeps them and by its CFI where it does not (auto, the default);\n"
	 "                          by frame pointers only (fp); or unwound in user space from a copy\n"
	 "                          of the stack's top (dwarf)\n"
	 "  --anyway                record a process without libuv too (CPU and system calls only;\n"
	 "                          without it, such a target is one clear error)\n"
	 "\n"
	 "Needs CAP_BPF and CAP_PERFMON (root). The target is not restarted and keeps running.\n",
	 cmd_attach},
	{"top", "a live view of a running process's event loop (root; eBPF)",
	 "usage: loopscope top -p PID [--anyway]\n"
	 "\n"
	 "Attaches the same eBPF programs as attach and shows, every second: ELU, busy segments\n"
	 "and lag (p50, p99, max), iterations per second, the thread pool's queue and busy and\n"
	 "idle workers, active handles by type, open fds, GC pauses, RSS, and the longest\n"
	 "blocking call of the last second; a loop that made no turn in a second shows as\n"
	 "FROZEN. q quits. With output piped: one line a second. A process without libuv is an\n"
	 "error unless --anyway.\n"
	 "Nothing is recorded: use attach for a recording.\n",
	 cmd_top},
	{"exporter",
	 "watch every event-loop process on this host and serve Prometheus metrics (root)",
	 "usage: loopscope exporter [--listen HOST:PORT] [-p PID...] [--match REGEX]\n"
	 "                          [--recordings DIR...] [--block-threshold MS]\n"
	 "                          [--syscall-probes] [--pool-wait]\n"
	 "                          [--record-dir DIR [--segment D] [--retain-size S]\n"
	 "                          [--retain-age D] [--cpu-hz N]]\n"
	 "\n"
	 "Watches the host for processes running a libuv event loop (Node.js, refloop, any\n"
	 "program with libuv in its executable or libraries), attaches to each within two\n"
	 "seconds of its start with eBPF programs on the scheduler's switches (no recording, no\n"
	 "program on any syscall), detaches when it exits, and serves their figures at\n"
	 "/metrics: loop busy and idle seconds (rate() of them gives ELU), lag, blocking calls by\n"
	 "syscall, the thread pool's queue, GC pauses by kind, handles, RSS; labelled service,\n"
	 "pid and loop. The service is OTEL_SERVICE_NAME or LOOPSCOPE_SERVICE from the\n"
	 "process's environment, else the script Node runs, else the executable. Runs until\n"
	 "SIGINT or SIGTERM.\n"
	 "docs/exporter.md.\n"
	 "\n"
	 "  --listen HOST:PORT      where to serve (default 127.0.0.1:9464; :9464 for every\n"
	 "                          address)\n"
	 "  -p, --pid PID           only these processes (repeatable)\n"
	 "  --match REGEX           only processes whose command line matches (extended regex)\n"
	 "  --block-threshold MS    count loop-thread sleeps in a syscall this long or longer as\n"
	 "                          blocking calls (default 1)\n"
	 "  --recordings DIR        serve too the processes that run under the agent and record\n"
	 "                          into DIR (loopscope run -o DIR/app.lsr, or LOOPSCOPE_OUTPUT),\n"
	 "                          following their recordings as they grow (repeatable)\n"
	 "  --syscall-probes        follow the loop from its epoll syscalls, every turn, as attach\n"
	 "                          does, and time blocking calls on the CPU too (costs every\n"
	 "                          syscall of the machine); without it the loop is followed from\n"
	 "                          the scheduler's switches alone\n"
	 "  --pool-wait             measure each thread-pool job's queue wait exactly (uprobes on\n"
	 "                          job submission, about 6 us a job); without it the waits are\n"
	 "                          estimated from the queue's walks\n"
	 "  --record-dir DIR        record each watched process too, in consecutive segments:\n"
	 "                          DIR/SERVICE.PID.START/SEGSTART.lsr (made if missing); read\n"
	 "                          any span back with report DIR --pid PID --since 15m\n"
	 "  --segment D             a segment's length (default 1m; 5s to 366d)\n"
	 "  --retain-size S         the oldest segments deleted past this total (default 1G;\n"
	 "                          500M, 20G, ...)\n"
	 "  --retain-age D          and segments that ended longer ago than D (default 24h)\n"
	 "  --cpu-hz N              CPU samples a second in the recordings (default 49; 0: none)\n"
	 "\n"
	 "Attaching needs CAP_BPF and CAP_PERFMON (root); without them, only --recordings is\n"
	 "served, which needs no privilege.\n",
	 cmd_exporter},
	{"heap", "memory growth: a timeline, a verdict per heap, who grows",
	 "usage: loopscope heap REC [-o FILE.html|FILE.svg|FILE] [--json] [--pid PID] [--loop SEL]\n"
	 "       loopscope heap FILE.heapsnapshot... [--json] [-o FILE]\n"
	 "\n"
	 "Native live bytes (exact with --heap full, estimated with --heap sampled), the managed\n"
	 "heap after each GC, RSS and GC pauses over time; for each heap a verdict (leak, warm-up\n"
	 "then flat, sawtooth with a rising floor, flat) with its rate and how it was reached; the\n"
	 "allocation sites and managed types ranked by growth; temporary allocations.\n"
	 "A V8 heap snapshot (v8.writeHeapSnapshot(), DevTools): the largest retainers with their\n"
	 "paths from a GC root, and retained sizes by class; several of one process, in order:\n"
	 "what keeps growing, and what was made between the first two and is still alive\n"
	 "(docs/heap.md).\n"
	 "\n"
	 "  -o FILE     FILE.html: a page (inline SVG, tables, no script); FILE.svg: the timeline;\n"
	 "              otherwise text. Written whole or not at all; '-' or none: stdout\n"
	 "  --json      the same as JSON\n"
	 "  --pid PID   a process of the set REC heads\n"
	 "  --loop SEL  one loop: its isolate's GC heap (worker:2; docs/report.md)\n" SPAN_HELP,
	 cmd_heap},
	{"leaks", "what was still allocated at the end (or at a crash or kill), by stack",
	 "usage: loopscope leaks REC [--min-bytes N] [--json] [-o FILE]\n"
	 "\n"
	 "The allocations still live at the recording's last heap snapshot (the process's exit,\n"
	 "its crash, or the last window before it was killed), grouped by stack, with bytes,\n"
	 "counts and a 'likely leak' mark where the site also grew steadily during the run.\n"
	 "\n"
	 "  --min-bytes N   only stacks holding N bytes or more\n"
	 "  --pid PID       a process of the set REC heads\n"
	 "  --json          the same as JSON\n"
	 "  -o FILE         write to FILE (whole or not at all); '-' or none: stdout\n",
	 cmd_leaks},
	{"gate", "a CI gate: hold recordings against a budget and a baseline",
	 "usage: loopscope gate REC... --budget FILE [--baseline BASE.lsr] [--junit FILE] [--json]\n"
	 "\n"
	 "Checks one or more recordings of a build (their median, for noisy machines) against a\n"
	 "budget: one check a line, e.g. 'lag.p99 <= 50ms', 'blocking.total(handle_video) <=\n"
	 "10ms', 'cpu.share(handle_video) <= 5%', 'lag.p99 <= baseline + 10% tolerance 1ms'\n"
	 "(docs/ci.md lists the metrics). Prints a line per check; exit 0 when all pass, 1 when\n"
	 "one fails, 2 for a usage or input error (a metric the recording lacks names the capture\n"
	 "option that provides it). A check of a loop takes a selector: 'elu.mean[worker:*] <=\n"
	 "0.8'. A REC that heads a set (run's and attach's children) counts as its worst process.\n"
	 "\n"
	 "  --budget FILE       the checks\n"
	 "  --baseline BASE.lsr what 'baseline' means in the checks\n"
	 "  --junit FILE        a JUnit XML report too (a testcase per check)\n"
	 "  --json              the checks as JSON on stdout instead of lines\n" SPAN_HELP,
	 cmd_gate},
	{"diff", "what changed between two recordings: metrics and a differential flame graph",
	 "usage: loopscope diff BASE.lsr NEW.lsr [--kind cpu|alloc|live|blocking] [-o diff.svg]\n"
	 "                      [--format svg|folded] [--absolute] [--loop SEL]\n"
	 "\n"
	 "Prints the metrics a gate knows, base against new with deltas, and with -o writes a\n"
	 "differential flame graph: the new profile's shape, red where a frame grew, blue where\n"
	 "it shrank, normalised by total samples (--absolute: raw counts); tooltips give both\n"
	 "values and the delta. --format folded: two-column folded stacks (stack base new).\n"
	 "--loop SEL compares one loop of each (worker:1; docs/report.md).\n" SPAN_HELP,
	 cmd_diff},
	{"report", "what a person reads first: the numbers and a diagnosis",
	 "usage: loopscope report REC [--loop SEL] [--pid PID] [--json] [-o FILE]\n"
	 "\n"
	 "Reads a recording and prints its report: duration, event-loop utilization, busy\n"
	 "segments and lag, thread pool, GC, memory, handles, the top blocking calls and CPU\n"
	 "stacks, then a diagnosis: each finding with its evidence and the frame it points at.\n"
	 "A process with several loops (Node.js Workers) gets a row per loop, then the worst\n"
	 "loop's report; Node's platform loop is hidden unless asked for.\n"
	 "\n"
	 "  --loop SEL  the loops to report: main, worker (every Worker), worker:N (threadId),\n"
	 "              worker:SCRIPT, platform, loop:TID, all (docs/report.md)\n"
	 "  --pid PID   one process of the set REC heads (REC and REC.PID beside it)\n"
	 "  --json      the same report as JSON (docs/report.md)\n"
	 "  -o FILE     write to FILE (written whole or not at all); '-' or none: stdout;\n"
	 "              FILE.html: one self-contained page (diagnosis, timelines, flame\n"
	 "              graphs, memory) to open in a browser or attach to a ticket\n" SPAN_HELP,
	 cmd_report},
	{"flame", "flame graphs: SVG, folded, pprof, speedscope",
	 "usage: loopscope flame REC [--kind KIND] [--format FMT] [-o FILE] [options]\n"
	 "       loopscope flame --folded FILE [--format FMT] [-o FILE] [options]\n"
	 "\n"
	 "  --kind KIND      cpu (default), offcpu, blocking, and from heap snapshots: alloc,\n"
	 "                   alloc-count, live, live-count, temp-count; pool-submits\n"
	 "                   (jobs by the stack that queued them on libuv's thread pool);\n"
	 "                   retained: a V8 heap snapshot's (REC: FILE.heapsnapshot), what holds\n"
	 "                   the memory, by the objects that hold it\n"
	 "  --tid TID        only this thread's samples\n"
	 "  --pid PID        a process of the set REC heads\n"
	 "  --loop SEL       only this loop's: main, worker:N, worker:SCRIPT, platform,\n"
	 "                   loop:TID (one loop; docs/report.md)\n"
	 "  --folded FILE    read folded stacks ('a;b;c 12' lines, as flamegraph.pl does);\n"
	 "                   '-' reads stdin\n"
	 "  --format FMT     svg (default), folded, pprof (gzip'd profile.proto), speedscope\n"
	 "  -o FILE          write to FILE (whole or not at all); '-' or none: stdout\n"
	 "  --title TEXT     the SVG's title\n"
	 "  --width PX       the SVG's width (default 1200)\n"
	 "  --minwidth PX    leave out frames narrower than this (default 0.1)\n"
	 "  --reverse        an icicle graph: the root on top\n"
	 "  --countname TXT  what the counts are (default by kind: samples, ns, bytes)\n" SPAN_HELP,
	 cmd_flame},
	{"symbolize", "make a recording self-contained: add the symbols its stacks need",
	 "usage: loopscope symbolize REC [--perf-map FILE] [--kallsyms FILE]\n"
	 "\n"
	 "Appends a symbol for every stack address the recording does not name yet, from the\n"
	 "binaries its mappings point at (only when their build-id matches), a JIT perf map\n"
	 "(/tmp/perf-PID.map, written by node --perf-basic-prof) and /proc/kallsyms. Capture\n"
	 "commands do this when they finish; use it on a recording left by a crash.\n",
	 cmd_symbolize},
};

const size_t lsc_ncommands = sizeof(lsc_commands) / sizeof(lsc_commands[0]);
#define NCOMMANDS lsc_ncommands
#define commands  lsc_commands

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "loopscope: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int lsc_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	return LSC_EXIT_FAIL;
}

void lsc_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

int lsc_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("loopscope: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see 'loopscope help%s%s'\n", cmd ? " " : "", cmd ? cmd : "");
	return LSC_EXIT_USAGE;
}

const char lsc_about[] = "Diagnostics for event-loop programs (Node.js, libuv): recordings in, "
			 "reports and\nflame graphs out.";

static void overview(FILE *f)
{
	size_t i;

	fprintf(f, "usage: loopscope COMMAND [ARGS]\n\n%s\n\ncommands:\n", lsc_about);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'loopscope help COMMAND' or 'loopscope COMMAND --help' for one command;\n"
	      "'loopscope --version' for the version.\n",
	      f);
}

int lsc_help(const char *cmd)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, cmd) == 0) {
			fputs(commands[i].usage, stdout);
			return LSC_EXIT_OK;
		}
	return lsc_usage_error(NULL, "no command '%s'", cmd);
}

/* Whether dir (the directory part of path) is world-writable and sticky, like /tmp: a link
 * there may have been planted by another user. */
static int in_sticky_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return stat(dir, &st) == 0 && (st.st_mode & S_ISVTX) && (st.st_mode & S_IWOTH);
}

/*
 * A symbolic link is never replaced and never written through to a regular file: as root, a
 * link that points at a file the user did not name is how a planted link (/tmp/report.txt ->
 * /etc/passwd) turns a report into damage, and writing "through" it would replace a file this
 * command does not own. Whoever means the target can name it. A link to a character device or a
 * FIFO (/dev/stdout -> /proc/self/fd/1 on a terminal or a pipe) is written in place, as the
 * device itself would be, since nothing is replaced -- except in a world-writable sticky
 * directory, where any link is refused.
 */
int lsc__out_classify(const char *path, enum lsc_out_kind *kind, const char **why)
{
	struct stat st, target;

	*why = NULL;
	if (lstat(path, &st)) {
		if (errno != ENOENT)
			return -errno;
		*kind = LSC_OUT_NEW;
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		if (in_sticky_dir(path)) {
			*why = "it is a symbolic link in a world-writable sticky directory (another "
			       "user may have planted it); name its target";
			return -EPERM;
		}
		if (stat(path, &target) || !(S_ISCHR(target.st_mode) || S_ISFIFO(target.st_mode))) {
			*why = "it is a symbolic link, and loopscope does not replace a file through "
			       "one; name its target ('-' for stdout)";
			return -EPERM;
		}
		*kind = LSC_OUT_INPLACE;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		/* As fs.protected_regular does for O_CREAT: another user's file in /tmp may be a
		 * trap set for whoever writes there next (they would own what we write). */
		if (st.st_uid != geteuid() && in_sticky_dir(path)) {
			*why = "it belongs to another user in a world-writable sticky directory";
			return -EPERM;
		}
		*kind = LSC_OUT_REGULAR;
		return 0;
	}
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
		*kind = LSC_OUT_INPLACE;
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	*why = S_ISBLK(st.st_mode) ? "it is a block device (loopscope writes regular files, "
				     "character devices and FIFOs)"
				   : "it is a socket (loopscope writes regular files, character "
				     "devices and FIFOs)";
	return -EPERM;
}

int lsc_out_open(struct lsc_out *o, const char *path)
{
	enum lsc_out_kind kind;
	const char *why = NULL;
	struct stat st;
	int fd = -1, err;

	memset(o, 0, sizeof(*o));
	if (!path || strcmp(path, "-") == 0) {
		o->f = stdout;
		return 0;
	}
	err = lsc__out_classify(path, &kind, &why);
	if (err) {
		o->why = why;
		return -err;
	}
	o->path = strdup(path);
	if (!o->path) {
		err = ENOMEM;
		goto fail;
	}
	if (kind == LSC_OUT_INPLACE) {
		/* A device or FIFO: written where it is, never created, truncated or removed. */
		fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &st) || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))) {
			why = "it changed while being opened";
			err = EPERM;
			goto fail;
		}
	} else {
		/* A new path or a regular file: written beside it, renamed over it on commit. */
		if (asprintf(&o->tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
			o->tmp = NULL;
			err = ENOMEM;
			goto fail;
		}
		fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	}
	if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
		err = errno;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
		if (o->tmp)
			unlink(o->tmp); /* created by O_EXCL just now */
	}
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
	o->why = why;
	return err;
}

int lsc_out_commit(struct lsc_out *o)
{
	int err = 0;

	if (o->f == stdout)
		return fflush(stdout) || ferror(stdout) ? (errno ? errno : EIO) : 0;
	errno = 0;
	if (fflush(o->f) || ferror(o->f))
		err = errno ? errno : EIO;
	if (fclose(o->f) && !err)
		err = errno ? errno : EIO;
	if (o->tmp && !err && rename(o->tmp, o->path))
		err = errno;
	if (o->tmp && err)
		unlink(o->tmp); /* ours: created with O_EXCL by lsc_out_open */
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
	return err;
}

void lsc_out_abort(struct lsc_out *o)
{
	if (o->f && o->f != stdout) {
		fclose(o->f);
		if (o->tmp)
			unlink(o->tmp); /* ours; a device written in place is left as it is */
	}
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
}

int lsc_cli_emit(const char *output, int (*render)(FILE *f, const void *ctx), const void *ctx)
{
	struct lsc_out out;
	int err = lsc_out_open(&out, output);

	if (err)
		return lsc_fail("cannot write '%s': %s", output, out.why ? out.why : strerror(err));
	errno = 0;
	err = render(out.f, ctx);
	if (err) {
		/* A renderer that failed on a write says EIO; the stream knows why (ENOSPC on
		 * /dev/full). */
		int why = ferror(out.f) && errno ? errno : 0;

		lsc_out_abort(&out);
		return lsc_fail("cannot write %s%s%s: %s", output ? "'" : "the output",
				output ? output : "", output ? "'" : "",
				why ? strerror(why) : lsc_strerror(err));
	}
	err = lsc_out_commit(&out);
	if (err)
		return lsc_fail("cannot write '%s': %s", output ? output : "-", strerror(err));
	return LSC_EXIT_OK;
}

int lsc_cli_read_recording(const char *path, struct lsc_recording **out)
{
	struct lsc_read_info info;
	int err = lsc_recording_read(path, out, &info);

	if (err == LSC_ECORRUPT || err == LSC_ETOOBIG)
		return lsc_fail("cannot read recording '%s': %s at byte %llu (after %llu good "
				"records); the file is damaged",
				path, lsc_strerror(err), (unsigned long long)info.error_at,
				(unsigned long long)info.records);
	if (err == LSC_ENEWER)
		return lsc_fail("cannot read recording '%s': format %d.%d was %s", path, info.major,
				info.minor, lsc_strerror(err));
	if (err == -ENOENT || err == -EACCES || err == -EISDIR)
		return lsc_fail("cannot open recording '%s': %s", path, lsc_strerror(err));
	if (err)
		return lsc_fail("cannot read recording '%s': %s", path, lsc_strerror(err));
	if (info.truncated)
		lsc_warn("recording '%s' is truncated at byte %llu after %llu records (the process "
			 "probably died); reading what is complete",
			 path, (unsigned long long)info.truncated_at,
			 (unsigned long long)info.records);
	return 0;
}

int lsc_cli_parse_num(const char *cmd, const char *opt, const char *v, uint64_t min, uint64_t max,
		      const char *unit, uint64_t *out)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
	if (*v < '0' || *v > '9' || *end)
		return lsc_usage_error(cmd, "'%s' is not a number for %s (%llu to %llu%s%s)", v,
				       opt, (unsigned long long)min, (unsigned long long)max,
				       *unit ? " " : "", unit);
	if (errno == ERANGE || n < min || n > max)
		return lsc_usage_error(cmd, "%s %s is out of range (%llu to %llu%s%s)", opt, v,
				       (unsigned long long)min, (unsigned long long)max,
				       *unit ? " " : "", unit);
	*out = n;
	return 0;
}

/* The filesystem stamps times from a coarse clock, up to a tick (10 ms at HZ=100) behind the
 * clock_gettime() reading a recording's start comes from. */
#define MTIME_SLACK_NS 20000000ULL

int lsc_cli_perf_map(unsigned pid, long long uid, uint64_t not_before_ns, char *path, size_t cap)
{
	struct stat st;
	uint64_t mtime;

	if (!pid)
		return 0;
	snprintf(path, cap, "/tmp/perf-%u.map", pid);
	/* lstat: a link is not the process's map. /tmp is sticky, so a map owned by the process's
	 * user cannot be swapped by another user between this check and the read. */
	if (lstat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	if (uid >= 0 ? st.st_uid != (uid_t)uid : st.st_uid != geteuid() && st.st_uid != 0)
		return 0;
	mtime = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
	return mtime + MTIME_SLACK_NS >= not_before_ns;
}

struct lsc_symbolizer *lsc_cli_symbolizer(const struct lsc_recording *r)
{
	struct lsc_symbolizer *s = NULL;
	char perf[64];

	if (lsc_symbolizer_from_recording(r, &s))
		return NULL;
	/* A recording does not say its process's user: the caller's own or root's map only. */
	if (r->header && r->header->pid &&
	    lsc_cli_perf_map(r->header->pid, -1, r->header->start_unix_ns, perf, sizeof(perf)))
		lsc_symbolizer_set_perf_map(s, perf);
	return s;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return lsc_usage_error(NULL, "no command given");
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("loopscope %s (recording format %d.%d)\n", LSC_VERSION, LSC_FORMAT_MAJOR,
		       LSC_FORMAT_MINOR);
		return LSC_EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		overview(stdout);
		return LSC_EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc >= 3 &&
		    !strcmp(argv[2], "--scdoc")) /* the man pages' source (manpage.c) */
			return lsc_cli_scdoc(argc > 3 ? argv[3] : NULL, stdout);
		if (argc < 3) {
			overview(stdout);
			return LSC_EXIT_OK;
		}
		return lsc_help(argv[2]);
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, argv[1]) == 0)
			return commands[i].run(argc - 1, argv + 1);
	return lsc_usage_error(NULL, "no command '%s'", argv[1]);
}

void lsc_cli_summary(const char *path, const char *subject, const char *verb, const char *how)
{
	static struct lsc_cli_set cs;
	struct lsc_report_set *rs = calloc(1, sizeof(*rs));
	const struct lsc_report_loops *set, *worst;
	const struct lsc_report *rep, *lead, *w;

	/* The recordings are symbolized by now: their own symbols are all the report needs. The
	 * set is read and reported once: its first process's lines, then its worst's. */
	if (!rs || lsc_cli_read_set(path, &cs) ||
	    lsc_report_build_set((const struct lsc_recording *const *)cs.r, cs.n, NULL, NULL, rs) ||
	    !(set = rs->p[0].loops) || !set->n) {
		fprintf(stderr, "loopscope: recording: %s\n", path);
		if (rs)
			lsc_report_set_free(rs);
		free(rs);
		lsc_cli_set_free(&cs);
		return;
	}
	/* the main loop's figures; the finding of the worst loop */
	lead = set->rep[set->lead];
	rep = set->main < set->n ? set->rep[set->main] : lead;
	if (rep->has_loop)
		fprintf(stderr,
			"loopscope: %s %s %.1f s (%s); ELU %.2f, lag p99 %.1f ms, %llu blocking "
			"calls (%.1f ms)%s\n",
			subject, verb, rep->duration_ns / 1e9, how, rep->elu_mean,
			rep->lag_p99 / 1e6, (unsigned long long)rep->blocking_count,
			rep->blocking_total_ns / 1e6,
			rep->loops_in_recording > 1 ? " on the main loop" : "");
	else
		fprintf(stderr, "loopscope: %s %s %.1f s (%s); no event loop\n", subject, verb,
			rep->duration_ns / 1e9, how);
	if (set->n > 1)
		fprintf(stderr, "loopscope: %zu loops; the worst: %s (ELU %.2f, lag p99 %.1f ms)\n",
			set->n, lead->loop_name, lead->elu_mean, lead->lag_p99 / 1e6);
	if (lead->nfindings)
		fprintf(stderr, "loopscope: %s: %s\n", lead->findings[0].title,
			lead->findings[0].evidence);
	else
		fprintf(stderr, "loopscope: no problem found by the default rules\n");
	/* the other processes of the set: the worst of them, when it is not this one */
	if (rs->lead && (worst = rs->p[rs->lead].loops) != NULL && worst->n) {
		w = worst->rep[worst->lead];
		fprintf(stderr, "loopscope: the worst of the %zu processes: pid %u, %s%s%s\n",
			rs->n, rs->p[rs->lead].pid, w->nfindings ? w->findings[0].title : "",
			w->nfindings ? ": " : "no finding",
			w->nfindings ? w->findings[0].evidence : "");
	}
	fprintf(stderr, "loopscope: recording: %s (loopscope report %s)\n", path, path);
	lsc_report_set_free(rs);
	free(rs);
	lsc_cli_set_free(&cs);
}
