/*
 * cmd_exporter.c — `loopscope exporter`: watches the host for processes running a libuv event
 * loop (Node.js, refloop, anything with libuv in its executable or libraries), attaches to each
 * within a second or two of its start with the same eBPF programs as attach (no recording, no
 * CPU samples), detaches when it exits, and serves their figures to Prometheus
 * (exporter_http.c, exporter_metrics.c). docs/exporter.md.
 */
#include "cli.h"
#include "exporter.h"
#include "target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS   64
#define MAX_DIRS   16
#define SCAN_NS	   1000000000ULL /* how often /proc is looked at for new processes */
#define TICK_NS	   100000000ULL	 /* how often the sessions read the kernel's totals */
#define SKIP_SLOTS 4096		 /* processes judged not to be watched, remembered */
#define EXE_SLOTS  256		 /* executables judged, by device and inode */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = sig;
}

struct opts {
	const char *listen;
	const char *dirs[MAX_DIRS]; /* --recordings */
	size_t ndirs;
	int attach; /* eBPF: root */
	int pids[MAX_PIDS], npids;
	regex_t match;
	int have_match;
	uint64_t block_ns, window_ns;
	int pool_wait;		/* --pool-wait: the submission probes */
	int syscall_probes;	/* --syscall-probes: attach's loop programs, on every syscall */
	struct ex_rec_opts rec; /* --record-dir */
};

/* Processes looked at and not watched (no libuv, not matched, attach failed), by PID and start:
 * not looked at again until the PID is another process. */
static struct {
	int pid;
	unsigned long long start;
	ino_t exe; /* a process that execs is judged again */
} skip[SKIP_SLOTS];

