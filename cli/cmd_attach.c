/*
 * cmd_attach.c — `loopscope attach -p PID`: attach loopscope's eBPF programs to a running process
 * (no restart, no flag), show one status line a second, stop at the duration or Ctrl-C (or when
 * the target exits), detach, finalize the recording (symbols, the JIT perf map), and print the
 * report's headline. The capture itself is bpf/attach.c.
 */
#include "cli.h"
#include "lsc_attach.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = sig;
}

int lsc_cli_parse_pid(const char *cmd, const char *v, int *pid)
{
	char *end;
	long n;

	errno = 0;
	n = *v >= '0' && *v <= '9' ? strtol(v, &end, 10) : 0;
	if (*v < '0' || *v > '9' || errno || *end || n <= 0 || n > 1 << 22)
		return lsc_usage_error(cmd, "'%s' is not a process id (1 to %d)", v, 1 << 22);
	*pid = (int)n;
	return 0;
}

#define MAX_DURATION_S (7 * 24 * 3600.0)

/* When the process started, wall clock ns: its perf map cannot be older (an older one is a
 * stale map of a reused PID). 0 when unknown. */
static uint64_t process_start_ns(int pid)
{
	struct timespec real, boot;
	unsigned long long ticks;
	char path[64], buf[1024], *p;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	for (i = 0; p && i < 20; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &ticks) != 1 || hz <= 0 ||
	    clock_gettime(CLOCK_REALTIME, &real) || clock_gettime(CLOCK_BOOTTIME, &boot))
		return 0;
	return (uint64_t)real.tv_sec * 1000000000ULL + (uint64_t)real.tv_nsec -
	       ((uint64_t)boot.tv_sec * 1000000000ULL + (uint64_t)boot.tv_nsec) +
	       ticks * (1000000000ULL / (unsigned long long)hz);
}

static void default_output(int pid, char *out, size_t cap)
{
	char path[64], comm[64] = "process", stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n/ ")] = 0;
		fclose(f);
	}
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(out, cap, "%s-%d-%s.lsr", comm, pid, stamp);
}

static void status_line(const struct lsc_attach_status *st, int tty)
{
	char pool[48] = "pool -";

	if (!st->have_window)
		return;
	if (st->pool_known)
		snprintf(pool, sizeof(pool), "pool depth %u (max %u)", st->pool_depth,
			 st->pool_depth_max);
	fprintf(stderr, "%s%6.1f s  ELU %.2f  lag p99 %6.1f ms%s  %s  events %llu  drops %llu%s",
		tty ? "\r\033[K" : "", st->elapsed_s, st->elu,
		lsc_hist_quantile(&st->lag, 0.99) / 1e6, st->frozen_s > 0 ? " (FROZEN)" : "", pool,
		(unsigned long long)st->events, (unsigned long long)st->dropped, tty ? "" : "\n");
	fflush(stderr);
}

/* One target: attach, record until the duration, Ctrl-C or its exit, detach, finalize. quiet:
 * no status lines (one of several targets); the primary's summary is the caller's. Returns the
 * exit code. */
