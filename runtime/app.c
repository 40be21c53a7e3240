/*
 * app.c — the scenario harness (refloop_app.h): flags, server start, self-load, duration, the
 * deliberate crashes for post-mortem tests, stats, and the one-paragraph summary at exit.
 *
 * This is refloop's command line, so it is the one place in runtime/ that talks to the user:
 * errors are one line on stderr ("sync-read: cannot open 'x': No such file or directory"), exit
 * codes 0 ok, 1 failure, 2 usage.
 */
#include "refloop_app.h"
#include "rl_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
	double duration;
	uint64_t port;
	const char *host;
	uint64_t self_load;
	uint64_t requests;
	const char *stats;
	double die_after;
	const char *die_how;
	uint64_t quiet;
	uint64_t heap_budget;
	uint64_t wait_signal;
} cfg = {.duration = 10, .host = "127.0.0.1", .die_how = "segv"};

static const struct rl_app_opt common_opts[] = {
	{"duration", RL_OPT_DOUBLE, &cfg.duration,
	 "SEC  run this long, then stop (0: until SIGINT/SIGTERM)"},
	{"port", RL_OPT_U64, &cfg.port, "N    listen on this port (0: an ephemeral one, printed)"},
	{"host", RL_OPT_STRING, &cfg.host, "ADDR listen address (default 127.0.0.1)"},
	{"self-load", RL_OPT_U64, &cfg.self_load,
	 "CONNS drive the server with a loopback client of CONNS connections"},
	{"requests", RL_OPT_U64, &cfg.requests,
	 "N    stop the self-load client after N requests (0: no limit)"},
	{"stats", RL_OPT_STRING, &cfg.stats,
	 "FILE write ground-truth stats (JSON) at exit and on SIGUSR1"},
	{"die-after", RL_OPT_DOUBLE, &cfg.die_after,
	 "SEC  die this long after start (post-mortem tests)"},
	{"die-how", RL_OPT_STRING, &cfg.die_how, "HOW  segv | abort | kill (default segv)"},
	{"heap-budget", RL_OPT_U64, &cfg.heap_budget,
	 "BYTES allocation between collections at least (default 8 MiB)"},
	{"quiet", RL_OPT_U64, &cfg.quiet, "1    no summary at exit"},
	{"wait-signal", RL_OPT_U64, &cfg.wait_signal,
	 "1    start only on SIGUSR2 (a tool attaching first says when)"},
	{0},
};

static const struct rl_app *app;
static pid_t load_pid = -1;
static char temp_path[4096];

static void fail(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", app->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(FILE *f)
{
	const struct rl_app_opt *tables[2] = {app->opts, common_opts}, *o;
	int t;

	fprintf(f, "usage: %s [options]\n%s\n\noptions:\n", app->name, app->summary);
	for (t = 0; t < 2; t++)
		for (o = tables[t]; o && o->name; o++)
			fprintf(f, "  --%-12s %s\n", o->name, o->help);
}

static const struct rl_app_opt *find_opt(const char *name, size_t len)
{
	const struct rl_app_opt *tables[2] = {app->opts, common_opts}, *o;
	int t;

	for (t = 0; t < 2; t++)
		for (o = tables[t]; o && o->name; o++)
			if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
				return o;
	return NULL;
}

static void set_opt(const struct rl_app_opt *o, const char *v)
{
	char *end;

	errno = 0;
	switch (o->type) {
	case RL_OPT_U64:
		if (*v == '-')
			break;
		*(uint64_t *)o->dst = strtoull(v, &end, 10);
		if (!errno && end != v && !*end)
			return;
		break;
	case RL_OPT_DOUBLE:
		*(double *)o->dst = strtod(v, &end);
		if (!errno && end != v && !*end && *(double *)o->dst >= 0)
			return;
		break;
	case RL_OPT_STRING:
		*(const char **)o->dst = v;
		return;
	}
	fprintf(stderr, "%s: invalid value '%s' for --%s; see --help\n", app->name, v, o->name);
	exit(2);
}

static void parse(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *v;
		const struct rl_app_opt *o;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "%s: unexpected argument '%s'; see --help\n", app->name, a);
			exit(2);
		}
		eq = strchr(a + 2, '=');
		o = find_opt(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
		if (!o) {
			fprintf(stderr, "%s: unknown option '%s'; see --help\n", app->name, a);
			exit(2);
		}
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			fprintf(stderr, "%s: option '%s' needs a value; see --help\n", app->name,
				a);
			exit(2);
		}
		set_opt(o, v);
	}
	if (cfg.port > 65535) {
		fprintf(stderr, "%s: invalid port %llu; use 0-65535\n", app->name,
			(unsigned long long)cfg.port);
		exit(2);
	}
	if (strcmp(cfg.die_how, "segv") && strcmp(cfg.die_how, "abort") &&
	    strcmp(cfg.die_how, "kill")) {
		fprintf(stderr, "%s: invalid value '%s' for --die-how; use segv, abort or kill\n",
			app->name, cfg.die_how);
		exit(2);
	}
}