static struct {
	dev_t dev;
	ino_t ino;
	int libuv; /* 1 has uv_run, 0 not */
} exes[EXE_SLOTS];
static unsigned nexes;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static unsigned long long start_of(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (lsc__read_small(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	/* after "comm)": state is field 3; starttime is field 22 */
	for (i = 3; i <= 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

static ino_t exe_ino(int pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return stat(path, &st) ? 0 : st.st_ino;
}

static int skipped(int pid, unsigned long long start, ino_t exe)
{
	unsigned h = (unsigned)pid % SKIP_SLOTS;

	return skip[h].pid == pid && skip[h].start == start && skip[h].exe == exe;
}

static void skip_add(int pid, unsigned long long start, ino_t exe)
{
	unsigned h = (unsigned)pid % SKIP_SLOTS;

	skip[h].pid = pid;
	skip[h].start = start;
	skip[h].exe = exe;
}

/* Whether PID runs libuv: its executable (judged once per file) or a shared libuv it maps. */
static int runs_libuv(int pid)
{
	char path[64];
	struct stat st;
	unsigned i;
	int yes;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st))
		return 0; /* a kernel thread, or gone */
	for (i = 0; i < nexes; i++)
		if (exes[i].dev == st.st_dev && exes[i].ino == st.st_ino)
			return exes[i].libuv || lsc__maps_libuv(pid);
	yes = lsc__exe_has_libuv(path);
	if (nexes < EXE_SLOTS) {
		exes[nexes].dev = st.st_dev;
		exes[nexes].ino = st.st_ino;
		exes[nexes++].libuv = yes;
	}
	return yes || lsc__maps_libuv(pid);
}

/* The command line, arguments joined by spaces. */
static int cmdline_of(int pid, char *buf, size_t cap)
{
	char path[64];
	int n, i;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	n = lsc__read_small(path, buf, cap);
	if (n <= 0)
		return -1;
	for (i = 0; i < n - 1; i++)
		if (!buf[i])
			buf[i] = ' ';
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* The service of PID (ex_service), from its environment and command line. */
static void service_of(int pid, const char *exe, char *out, size_t cap)
{
	static char env[65536], cmd[65536];
	const char *argv[256];
	char path[64];
	int n, m, i;
	size_t argc = 0;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	n = lsc__read_small(path, env, sizeof(env));
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	m = lsc__read_small(path, cmd, sizeof(cmd));
	for (i = 0; m > 0 && i < m && argc < 256; i += (int)strlen(cmd + i) + 1)
		argv[argc++] = cmd + i;
	ex_service(n > 0 ? env : NULL, n > 0 ? (size_t)n : 0, argv, argc, exe, out, cap);
}

static int wanted(const struct opts *o, int pid)
{
	char cmd[4096];
	int i;

	if (o->npids) {
		for (i = 0; i < o->npids; i++)
			if (o->pids[i] == pid)
				break;
		if (i == o->npids)
			return 0;
	}
	if (o->have_match &&
	    (cmdline_of(pid, cmd, sizeof(cmd)) || regexec(&o->match, cmd, 0, NULL, 0) != 0))
		return 0;
	return runs_libuv(pid);
}

static struct ex_proc *watch(struct opts *o, int pid, unsigned long long start,
			     struct ex_self *self)
{
	struct lsc_attach_opts ao = {.pid = pid,
				     .block_threshold_ns = o->block_ns,
				     .window_ns = o->window_ns,
				     .no_pool_probes = !o->pool_wait,
				     .switch_loop = !o->syscall_probes};
	struct ex_proc *p = calloc(1, sizeof(*p));
	char path[64], err[512];
	ssize_t n;
	int e;

	if (!p)
		return NULL;
	p->pid = pid;
	p->start_ticks = start;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = 0;
	service_of(pid, p->exe, p->service, sizeof(p->service));
	if (o->rec.dir && !ex_rec_begin(&o->rec, p, &ao))
		o->rec.tee = NULL; /* (the tests' copy: the first session's) */
	e = lsc_attach_start(&ao, &p->a, err, sizeof(err));
	if (e) {
		if (lsc__target_alive(pid)) {
			lsc_warn("not watching PID %d (%s): %s", pid, p->service, err);
			self->attach_errors++;
		}
		ex_rec_abandon(p);
		free(p);
		return NULL;
	}
	fprintf(stderr, "loopscope exporter: watching PID %d (%s, %s; %s%s%s)\n", pid, p->service,
		base_name(p->exe), o->syscall_probes ? "its syscalls" : "the scheduler's switches",
		p->rec ? "; recording in " : "", p->rec ? ao.output : "");
	self->attached++;
	return p;
}

/* Looks at every process not yet judged; attaches to the ones to watch. */
static void scan(struct opts *o, struct ex_proc **procs, struct ex_self *self)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int me = getpid();

	while (d && (e = readdir(d))) {
		struct ex_proc *p;
		unsigned long long start;
		int pid = atoi(e->d_name);
		ino_t exe;

		if (pid <= 0 || pid == me)
			continue;
		for (p = *procs; p && p->pid != pid; p = p->next)
			;
		if (p && p->follow)
			continue; /* its recording serves it */
		start = start_of(pid);
		if ((p && p->start_ticks == start) || !start)
			continue;
		exe = exe_ino(pid);
		if (!exe || skipped(pid, start, exe))
			continue; /* a kernel thread, gone, or judged */
		if (!wanted(o, pid) || !(p = watch(o, pid, start, self))) {
			skip_add(pid, start, exe);
			continue;
		}
		p->next = *procs;
		*procs = p;
		self->targets++;
	}
	if (d)
		closedir(d);
}

/* Ticks every session; folds the windows that closed; ends the ones whose process exited.
 * Whether anything changed. */
static int tick(const struct opts *o, struct ex_proc **procs, struct ex_self *self)
{
	static struct lsc_attach_status st;
	struct ex_proc **pp = procs, *p;
	int changed = 0, r;

	while ((p = *pp)) {
		if (!p->a) { /* followed: exporter_follow.c */
			pp = &p->next;
			continue;
		}
		memset(&st, 0, sizeof(st));
		r = lsc_attach_tick(p->a, &st);
		if (r > 0) {
			ex_fold(p, &st);
			ex_rec_window(&o->rec, p);
			changed = 1;
		}
		if (r < 0 || st.target_gone || !lsc__target_alive(p->pid)) {
			ex_drop(pp, self);
			changed = 1;
			continue;
		}
		pp = &p->next;
	}
	return changed;
}

static void publish(const struct ex_proc *procs, const struct ex_self *self)
{
	size_t tl = 0, ol = 0;
	char *t = ex_render(procs, self, 0, &tl), *om = ex_render(procs, self, 1, &ol);

	if (t && om)
		ex_http_publish(t, tl, om, ol);
	else {
		free(t);
		free(om);
	}
}

/* 500M, 20G, 1T, or bytes; at least 1 MiB. */
static int parse_size(const char *v, uint64_t *out)
{
	unsigned long long n;
	char *end;
	int shift = 0;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end == 'K')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	else if (*end == 'T')
		shift = 40;
	if (errno || (*end && (!shift || end[1])) || n > (~0ULL >> shift) ||
	    (n << shift) < (1ULL << 20))
		return -1;
	*out = (uint64_t)n << shift;
	return 0;
}

static int opendir_ok(const char *dir)
{
	DIR *d = opendir(dir);

	if (d)
		closedir(d);
	return d != NULL;
}

int cmd_exporter(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"pid", required_argument, NULL, 'p'},
		{"match", required_argument, NULL, 'm'},
		{"block-threshold", required_argument, NULL, 'b'},
		{"recordings", required_argument, NULL, 'r'},
		{"pool-wait", no_argument, NULL, 'w'},
		{"syscall-probes", no_argument, NULL, 's'},
		{"record-dir", required_argument, NULL, 'R'},
		{"segment", required_argument, NULL, 'S'},
		{"retain-size", required_argument, NULL, 'Z'},
		{"retain-age", required_argument, NULL, 'A'},
		{"cpu-hz", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {.listen = "127.0.0.1:9464",
			 .block_ns = 1000000ULL,
			 .window_ns = 1000000000ULL,
			 .rec = {.segment_ns = 60000000000ULL,
				 .max_bytes = 1ULL << 30,
				 .max_age_ns = 86400000000000ULL,
				 .cpu_hz = 49}};
	double secs;
	struct ex_proc *procs = NULL, *p;
	struct ex_self self = {0};
	struct sigaction sa;
	uint64_t next_scan = 0, v;
	char err[512];
	int c, e;

	optind = 1;
	opterr = 0; /* one line of ours, not getopt's too */
	while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o.listen = optarg;
			break;
		case 'p':
			if (o.npids == MAX_PIDS)
				return lsc_usage_error("exporter", "at most %d -p", MAX_PIDS);
			if (lsc_cli_parse_pid("exporter", optarg, &o.pids[o.npids]))
				return LSC_EXIT_USAGE;
			o.npids++;
			break;
		case 'm':
			if (o.have_match)
				regfree(&o.match);
			e = regcomp(&o.match, optarg, REG_EXTENDED | REG_NOSUB);
			if (e) {
				regerror(e, NULL, err, sizeof(err));
				return lsc_usage_error("exporter", "--match '%s': %s", optarg, err);
			}
			o.have_match = 1;
			break;
		case 'b':
			if (lsc_cli_parse_num("exporter", "--block-threshold", optarg, 0, 60000,
					      "ms", &v))
				return LSC_EXIT_USAGE;
			o.block_ns = v * 1000000ULL;
			break;
		case 'r':
			if (o.ndirs == MAX_DIRS)
				return lsc_usage_error("exporter", "at most %d --recordings",
						       MAX_DIRS);
			if (!opendir_ok(optarg))
				return lsc_usage_error("exporter",
						       "--recordings '%s': not a directory this "
						       "user can read",
						       optarg);
			o.dirs[o.ndirs++] = optarg;
			break;
		case 'w':
			o.pool_wait = 1;
			break;
		case 's':
			o.syscall_probes = 1;
			break;
		case 'R':
			o.rec.dir = optarg;
			break;
		case 'S':
		case 'A':
			if (lsc_cli_parse_duration(optarg, 366 * 86400.0, &secs) ||
			    (c == 'S' && secs < 5))
				return lsc_usage_error(
					"exporter",
					"%s '%s': not a duration (%s to 366d: 30s, 10m, "
					"24h)",
					c == 'S' ? "--segment" : "--retain-age", optarg,
					c == 'S' ? "5s" : "1ms");
			*(c == 'S' ? &o.rec.segment_ns : &o.rec.max_age_ns) =
				(uint64_t)(secs * 1e9);
			break;
		case 'Z':
			if (parse_size(optarg, &o.rec.max_bytes))
				return lsc_usage_error(
					"exporter",
					"--retain-size '%s': not a size (500M, 20G, or "
					"bytes; at least 1M)",
					optarg);
			break;
		case 'c':
			if (lsc_cli_parse_num("exporter", "--cpu-hz", optarg, 0, 1000,
					      "samples a second", &v))
				return LSC_EXIT_USAGE;
			o.rec.cpu_hz = (unsigned)v;
			break;
		case 'h':
			return lsc_help("exporter");
		default:
			return lsc_usage_error("exporter", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return lsc_usage_error("exporter", "unexpected argument '%s'", argv[optind]);
	if (ex_http_check(o.listen, err, sizeof(err)))
		return lsc_usage_error("exporter", "%s", err);
	if (!o.rec.dir && (o.rec.segment_ns != 60000000000ULL || o.rec.max_bytes != 1ULL << 30 ||
			   o.rec.max_age_ns != 86400000000000ULL || o.rec.cpu_hz != 49))
		return lsc_usage_error("exporter", "--segment, --retain-size, --retain-age and "
						   "--cpu-hz are for --record-dir");
	o.rec.tee = getenv("LOOPSCOPE_TEST_RECORD_TEE");
	for (c = 0; c < o.npids; c++) /* -p names processes that run now */
		if (!lsc__target_alive(o.pids[c]))
			return lsc_fail("no process %d (-p takes running processes; --match waits "
					"for ones to come)",
					o.pids[c]);
	/* eBPF needs root; the recordings of processes under the agent do not */
	o.attach = !lsc__no_privileges(err, sizeof(err));
	if (!o.attach && !o.ndirs)
		return lsc_fail("%s; or serve the processes that run under the agent with "
				"--recordings DIR, which needs no privilege",
				err);
	if (!o.attach)
		lsc_warn("no eBPF here (%s): serving the recordings in --recordings only%s", err,
			 o.rec.dir ? " (--record-dir records the processes it attaches to)" : "");
	if (o.rec.dir && ex_rec_dir_check(o.rec.dir, err, sizeof(err)))
		return lsc_fail("%s", err);
	if (ex_http_start(o.listen, err, sizeof(err)))
		return lsc_fail("%s", err);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "loopscope exporter: serving http://%s/metrics\n", o.listen);
	publish(procs, &self);
	while (!stop_requested) {
		struct timespec step = {0, (long)TICK_NS};
		uint64_t now = now_ns();
		int changed;

		if (now >= next_scan) {
			unsigned before = self.targets;

			/* recordings first: a process they serve is not attached to */
			ex_follow_tick(o.dirs, o.ndirs, &procs, &self, 1);
			if (o.attach)
				scan(&o, &procs, &self);
			next_scan = now + SCAN_NS;
			ex_rec_retain(&o.rec, procs, 0);
			if (self.targets != before)
				publish(procs, &self);
		}
		changed = tick(&o, &procs, &self);
		changed |= ex_follow_tick(o.dirs, o.ndirs, &procs, &self, 0);
		if (changed)
			publish(procs, &self);
		nanosleep(&step, NULL);
	}
	ex_http_stop();
	while ((p = procs)) {
		procs = p->next;
		if (p->a)
			lsc_attach_stop(p->a);
		ex_follow_free(p);
		ex_rec_end(p);
		free(p);
	}
	if (o.have_match)
		regfree(&o.match);
	return LSC_EXIT_OK;
}