static int attach_one(struct lsc_attach_opts o, const char *out, double secs, int quiet, int *gone)
{
	struct lsc_attach_status st;
	struct lsc_attach *a;
	char err[512], perf[64];
	const char *const *notes;
	int tty = !quiet && isatty(2), e;
	long long uid;
	uint64_t added, started;
	struct stat pst, made;
	enum lsc_out_kind kind;
	const char *why;

	/* Who the process is, for its perf map later: its user and its start. */
	snprintf(perf, sizeof(perf), "/proc/%d", o.pid);
	uid = stat(perf, &pst) == 0 ? (long long)pst.st_uid : -1;
	started = process_start_ns(o.pid);
	/* The recording, as run's: a new path is made here (O_EXCL | O_NOFOLLOW) and is then ours
	 * to remove if attaching fails; a device or FIFO is written in place and not read back; a
	 * link, or another user's file in /tmp, is refused (lsc__out_classify). */
	e = lsc__out_classify(out, &kind, &why);
	if (e)
		return lsc_fail("cannot create recording '%s': %s", out, why ? why : strerror(-e));
	if (kind == LSC_OUT_NEW) {
		int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

		if (fd < 0 || fstat(fd, &made)) {
			e = errno;
			if (fd >= 0)
				close(fd);
			return lsc_fail("cannot create recording '%s': %s", out, strerror(e));
		}
		close(fd);
	}
	o.output = out;
	e = lsc_attach_start(&o, &a, err, sizeof(err));
	if (e) {
		if (kind == LSC_OUT_NEW && lstat(out, &pst) == 0 && S_ISREG(pst.st_mode) &&
		    pst.st_dev == made.st_dev && pst.st_ino == made.st_ino)
			unlink(out); /* made above, in this run */
		return lsc_fail("%s", err);
	}
	for (notes = lsc_attach_notes(a); *notes; notes++)
		lsc_warn("PID %d: %s", o.pid, *notes);
	fprintf(stderr, "loopscope: attached to PID %d; %s\n", o.pid,
		secs > 0 ? "recording until the duration is over or Ctrl-C" : "Ctrl-C to stop");
	memset(&st, 0, sizeof(st));
	while (!stop_requested) {
		struct timespec step = {0, 100000000};

		if (lsc_attach_tick(a, &st) > 0 && !quiet)
			status_line(&st, tty);
		if (st.target_gone || (secs > 0 && st.elapsed_s >= secs))
			break;
		nanosleep(&step, NULL);
	}
	if (tty && st.have_window)
		fputc('\n', stderr);
	*gone = st.target_gone;
	e = lsc_attach_stop(a);
	if (e)
		return lsc_fail("could not write the recording '%s': %s", out, lsc_strerror(e));
	if (kind == LSC_OUT_INPLACE) {
		fprintf(stderr,
			"loopscope: PID %d recorded; the recording went to '%s' (not a regular file: "
			"not symbolized, no summary)\n",
			o.pid, out);
		return LSC_EXIT_OK;
	}
	/* Name the frames while the binaries (and node's perf map) are at hand. The map must be
	 * the target's own (lsc_cli_perf_map); its lower bound is the process's start, not the
	 * attach: node appends to its map only when it compiles, so the map of a process started
	 * an hour ago is legitimately older than this recording, while a stale map of a previous
	 * process with the same PID predates this one's start. */
	if (lsc_recording_symbolize(
		    out,
		    started && lsc_cli_perf_map((unsigned)o.pid, uid, started, perf, sizeof(perf))
			    ? perf
			    : NULL,
		    "/proc/kallsyms", &added))
		lsc_warn("could not add symbols to '%s'; 'loopscope symbolize' can retry", out);
	return LSC_EXIT_OK;
}

#define MAX_TARGETS 64

/* pid's descendants now, from /proc (run's scan), appended to pids; how many there are now. */
static int add_descendants(int pid, int *pids, int n)
{
	static struct lsc_run_tree t;
	size_t i;

	memset(&t, 0, sizeof(t));
	t.root = pid;
	lsc_run_tree_scan(&t);
	for (i = 0; i < t.n && n < MAX_TARGETS; i++) {
		int k;

		for (k = 0; k < n && pids[k] != t.d[i].pid; k++)
			;
		if (k == n)
			pids[n++] = t.d[i].pid;
	}
	return n;
}

/* The targets after the first, each attached by a process of its own writing OUT.PID into the
 * set; the first's recording notes each of them (recorded, or why not). */