int rl_app_temp_file(uint64_t size, char *path, size_t cap)
{
	const char *dir = getenv("TMPDIR");
	uint64_t x = 0x243f6a8885a308d3ULL, done = 0;
	size_t i, piece = 1u << 20;
	uint64_t *buf;
	int err = 0;
	uv_fs_t req;
	uv_file fd;

	if (temp_path[0])
		return UV_EALREADY;
	if (snprintf(path, cap, "%s/refloop-%s-%d.dat", dir && *dir ? dir : "/tmp", app->name,
		     (int)getpid()) >= (int)cap)
		return UV_ENAMETOOLONG;
	buf = malloc(piece);
	if (!buf)
		return UV_ENOMEM;
	err = uv_fs_open(NULL, &req, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600, NULL);
	uv_fs_req_cleanup(&req);
	if (err < 0)
		goto out;
	fd = err;
	err = 0;
	snprintf(temp_path, sizeof(temp_path), "%s", path);
	while (done < size && !err) {
		size_t n = size - done < piece ? (size_t)(size - done) : piece;
		uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
		ssize_t w;

		for (i = 0; i < piece / 8; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = x;
		}
		w = uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL);
		uv_fs_req_cleanup(&req);
		if (w < 0)
			err = (int)w;
		else
			done += w;
	}
	uv_fs_close(NULL, &req, fd, NULL);
	uv_fs_req_cleanup(&req);
out:
	free(buf);
	return err;
}

static void remove_temp_file(void)
{
	if (temp_path[0])
		unlink(temp_path);
	temp_path[0] = 0;
}

/* ------------------------------------------------------------------ deliberate deaths */

static __attribute__((noinline)) void die_by_segv(void)
{
	volatile int *volatile p = NULL;

	*p = 1;
}

static void die_task(void *arg)
{
	/* Make sure a stats file exists even though the process is about to die. */
	rl_stats_write();
	if (strcmp(cfg.die_how, "abort") == 0)
		abort();
	if (strcmp(cfg.die_how, "kill") == 0)
		raise(SIGKILL);
	die_by_segv();
}

static void stop_task(void *arg)
{
	rl_stop();
}

/* ------------------------------------------------------------------ summary */

static void summary(void)
{
	struct rl__loop_stats ls;
	struct rl__http_stats hs;
	struct rl__pool_stats ps;
	struct rl_heap_stats gs;
	double busy_ms;

	rl__loop_stats_get(&ls);
	rl__http_stats_get(&hs);
	rl__pool_stats_get(&ps);
	rl_heap_stats_get(&gs);
	busy_ms = (ls.wall_ns > ls.idle_ns ? ls.wall_ns - ls.idle_ns : 0) / 1e6;
	printf("%s: %llu requests in %.1f s; ELU %.2f; loop busy %.1f ms per request\n", app->name,
	       (unsigned long long)hs.responses, ls.wall_ns / 1e9,
	       ls.wall_ns ? 1.0 - (double)ls.idle_ns / ls.wall_ns : 0.0,
	       hs.responses ? busy_ms / hs.responses : 0.0);
	printf("%s: GC %llu collections (pause total %.1f ms, max %.2f ms), live managed heap %.1f "
	       "MiB; thread-pool peak depth %llu; peak active handles %u\n",
	       app->name, (unsigned long long)gs.collections, gs.pause_total_ns / 1e6,
	       gs.pause_max_ns / 1e6, gs.live_after_gc / 1048576.0,
	       (unsigned long long)ps.peak_depth, ls.peak_active_handles);
	if (cfg.stats)
		printf("%s: ground truth in %s\n", app->name, cfg.stats);
}

static void stop_load(void)
{
	int status;

	if (load_pid <= 0)
		return;
	kill(load_pid, SIGTERM);
	while (waitpid(load_pid, &status, 0) < 0 && errno == EINTR)
		;
	load_pid = -1;
}

int rl_app_main(int argc, char **argv, const struct rl_app *a)
{
	struct rl_options opts = {0};
	struct rl_http_server *srv = NULL;
	struct rl_timer *t;
	char err_what[512] = "";
	int err, port;

	app = a;
	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (cfg.wait_signal) {
		sigset_t usr2;
		int sig;

		sigemptyset(&usr2);
		sigaddset(&usr2, SIGUSR2);
		sigprocmask(SIG_BLOCK, &usr2, NULL);
		fprintf(stderr, "%s: waiting for SIGUSR2 (pid %d)\n", app->name, (int)getpid());
		sigwait(&usr2, &sig);
		sigprocmask(SIG_UNBLOCK, &usr2, NULL);
	}
	opts.name = app->name;
	opts.stats_path = cfg.stats;
	opts.heap_min_budget = cfg.heap_budget;
	err = rl_init(&opts);
	if (err)
		fail(1, "cannot start the runtime: %s", uv_strerror(err));
	if (app->start) {
		err = app->start(err_what, sizeof(err_what));
		if (err) {
			remove_temp_file();
			fail(1, "%s: %s", err_what[0] ? err_what : "cannot start",
			     uv_strerror(err));
		}
	}
	err = rl_http_listen(cfg.host, (int)cfg.port, app->handler, NULL, &srv);
	if (err)
		remove_temp_file();
	if (err == UV_EADDRINUSE)
		fail(1,
		     "port %llu on %s is already in use; pick another with --port or use --port 0",
		     (unsigned long long)cfg.port, cfg.host);
	if (err)
		fail(1, "cannot listen on %s:%llu: %s", cfg.host, (unsigned long long)cfg.port,
		     uv_strerror(err));
	port = rl_http_server_port(srv);
	if (!cfg.quiet)
		printf("%s: listening on http://%s:%d/ (pid %d)\n", app->name, cfg.host, port,
		       (int)getpid());
	fflush(stdout);

	if (cfg.duration > 0 &&
	    rl_set_timeout((uint64_t)(cfg.duration * 1000), stop_task, NULL, &t))
		fail(1, "cannot start the duration timer");
	if (cfg.die_after > 0) {
		if (rl_set_timeout((uint64_t)(cfg.die_after * 1000), die_task, NULL, &t))
			fail(1, "cannot start the --die-after timer");
		rl_timer_unref(t);
	}
	if (cfg.self_load) {
		struct rl_load_opts lo = {
			.host = cfg.host,
			.port = port,
			.conns = (int)cfg.self_load,
			.duration_s = cfg.duration,
			.max_requests = cfg.requests,
			.path = app->load_path ? app->load_path : "/",
			.read_bps = app->load_read_bps,
		};

		err = rl_load_spawn(&lo, &load_pid);
		if (err)
			fail(1, "cannot start the self-load client: %s", uv_strerror(err));
	}

	rl_run();
	stop_load();
	if (app->finish)
		app->finish();
	remove_temp_file();
	err = rl_stats_write();
	if (err)
		fail(1, "cannot write stats to '%s': %s", cfg.stats, uv_strerror(err));
	if (!cfg.quiet)
		summary();
	rl_release();
	return 0;
}