static void note_others(const char *out, const int *pids, const int *codes, int n)
{
	struct lsc_writer *w;
	int i;

	if (lsc_writer_append_to(out, &w))
		return;
	for (i = 1; i < n; i++) {
		Loopscope__Record rec = LOOPSCOPE__RECORD__INIT;
		Loopscope__Process p = LOOPSCOPE__PROCESS__INIT;
		char exe[256] = "", path[64], why[96];
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/%d/exe", pids[i]);
		k = readlink(path, exe, sizeof(exe) - 1);
		exe[k > 0 ? k : 0] = 0;
		p.has_pid = p.has_recorded = p.has_node = 1;
		p.pid = (uint32_t)pids[i];
		p.executable = exe;
		p.node = strstr(exe, "/node") != NULL;
		p.recorded = codes[i] == 0;
		snprintf(why, sizeof(why), "attach failed (exit %d; its error is above)", codes[i]);
		if (!p.recorded)
			p.why = why;
		rec.body_case = LOOPSCOPE__RECORD__BODY_PROCESS;
		rec.process = &p;
		lsc_writer_append(w, &rec);
	}
	lsc_writer_close(w);
}

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"children", no_argument, NULL, 'C'},
		{"duration", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"cpu-hz", required_argument, NULL, 'c'},
		{"block-threshold", required_argument, NULL, 'b'},
		{"offcpu", no_argument, NULL, 'F'},
		{"stacks", required_argument, NULL, 's'},
		{"anyway", no_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lsc_attach_opts o = {
		.cpu_hz = 99, .block_threshold_ns = 1000000ULL, .window_ns = 1000000000ULL};
	int pids[MAX_TARGETS], codes[MAX_TARGETS] = {0}, npids = 0, children = 0, c, i, gone = 0,
			       code;
	pid_t workers[MAX_TARGETS] = {0};
	char out[4200], subject[128], set_id[40];
	struct sigaction sa;
	double secs = 0;
	uint64_t v;

	optind = 1;
	out[0] = 0;
	while ((c = getopt_long(argc, argv, "p:d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (npids == MAX_TARGETS)
				return lsc_usage_error("attach", "at most %d processes",
						       MAX_TARGETS);
			if (lsc_cli_parse_pid("attach", optarg, &pids[npids]))
				return LSC_EXIT_USAGE;
			npids++;
			break;
		case 'C':
			children = 1;
			break;
		case 'd':
			if (lsc_cli_parse_duration(optarg, MAX_DURATION_S, &secs))
				return lsc_usage_error("attach",
						       "'%s' is not a duration for --duration (10, "
						       "10s, 500ms, 2m; 1ms to 7 days)",
						       optarg);
			break;
		case 'o':
			snprintf(out, sizeof(out), "%s", optarg);
			break;
		case 'c':
		case 'b':
			if (lsc_cli_parse_num("attach", c == 'c' ? "--cpu-hz" : "--block-threshold",
					      optarg, 0, c == 'c' ? 10000 : 3600000,
					      c == 'c' ? "samples a second" : "ms", &v))
				return LSC_EXIT_USAGE;
			if (c == 'c')
				o.cpu_hz = (unsigned)v;
			else
				o.block_threshold_ns = v * 1000000ULL;
			break;
		case 'F':
			o.offcpu = 1;
			break;
		case 'A':
			o.any_target = 1;
			break;
		case 's':
			o.stacks_fp = !strcmp(optarg, "fp");
			o.stacks_dwarf = !strcmp(optarg, "dwarf");
			if (o.stacks_fp || o.stacks_dwarf || !strcmp(optarg, "auto"))
				break;
			return lsc_usage_error(
				"attach", "--stacks takes auto, fp or dwarf, not '%s'", optarg);
		case 'h':
			return lsc_help("attach");
		default:
			return lsc_usage_error("attach", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (!npids)
		return lsc_usage_error("attach", "which process? (loopscope attach -p PID)");
	if (optind < argc)
		return lsc_usage_error("attach", "unexpected argument '%s'", argv[optind]);
	if (!out[0])
		default_output(pids[0], out, sizeof(out));
	for (i = 0, c = npids; children && i < c; i++)
		npids = add_descendants(pids[i], pids, npids);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o.pid = pids[0];
	if (npids == 1) {
		code = attach_one(o, out, secs, 0, &gone);
		if (code)
			return code;
		snprintf(subject, sizeof(subject), "PID %d", o.pid);
		lsc_cli_summary(out, subject, "recorded",
				gone ? "the process exited during the capture" : "detached");
		return LSC_EXIT_OK;
	}
	/* Several: one set (OUT, and OUT.PID for the others), one attaching process each */
	{
		uint64_t r[2] = {(uint64_t)getpid() << 32 ^ process_start_ns(pids[0]),
				 (uint64_t)time(NULL)};

		if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
			/* the fallback above: unique enough for one host's recordings */
		}
		snprintf(set_id, sizeof(set_id), "%016llx%016llx", (unsigned long long)r[0],
			 (unsigned long long)r[1]);
		o.set_id = set_id;
	}
	fprintf(stderr, "loopscope: attaching to %d processes: one set, '%s' and '%s.PID'\n", npids,
		out, out);
	for (i = 1; i < npids; i++) {
		char mine[4300];

		fflush(NULL);
		workers[i] = fork();
		if (workers[i] == 0) {
			snprintf(mine, sizeof(mine), "%s.%d", out, pids[i]);
			o.pid = pids[i];
			_exit(attach_one(o, mine, secs, 1, &gone));
		}
		if (workers[i] < 0)
			codes[i] = LSC_EXIT_FAIL;
	}
	code = attach_one(o, out, secs, 0, &gone);
	for (i = 1; i < npids; i++) {
		struct timespec step = {0, 50000000};
		int status = 0, waited = 0;

		if (workers[i] <= 0)
			continue;
		/* the first target could not be attached: no set; the others stop, and what they
		 * wrote (files this run made, OUT.PID) goes */
		if (code) {
			char mine[4300];
			struct stat st;

			kill(workers[i], SIGTERM);
			while (waitpid(workers[i], &status, 0) < 0 && errno == EINTR)
				;
			snprintf(mine, sizeof(mine), "%s.%d", out, pids[i]);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !lstat(mine, &st) &&
			    S_ISREG(st.st_mode))
				unlink(mine);
			continue;
		}
		/* Ctrl-C reached them too; a SIGTERM to us must be passed on; when the first
		 * target ended (a cluster's primary), the others have 5 s to end with it */
		if (stop_requested)
			kill(workers[i], SIGTERM);
		while (waitpid(workers[i], &status, WNOHANG) == 0) {
			if (gone && ++waited == 100)
				kill(workers[i], SIGTERM);
			nanosleep(&step, NULL);
		}
		codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (code)
		return code;
	note_others(out, pids, codes, npids);
	snprintf(subject, sizeof(subject), "PID %d", pids[0]);
	lsc_cli_summary(out, subject, "recorded",
			gone ? "the process exited during the capture" : "detached");
	return LSC_EXIT_OK;
}
