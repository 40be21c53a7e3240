/*
 * test_attach.c — `loopscope attach` on running processes, as root (as CI runs): refloop scenarios
 * against their own --stats, and Node.js 20 (/usr/bin/node) scripts against what Node measures
 * itself (perf_hooks, --trace-gc). Each case starts the target, attaches, tells the target to
 * begin (SIGUSR2) once attach says it is in place, and reads the recording attach leaves when
 * the target exits.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "attach_run.h"
#include "lsc_recording.h"

#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static double elu_of(const struct lsc_recording *r, uint64_t *from, uint64_t *to)
{
	uint32_t main_tid = lsc_recording_main_loop(r);
	double idle = 0, wall = 0;
	size_t i;

	*from = UINT64_MAX;
	*to = 0;
	for (i = 0; i < r->nwindows; i++) {
		const Loopscope__Window *w = r->windows[i];

		if (w->loop_tid != main_tid)
			continue;
		wall += (double)w->length_ns;
		idle += (1 - w->elu) * (double)w->length_ns;
		if (w->start_ns < *from)
			*from = w->start_ns;
		if (w->start_ns + w->length_ns > *to)
			*to = w->start_ns + w->length_ns;
	}
	ASSERT_CMP(wall, >, 0);
	return 1 - idle / wall;
}

/* ------------------------------------------------------------------ refloop */

static void run_scenario(const char *name, const char *const *extra, const char *rec,
			 const char *stats)
{
	const char *argv[24] = {NULL};
	char exe[512], out[64], err[64], alog[64];
	pid_t t, a;
	int n = 0, i;

	snprintf(exe, sizeof(exe), "%s/examples/%s", LSC_BUILD_DIR, name);
	argv[n++] = exe;
	argv[n++] = "--stats";
	argv[n++] = stats;
	argv[n++] = "--wait-signal";
	argv[n++] = "1";
	for (i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	/* files of their own: a stale one would say "ready" too early */
	snprintf(out, sizeof(out), "%s.out", name);
	snprintf(err, sizeof(err), "%s.err", name);
	snprintf(alog, sizeof(alog), "%s.attach", name);
	t = proc_spawn(argv, path(out), path(err), NULL);
	wait_text(path(err), "waiting for SIGUSR2", 10);
	a = attach(t, rec, path(alog), NULL);
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
}

TEST(refloop_elu_pool_depth_and_handles)
{
	static const char *load[] = {"--duration", "3", "--self-load", "2", NULL};
	struct lsc_recording *r;
	json_object *st;
	uint64_t from, to;
	uint32_t peak = 0, prev = 0, rises = 0, most = 0;
	double blocked = 0, under = 0;
	size_t i;

	capture_setup("attach");
	/* ELU over the whole run: attach was in place before the scenario began. */
	run_scenario("healthy", load, path("healthy.lsr"), path("healthy.json"));
	r = read_rec(path("healthy.lsr"));
	st = json_file(path("healthy.json"));
	ASSERT_STR_EQ(r->header->source, "bpf");
	printf("# healthy ELU: recorded %.3f, --stats %.3f\n", elu_of(r, &from, &to),
	       json_at(st, "loop", "elu"));
	ASSERT_CMP(fabs(elu_of(r, &from, &to) - json_at(st, "loop", "elu")), <=, 0.02);
	json_object_put(st);
	lsc_recording_free(r);

	run_scenario("sync-read", load, path("sync.lsr"), path("sync.json"));
	r = read_rec(path("sync.lsr"));
	st = json_file(path("sync.json"));
	ASSERT_CMP(fabs(elu_of(r, &from, &to) - json_at(st, "loop", "elu")), <=, 0.02);
	/* The blocking reads, unwound through Debian's libuv (no frame pointers) to the handler. */
	for (i = 0; i < r->nevents; i++) {
		const Loopscope__BlockingEvent *b = r->events[i]->blocking;

		if (r->events[i]->body_case != LOOPSCOPE__EVENT__BODY_BLOCKING)
			continue;
		blocked += (double)b->duration_ns;
		if (stack_has(r, b->stack_id, "handle_video"))
			under += (double)b->duration_ns;
	}
	printf("# sync-read: %.0f ms blocked, %.0f %% under handle_video\n", blocked / 1e6,
	       100 * under / blocked);
	ASSERT_CMP(blocked, >, 1e9);
	ASSERT_CMP(under / blocked, >=, 0.9);
	json_object_put(st);
	lsc_recording_free(r);

	/* The pool's peak queue depth, as refloop counts it at each submit. */
	run_scenario("pool-saturation", load, path("pool.lsr"), path("pool.json"));
	r = read_rec(path("pool.lsr"));
	st = json_file(path("pool.json"));
	for (i = 0; i < r->nwindows; i++)
		if (r->windows[i]->pool_depth_max > peak)
			peak = r->windows[i]->pool_depth_max;
	printf("# pool-saturation: peak depth %u recorded, %.0f by refloop\n", peak,
	       json_at(st, "pool", "peak_depth"));
	ASSERT_CMP(fabs(peak - json_at(st, "pool", "peak_depth")), <=, 1);
	json_object_put(st);
	lsc_recording_free(r);

	/* Leaked handles: the active-handle count climbs window after window. */
	run_scenario("handle-leak", load, path("leak.lsr"), path("leak.json"));
	r = read_rec(path("leak.lsr"));
	for (i = 0; i < r->nwindows; i++) {
		if (!r->windows[i]->has_active_handles)
			continue;
		rises += r->windows[i]->active_handles > prev;
		prev = r->windows[i]->active_handles;
		most = prev > most ? prev : most;
	}
	printf("# handle-leak: active handles rose in %u windows, to %u\n", rises, most);
	ASSERT_CMP(rises, >=, 2);
	ASSERT_CMP(most, >=, 20);
	lsc_recording_free(r);
}

/* ------------------------------------------------------------------ Node.js */

static char node_out[600]; /* the last node's stdout */

static pid_t node(const char *mode, const char *out, const char *flag, const char *env)
{
	const char *argv[8] = {"/usr/bin/node"};
	int n = 1;
	pid_t t;

	if (access("/usr/bin/node", X_OK))
		LSC_FAIL("/usr/bin/node is missing: Node.js 20 is the real-world target");
	if (flag)
		argv[n++] = flag;
	argv[n++] = LSC_SOURCE_DIR "/tests/bpf/node_target.js";
	argv[n++] = mode;
	argv[n++] = out;
	argv[n] = NULL;
	snprintf(node_out, sizeof(node_out), "%s", path(mode));
	strcat(node_out, ".out");
	t = proc_spawn(argv, node_out, path("node.err"), env);
	wait_text(node_out, "ready", 20);
	return t;
}

static void node_phase(pid_t t, pid_t a)
{
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
}

/* Node's own ELU over [from, to] (CLOCK_MONOTONIC ns), from its 20 ms timeline. */
static double node_elu(json_object *o, uint64_t from, uint64_t to)
{
	json_object *tl;
	double i0 = -1, a0 = 0, i1 = 0, a1 = 0;
	size_t i, n;

	if (!json_object_object_get_ex(o, "timeline", &tl))
		LSC_FAIL("no timeline");
	n = json_object_array_length(tl);
	for (i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(tl, i);
		double t = json_object_get_double(json_object_array_get_idx(s, 0));

		if (t < (double)from || t > (double)to)
			continue;
		if (i0 < 0) {
			i0 = json_object_get_double(json_object_array_get_idx(s, 1));
			a0 = json_object_get_double(json_object_array_get_idx(s, 2));
		}
		i1 = json_object_get_double(json_object_array_get_idx(s, 1));
		a1 = json_object_get_double(json_object_array_get_idx(s, 2));
	}
	ASSERT_CMP(i0, >=, 0);
	return (a1 - a0) / ((a1 - a0) + (i1 - i0));
}

TEST(node_elu_lag_and_gc)
{
	static struct lsc_hist all;
	struct lsc_recording *r;
	json_object *o;
	uint64_t from, to;
	double ours, theirs, lag_p99 = 0;
	size_t i, gcs = 0, lines = 0;
	double pause_ms = 0, trace_ms = 0;
	char buf[1 << 16], *p;
	pid_t t, a;
	int fd;
	ssize_t n;

	capture_setup("attach");
	/* ELU over the same stretch of time, and lag p99 against monitorEventLoopDelay. */
	t = node("loop", path("loop.json"), NULL, NULL);
	a = attach(t, path("loop.lsr"), path("attach.err"), NULL);
	node_phase(t, a);
	r = read_rec(path("loop.lsr"));
	o = json_file(path("loop.json"));
	/* Over the windows wholly inside the load (after "go", before the end of Node's timeline),
	 * and Node's own ELU over exactly that span. */
	{
		uint64_t go = (uint64_t)json_at(o, "go_ns", NULL) - r->header->start_mono_ns;
		double idle = 0, wall = 0;

		from = UINT64_MAX;
		to = 0;
		for (i = 0; i < r->nwindows; i++) {
			const Loopscope__Window *w = r->windows[i];

			if (w->loop_tid != lsc_recording_main_loop(r) || w->start_ns < go ||
			    w->length_ns < 500000000)
				continue;
			wall += (double)w->length_ns;
			idle += (1 - w->elu) * (double)w->length_ns;
			from = w->start_ns < from ? w->start_ns : from;
			to = w->start_ns + w->length_ns > to ? w->start_ns + w->length_ns : to;
		}
		ASSERT_CMP(wall, >, 1e9);
		ours = 1 - idle / wall;
	}
	theirs = node_elu(o, r->header->start_mono_ns + from, r->header->start_mono_ns + to);
	printf("# node ELU: recorded %.3f, perf_hooks %.3f\n", ours, theirs);
	/* the lag over the loaded windows (before "go" the loop idled, timers firing on time) */
	lsc_hist_init(&all);
	for (i = 0; i < r->nwindows; i++) {
		struct lsc_hist h;

		if (r->windows[i]->loop_tid != lsc_recording_main_loop(r) ||
		    r->windows[i]->elu < 0.2 || lsc_hist_from_proto(&h, r->windows[i]->lag))
			continue;
		lsc_hist_merge(&all, &h);
	}
	lag_p99 = (double)lsc_hist_quantile(&all, 0.99);
	printf("# node lag p99: recorded %.2f ms, monitorEventLoopDelay %.2f ms\n", lag_p99 / 1e6,
	       json_at(o, "lag_p99_ns", NULL) / 1e6);
	ASSERT_CMP(fabs(ours - theirs), <=, 0.02);
	ASSERT_CMP(fabs(lag_p99 - json_at(o, "lag_p99_ns", NULL)), <=, 2e6);
	json_object_put(o);
	lsc_recording_free(r);

	/* GC pauses: the same count as --trace-gc's lines after "go". */
	t = node("gc", path("gc.json"), "--trace-gc", NULL);
	a = attach(t, path("gc.lsr"), path("attach.err"), NULL);
	node_phase(t, a);
	fd = open(node_out, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strstr(buf, "go\n");
	ASSERT_TRUE(p != NULL);
	/* "[pid:0x..]   123 ms: Scavenge 4.1 (4.6) -> 3.8 (5.6) MB, 0.85 / 0.00 ms  (...)" */
	for (; (p = strstr(p, " ms: ")); p++) {
		char *mb = strstr(p, "MB, ");

		lines++;
		if (mb)
			trace_ms += atof(mb + 4);
	}
	r = read_rec(path("gc.lsr"));
	for (i = 0; i < r->nevents; i++)
		if (r->events[i]->body_case == LOOPSCOPE__EVENT__BODY_GC) {
			gcs++;
			pause_ms += (double)r->events[i]->gc->pause_ns / 1e6;
		}
	printf("# node GC: %zu recorded (%.1f ms), %zu --trace-gc lines (%.1f ms)\n", gcs, pause_ms,
	       lines, trace_ms);
	ASSERT_CMP(lines, >=, 5);
	ASSERT_EQ(gcs, lines);
	ASSERT_CMP(fabs(pause_ms / trace_ms - 1), <=, 0.05);
	/* Where only the eBPF path ran, the heap timeline is the RSS at each GC's end. */
	{
		const char *heap[] = {
			LSC_BUILD_DIR "/loopscope", "heap", path("gc.lsr"), "--json", "-o",
			path("gc-heap.json"),	    NULL};
		struct proc hp;
		json_object *h, *m, *pts, *flag;

		proc_run(&hp, heap, 60, NULL);
		ASSERT_EQ(WEXITSTATUS(hp.status), 0);
		h = json_file(path("gc-heap.json"));
		ASSERT_TRUE(json_object_object_get_ex(h, "managed_is_rss_at_gc", &flag) &&
			    json_object_get_boolean(flag));
		ASSERT_TRUE(json_object_object_get_ex(h, "managed", &m) &&
			    json_object_object_get_ex(m, "points", &pts));
		ASSERT_EQ(json_object_array_length(pts), gcs);
		json_object_put(h);
	}
	lsc_recording_free(r);
}

TEST(node_pool_handles_and_cpu)
{
	struct lsc_recording *r;
	uint32_t peak = 0, tcp_max = 0, tcp_last = 0;
	size_t i, k;
	pid_t t, a;
	struct proc p;
	const char *flame[] = {
		LSC_BUILD_DIR "/loopscope", "flame", NULL, "--format", "folded", "-o", NULL, NULL};
	char buf[1 << 20], *line;
	double hot = 0, all = 0, gone;
	ssize_t n;
	int fd;

	capture_setup("attach");
	/* 32 pbkdf2 jobs on 4 threads: the queue holds the other 28 or so. */
	t = node("pool", path("pool.json"), NULL, "UV_THREADPOOL_SIZE=4");
	a = attach(t, path("pool.lsr"), path("attach.err"), NULL);
	node_phase(t, a);
	r = read_rec(path("pool.lsr"));
	for (i = 0; i < r->nwindows; i++)
		if (r->windows[i]->pool_depth_max > peak)
			peak = r->windows[i]->pool_depth_max;
	printf("# node pool: peak depth %u\n", peak);
	/* 32 at most: all of them queued before a worker took one, as on a busy machine */
	ASSERT_CMP(peak, >=, 27);
	ASSERT_CMP(peak, <=, 32);
	lsc_recording_free(r);

	/* 10 clients connected: 11 tcp handles (the listener too), then back to 1. */
	t = node("tcp", path("tcp.json"), NULL, NULL);
	a = attach(t, path("tcp.lsr"), path("attach.err"), NULL);
	node_phase(t, a);
	r = read_rec(path("tcp.lsr"));
	for (i = 0; i < r->nwindows; i++)
		for (k = 0; k < r->windows[i]->n_handles; k++)
			if (!strcmp(r->windows[i]->handles[k]->type, "tcp")) {
				tcp_last = r->windows[i]->handles[k]->count;
				if (tcp_last > tcp_max)
					tcp_max = tcp_last;
			}
	printf("# node tcp handles: max %u, last %u\n", tcp_max, tcp_last);
	ASSERT_EQ(tcp_max, 11);
	ASSERT_EQ(tcp_last, 1);
	lsc_recording_free(r);

	/* A hot JS function holds most CPU samples, by name (perf map). */
	t = node("cpu", path("cpu.json"), "--perf-basic-prof", NULL);
	a = attach(t, path("cpu.lsr"), path("attach.err"),
		   (const char *const[]){"--cpu-hz", "999", NULL});
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	/* Time to a result: from the target's exit to a finalized, symbolized recording and the
	 * headline printed (attach notices the exit within 0.1 s). */
	gone = proc_now();
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
	printf("# node: recording finalized and headline printed %.2f s after the exit\n",
	       proc_now() - gone);
	ASSERT_CMP(proc_now() - gone, <=, 2.0);
	flame[2] = path("cpu.lsr");
	flame[6] = path("cpu.folded");
	proc_run(&p, flame, 60, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	fd = open(path("cpu.folded"), O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		double c = atof(strrchr(line, ' ') + 1);

		all += c;
		if (strstr(line, "hotLoop"))
			hot += c;
	}
	printf("# node CPU: %.0f of %.0f samples under hotLoop\n", hot, all);
	ASSERT_CMP(all, >, 100);
	ASSERT_CMP(hot / all, >=, 0.5);
}

/* Until the process has exec'd into the program named comm. */
static void wait_comm(pid_t pid, const char *comm, double limit_s)
{
	double deadline = proc_now() + limit_s;
	char f[64], buf[64], want[64];

	snprintf(f, sizeof(f), "/proc/%d/comm", (int)pid);
	snprintf(want, sizeof(want), "%s\n", comm);
	while (proc_now() < deadline) {
		if (!strcmp(slurp(f, buf, sizeof(buf)), want))
			return;
		usleep(2000);
	}
	LSC_FAIL("process %d did not become '%s' within %.0f s", (int)pid, comm, limit_s);
}

/* One line naming the problem, a non-zero exit, no recording left behind. */
static void expect_error(const char *const *argv, const char *rec, const char *want)
{
	struct proc p;

	unlink(rec);
	proc_run(&p, argv, 60, NULL);
	printf("# error: %s", p.err);
	ASSERT_TRUE(WIFEXITED(p.status));
	ASSERT_CMP(WEXITSTATUS(p.status), !=, 0);
	if (!strstr(p.err, want))
		LSC_FAIL("expected '%s' in: %s", want, p.err);
	ASSERT_TRUE(strchr(p.err, '\n') == strrchr(p.err, '\n')); /* one line */
	ASSERT_TRUE(access(rec, F_OK) != 0);
}

TEST(errors_a_user_meets_and_a_second_attach)
{
	const char *sleeper[] = {"/usr/bin/setpriv",
				 "--reuid=65534",
				 "--regid=65534",
				 "--clear-groups",
				 "/bin/sleep",
				 "30",
				 NULL};
	const char *argv[16];
	static const char *load[] = {"--duration", "0", "--self-load", "1", NULL};
	char pidarg[16], exe[512], buf[4096];
	struct lsc_recording *r;
	struct proc p;
	pid_t t, a1, a2;
	int child;
	size_t i, w1 = 0;

	capture_setup("attach");
	/* No such process. */
	argv[0] = LSC_BUILD_DIR "/loopscope", argv[1] = "attach", argv[2] = "-p";
	argv[3] = "4194000", argv[4] = "-o", argv[5] = path("none.lsr"), argv[6] = NULL;
	expect_error(argv, path("none.lsr"), "no process with PID 4194000");
	argv[1] = "top";
	argv[4] = NULL;
	expect_error(argv, path("none.lsr"), "no process with PID 4194000");
	/* Without privileges: a process of nobody's, attached by nobody. */
	t = proc_spawn(sleeper, path("sleep.out"), path("sleep.err"), NULL);
	snprintf(pidarg, sizeof(pidarg), "%d", (int)t);
	wait_comm(t, "sleep", 10); /* until then it is setpriv, root's, not nobody's */
	{
		const char *as_nobody[] = {"/usr/bin/setpriv",
					   "--reuid=65534",
					   "--regid=65534",
					   "--clear-groups",
					   "--inh-caps=-all",
					   LSC_BUILD_DIR "/loopscope",
					   "attach",
					   "-p",
					   pidarg,
					   "-o",
					   "/tmp/loopscope-nobody.lsr",
					   NULL};

		/* nobody's process is not a libuv program either: attach says so first */
		expect_error(as_nobody, "/tmp/loopscope-nobody.lsr", "CAP_BPF");
	}
	/* Not a libuv program, as root: one line saying so, for attach and top; with --anyway
	 * it is recorded, and the report says there was no loop. */
	argv[0] = LSC_BUILD_DIR "/loopscope", argv[1] = "attach", argv[2] = "-p";
	argv[3] = pidarg, argv[4] = "-o", argv[5] = path("sleep.lsr"), argv[6] = "-d";
	argv[7] = "1", argv[8] = NULL;
	expect_error(argv, path("sleep.lsr"), "(sleep) has no libuv: it runs no Node.js");
	{
		const char *top[] = {LSC_BUILD_DIR "/loopscope", "top", "-p", pidarg, NULL};

		expect_error(top, path("sleep.lsr"), "(sleep) has no libuv");
	}
	argv[8] = "--anyway", argv[9] = NULL;
	proc_run(&p, argv, 60, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	ASSERT_TRUE(strstr(p.err, "recorded with --anyway") != NULL);
	ASSERT_TRUE(strstr(p.err, "no event loop was seen") != NULL);
	ASSERT_TRUE(strstr(p.err, "no problem found") == NULL);
	r = read_rec(path("sleep.lsr"));
	ASSERT_TRUE(r->footer != NULL);
	ASSERT_CMP(r->header->n_notes, >=, 1);
	lsc_recording_free(r);
	kill(t, SIGKILL);
	proc_wait(t, 10);

	/* A shell wrapper (npm start, a bash script): the error names its node child. */
	{
		const char *wrap[] = {"/bin/sh", "-c",
				      "/usr/bin/node -e \"console.log('up'); setInterval(() => {}, "
				      "1000)\" & echo child $!; wait",
				      NULL};
		char want[64];
		const char *c;

		t = proc_spawn(wrap, path("wrap.out"), path("wrap.err"), NULL);
		wait_text(path("wrap.out"), "up", 30);
		c = strstr(slurp(path("wrap.out"), buf, sizeof(buf)), "child ");
		ASSERT_TRUE(c != NULL);
		child = atoi(c + 6);
		snprintf(pidarg, sizeof(pidarg), "%d", (int)t);
		argv[8] = NULL;
		snprintf(want, sizeof(want), "PID %d (sh) has no libuv", (int)t);
		expect_error(argv, path("sleep.lsr"), want);
		snprintf(want, sizeof(want), "(node) does: loopscope attach -p %d", child);
		expect_error(argv, path("sleep.lsr"), want);
		kill(child, SIGTERM);
		proc_wait(t, 10);
	}

	/* Two attaches to one process at once: both record it; it runs on after both detach. */
	snprintf(exe, sizeof(exe), "%s/examples/healthy", LSC_BUILD_DIR);
	{
		const char *targv[] = {exe,	"--quiet", "1",	    load[0],
				       load[1], load[2],   load[3], NULL};

		t = proc_spawn(targv, path("two.out"), path("two.err"), NULL);
	}
	wait_comm(t, "healthy", 10); /* attached before its exec, attach saw the test itself */
	snprintf(pidarg, sizeof(pidarg), "%d", (int)t);
	{
		const char *one[] = {LSC_BUILD_DIR "/loopscope",
				     "attach",
				     "-p",
				     pidarg,
				     "-d",
				     "2",
				     "-o",
				     path("one.lsr"),
				     NULL};
		const char *two[] = {LSC_BUILD_DIR "/loopscope",
				     "attach",
				     "-p",
				     pidarg,
				     "-d",
				     "2",
				     "-o",
				     path("two.lsr"),
				     NULL};
		const char *top[] = {LSC_BUILD_DIR "/loopscope", "top", "-p", pidarg, NULL};

		a1 = proc_spawn(one, path("one.out"), path("one.attach"), NULL);
		a2 = proc_spawn(two, path("two.out2"), path("two.attach"), NULL);
		ASSERT_EQ(WEXITSTATUS(proc_wait(a1, 60)), 0);
		ASSERT_EQ(WEXITSTATUS(proc_wait(a2, 60)), 0);
		/* top, piped: a line a second; it ends when the process does */
		a1 = proc_spawn(top, path("top.out"), path("top.err"), NULL);
		wait_text(path("top.out"), "ELU", 20);
		ASSERT_EQ(kill(t, 0), 0); /* still running */
		kill(t, SIGTERM);
		ASSERT_EQ(WEXITSTATUS(proc_wait(t, 30)), 0);
		ASSERT_EQ(WEXITSTATUS(proc_wait(a1, 30)), 0);
		slurp(path("top.out"), buf, sizeof(buf));
		ASSERT_TRUE(strstr(buf, "lag p50/p99/max") && strstr(buf, "pool depth") &&
			    strstr(buf, "handles"));
	}
	for (i = 0; i < 2; i++) {
		r = read_rec(path(i ? "two.lsr" : "one.lsr"));
		ASSERT_TRUE(r->footer != NULL);
		for (w1 = 0; w1 < r->nwindows && r->windows[w1]->loop_tid != (uint32_t)t; w1++)
			;
		ASSERT_CMP(w1, <, r->nwindows);
		ASSERT_CMP(r->windows[w1]->iterations, >, 0);
		lsc_recording_free(r);
	}
}

/* `loopscope report REC --json`, parsed. */
static json_object *report_json(const char *rec)
{
	const char *argv[] = {LSC_BUILD_DIR "/loopscope", "report", rec, "--json", "-o",
			      path("report.json"),	  NULL};
	struct proc p;

	proc_run(&p, argv, 60, NULL);
	if (p.status)
		LSC_FAIL("loopscope report %s: %s", rec, p.err);
	return json_file(path("report.json"));
}

/* A loop held by one callback for 3.5 s: the windows it covers are frozen with lag of at least
 * their length, `top` shows FROZEN, and the report's delay finding says so. */
TEST(a_frozen_loop_is_late_by_the_window_and_top_says_frozen)
{
	const char *js = "process.on('SIGUSR2', () => { const t = Date.now(); "
			 "while (Date.now() - t < 3500); console.log('thawed'); }); "
			 "setInterval(() => {}, 20); console.log('up');";
	const char *nargv[] = {"/usr/bin/node", "-e", js, NULL};
	const char *top[] = {LSC_BUILD_DIR "/loopscope", "top", "-p", NULL, NULL};
	char pidarg[16], buf[16384];
	struct lsc_recording *r;
	size_t i, frozen = 0;
	pid_t t, a, tp;
	json_object *rep, *f;
	int seen = 0;

	capture_setup("attach");
	t = proc_spawn(nargv, path("frz.out"), path("frz.err"), NULL);
	wait_text(path("frz.out"), "up", 30);
	snprintf(pidarg, sizeof(pidarg), "%d", (int)t);
	top[3] = pidarg;
	tp = proc_spawn(top, path("frz.top"), path("frz.toperr"), NULL);
	a = attach(t, path("frz.lsr"), path("frz.log"), NULL);
	wait_text(path("frz.top"), "ELU", 30);
	kill(t, SIGUSR2);
	wait_text(path("frz.out"), "thawed", 30);
	wait_text(path("frz.top"), "FROZEN: no loop turn for", 10);
	kill(t, SIGTERM);
	proc_wait(t, 30);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(tp, 30)), 0);
	slurp(path("frz.top"), buf, sizeof(buf));
	printf("# top:\n%s", buf);

	r = read_rec(path("frz.lsr"));
	for (i = 0; i < r->nwindows; i++) {
		const Loopscope__Window *w = r->windows[i];
		struct lsc_hist h;

		if (w->loop_tid != (uint32_t)t || !w->frozen)
			continue;
		frozen++;
		ASSERT_EQ(w->iterations, 0);
		ASSERT_OK(lsc_hist_from_proto(&h, w->lag));
		printf("# frozen window %zu: length %.0f ms, lag max %.0f ms\n", i,
		       w->length_ns / 1e6, h.max / 1e6);
		ASSERT_CMP(h.max, >=, w->length_ns);
	}
	lsc_recording_free(r);
	ASSERT_CMP(frozen, >=, 2); /* 3.5 s holds two whole windows of 1 s */
	rep = report_json(path("frz.lsr"));
	f = json_object_object_get(rep, "diagnosis");
	for (i = 0; f && i < json_object_array_length(f); i++) {
		json_object *x = json_object_array_get_idx(f, i);

		if (!strcmp(json_object_get_string(json_object_object_get(x, "id")),
			    "loop-delay")) {
			const char *ev =
				json_object_get_string(json_object_object_get(x, "evidence"));

			printf("# %s\n", ev);
			ASSERT_TRUE(strstr(ev, "frozen (no loop turn)") != NULL);
			seen = 1;
		}
	}
	ASSERT_TRUE(seen);
	json_object_put(rep);
}

/* RSS at window ends misses a buffer that comes and goes between them; attach's windows carry
 * the kernel's high-water mark too, and the report's RSS max is that peak. */
TEST(rss_max_is_the_peak_under_attach)
{
	const char *js = "process.on('SIGUSR2', () => { let b = Buffer.alloc(160 << 20, 1); "
			 "b = null; gc(); console.log('freed'); }); "
			 "setInterval(() => {}, 100); console.log('up');";
	const char *nargv[] = {"/usr/bin/node", "--expose-gc", "-e", js, NULL};
	const char *dur[] = {"-d", "3", NULL};
	struct lsc_recording *r;
	json_object *rep, *mem;
	uint64_t ends = 0;
	pid_t t, a;
	size_t i;

	capture_setup("attach");
	t = proc_spawn(nargv, path("peak.out"), path("peak.err"), NULL);
	wait_text(path("peak.out"), "up", 30);
	a = attach(t, path("peak.lsr"), path("peak.log"), dur);
	kill(t, SIGUSR2);
	wait_text(path("peak.out"), "freed", 30);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 60)), 0);
	kill(t, SIGKILL);
	proc_wait(t, 10);
	r = read_rec(path("peak.lsr"));
	for (i = 0; i < r->nwindows; i++)
		if (r->windows[i]->rss_bytes > ends)
			ends = r->windows[i]->rss_bytes;
	lsc_recording_free(r);
	rep = report_json(path("peak.lsr"));
	mem = json_object_object_get(rep, "memory");
	printf("# RSS: %.1f MiB at most at a window's end, report's max %.1f MiB\n",
	       ends / 1048576.0, json_at(mem, "rss_max", NULL) / 1048576.0);
	ASSERT_CMP(ends, <, 160ull << 20);
	ASSERT_CMP(json_at(mem, "rss_max", NULL), >=, 160.0 * 1048576);
	ASSERT_TRUE(json_object_get_boolean(json_object_object_get(mem, "rss_max_is_peak")));
	json_object_put(rep);
}

/* A SIGTERM to a handler of the target's own starts its drain: attach marks the windows after
 * it, writes the moment, and the report keeps the drain's spin out of the loop's figures. */
TEST(the_drain_after_sigterm_is_apart_under_attach)
{
	const char *js = "process.on('SIGTERM', () => { const end = Date.now() + 1500; "
			 "while (Date.now() < end); process.exit(0); }); "
			 "setInterval(() => {}, 100); console.log('up');";
	const char *nargv[] = {"/usr/bin/node", "-e", js, NULL};
	json_object *rep, *loop;
	const char *why;
	pid_t t, a;

	capture_setup("attach");
	t = proc_spawn(nargv, path("drain.out"), path("drain.err"), NULL);
	wait_text(path("drain.out"), "up", 30);
	a = attach(t, path("drain.lsr"), path("drain.log"), NULL);
	sleep(2);
	kill(t, SIGTERM);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 30)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 60)), 0);
	rep = report_json(path("drain.lsr"));
	loop = json_object_object_get(rep, "loop");
	why = json_object_get_string(json_object_object_get(loop, "shutdown_reason"));
	printf("# ELU %.3f; drain %.2f s (%s), ELU %.2f\n", json_at(loop, "elu_mean", NULL),
	       json_at(loop, "shutdown_ns", NULL) / 1e9, why ? why : "?",
	       json_at(loop, "shutdown_elu", NULL));
	ASSERT_TRUE(why && !strcmp(why, "SIGTERM"));
	ASSERT_CMP(json_at(loop, "elu_mean", NULL), <, 0.2);
	ASSERT_CMP(json_at(loop, "shutdown_elu", NULL), >, 0.5);
	json_object_put(rep);
}

/* The scheduler's figures from the kernel: reads from /dev/zero pinned beside a busier task
 * wait in the run queue for most of their time: attach calls them CPU contention, not blocking
 * (the agent's counterpart: tests/agent/test_waits.c). */
TEST(preempted_syscalls_are_cpu_contention_under_attach)
{
	const char *hog[] = {"/usr/bin/taskset",    "-c", "0", "/bin/sh", "-c",
			     "while :; do :; done", NULL};
	const char *app[] = {"/usr/bin/taskset",
			     "-c",
			     "0",
			     "/usr/bin/nice",
			     "-n",
			     "5",
			     "/usr/bin/node",
			     LSC_SOURCE_DIR "/tests/agent/node_waits.js",
			     "forever",
			     NULL};
	const char *dur[] = {"-d", "3", NULL};
	json_object *rep, *b, *d;
	pid_t h, t, a;
	size_t i;
	int seen = 0;

	capture_setup("attach");
	h = proc_spawn(hog, path("hog.out"), path("hog.err"), NULL);
	t = proc_spawn(app, path("waits.out"), path("waits.err"), NULL);
	wait_text(path("waits.out"), "up", 30);
	a = attach(t, path("waits.lsr"), path("waits.log"), dur);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 60)), 0);
	kill(t, SIGKILL);
	kill(h, SIGKILL);
	proc_wait(t, 10);
	proc_wait(h, 10);
	rep = report_json(path("waits.lsr"));
	b = json_object_object_get(rep, "blocking");
	printf("# attach beside a hog: %g blocking, %g contention (%.1f ms)\n",
	       json_at(b, "count", NULL), json_at(b, "contention", "count"),
	       json_at(b, "contention", "total_ns") / 1e6);
	ASSERT_CMP(json_at(b, "contention", "count"), >=, 10);
	d = json_object_object_get(rep, "diagnosis");
	for (i = 0; d && i < json_object_array_length(d); i++) {
		const char *id = json_object_get_string(
			json_object_object_get(json_object_array_get_idx(d, i), "id"));

		seen |= !strcmp(id, "cpu-contention");
	}
	ASSERT_TRUE(seen);
	json_object_put(rep);
}

TEST(attach_and_detach_under_load)
{
	char exe[512], pidarg[16];
	const char *targv[] = {exe,	  "--duration", "5",	   "--self-load", "2",
			       "--quiet", "1",		"--stats", NULL,	  NULL};
	const char *aargv[] = {
		LSC_BUILD_DIR "/loopscope", "attach", "-p", pidarg, "-d", "2", "-o", NULL, NULL};
	json_object *mid, *end;
	struct proc p;
	pid_t t;

	capture_setup("attach");
	snprintf(exe, sizeof(exe), "%s/examples/healthy", LSC_BUILD_DIR);
	targv[8] = path("load.json");
	aargv[7] = path("load.lsr");
	t = proc_spawn(targv, path("load.out"), path("load.err"), NULL);
	snprintf(pidarg, sizeof(pidarg), "%d", (int)t);
	proc_run(&p, aargv, 60, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	/* After detach: the stats now, then at the end; every request answered throughout. */
	unlink(path("load.json"));
	kill(t, SIGUSR1);
	wait_text(path("load.json"), "responses", 10);
	mid = json_file(path("load.json"));
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 30)), 0);
	end = json_file(path("load.json"));
	printf("# healthy: %.0f responses when attach detached, %.0f at the end\n",
	       json_at(mid, "http", "responses"), json_at(end, "http", "responses"));
	ASSERT_CMP(json_at(end, "http", "responses"), >, json_at(mid, "http", "responses"));
	/* (at the end the self-load client hangs up, which counts as aborted: not before) */
	ASSERT_EQ(json_at(mid, "http", "aborted"), 0);
	ASSERT_CMP(json_at(mid, "http", "requests") - json_at(mid, "http", "responses"), <=, 2);
	ASSERT_EQ(json_at(end, "http", "requests"), json_at(end, "http", "responses"));
	json_object_put(mid);
	json_object_put(end);
}

TEST(offcpu_time_goes_where_the_loop_sleeps)
{
	const char *sargv[] = {LSC_BUILD_DIR "/tests/sleeper", "--wait-signal", NULL};
	struct lsc_recording *r;
	double nap = 0, all = 0, ns, us;
	pid_t t, a;

	capture_setup("attach");
	t = proc_spawn(sargv, path("sleeper.out"), path("sleeper.err"), NULL);
	wait_text(path("sleeper.out"), "ready", 10);
	/* the sleeper runs no libuv: --anyway (off-CPU time is any thread's) */
	a = attach(t, path("off.lsr"), path("off.attach"),
		   (const char *const[]){"--offcpu", "--anyway", NULL});
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
	r = read_rec(path("off.lsr"));
	nap = samples_under(r, LOOPSCOPE__SAMPLE_KIND__OFFCPU, "clock_nanosleep", 1e6, &all);
	/* five naps of 150 ms and five of 100 ms */
	printf("# sleeper: %.0f ms off CPU in clock_nanosleep (1250 asked), %.0f ms in all\n", nap,
	       all);
	ASSERT_CMP(nap, >=, 1200);
	ASSERT_CMP(nap, <=, 1400);
	/* and under the function that napped, through libc's usleep and nanosleep (no frame
	 * pointers), which the walk crosses by their CFI */
	ns = samples_under(r, LOOPSCOPE__SAMPLE_KIND__OFFCPU, "nap_nanosleep", 1e6, &all);
	us = samples_under(r, LOOPSCOPE__SAMPLE_KIND__OFFCPU, "nap_usleep", 1e6, &all);
	printf("# under nap_nanosleep %.0f ms (750 asked), nap_usleep %.0f ms (500 asked)\n", ns,
	       us);
	ASSERT_CMP(ns, >=, 720);
	ASSERT_CMP(us, >=, 480);
	lsc_recording_free(r);
}

TEST(dwarf_cpu_stacks_reach_main_through_code_without_frame_pointers)
{
	static const char *load[] = {"--duration", "2", "--self-load", "2", NULL};
	const char *argv[12];
	char exe[512];
	struct lsc_recording *r;
	double all = 0, whole = 0;
	size_t i, k;
	pid_t t, a;

	capture_setup("attach");
	/* hash-on-loop: CPU in refloop's SHA-256 under the handler, called from Debian's libuv
	 * (no frame pointers) under uv_run: a frame-pointer walk breaks there, the CFI does not. */
	snprintf(exe, sizeof(exe), "%s/examples/hash-on-loop", LSC_BUILD_DIR);
	argv[0] = exe, argv[1] = "--wait-signal", argv[2] = "1", argv[3] = "--quiet", argv[4] = "1";
	for (i = 0; load[i]; i++)
		argv[5 + i] = load[i];
	argv[5 + i] = NULL;
	t = proc_spawn(argv, path("hash.out"), path("hash.err"), NULL);
	wait_text(path("hash.err"), "waiting for SIGUSR2", 10);
	a = attach(t, path("dwarf.lsr"), path("dwarf.attach"),
		   (const char *const[]){"--stacks", "dwarf", NULL});
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
	r = read_rec(path("dwarf.lsr"));
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind != LOOPSCOPE__SAMPLE_KIND__CPU)
			continue;
		for (k = 0; k < s->n_stack_id; k++) {
			if (s->tid[k] != (uint32_t)t) /* the loop thread */
				continue;
			all += (double)s->value[k];
			if (stack_has(r, s->stack_id[k], "rl_app_main"))
				whole += (double)s->value[k];
		}
	}
	printf("# hash-on-loop: %.0f of %.0f loop-thread CPU samples reach rl_app_main\n", whole,
	       all);
	/* Whether a stack reaches main is decided per sample, not by their number: twenty are
	 * enough (the count follows the CPU the program gets, which other load takes). */
	ASSERT_CMP(all, >=, 20);
	ASSERT_CMP(whole / all, >=, 0.9);
	lsc_recording_free(r);
}

TEST(top_on_a_terminal_draws_and_quits_on_q)
{
	char exe[512], cmd[1024], fifo[600];
	const char *targv[] = {exe, "--duration", "0", "--self-load", "1", "--quiet", "1", NULL};
	pid_t t, s;
	int w;

	capture_setup("attach");
	snprintf(exe, sizeof(exe), "%s/examples/healthy", LSC_BUILD_DIR);
	t = proc_spawn(targv, path("tty-target.out"), path("tty-target.err"), NULL);
	/* script(1) gives top a terminal; its keyboard is a FIFO this test writes q into once the
	 * screen shows the loop. */
	snprintf(fifo, sizeof(fifo), "%s", path("keys"));
	unlink(fifo);
	ASSERT_EQ(mkfifo(fifo, 0600), 0);
	snprintf(cmd, sizeof(cmd), "%s/loopscope top -p %d", LSC_BUILD_DIR, (int)t);
	fflush(NULL);
	s = fork();
	if (s == 0) {
		int in = open(fifo, O_RDONLY),
		    o = open(path("tty.out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(in, 0);
		dup2(o, 1);
		dup2(o, 2);
		execl("/usr/bin/script", "script", "-qec", cmd, "/dev/null", (char *)NULL);
		_exit(127);
	}
	w = open(fifo, O_WRONLY);
	ASSERT_CMP(w, >=, 0);
	wait_text(path("tty.out"), "event loop", 30);
	ASSERT_EQ(write(w, "q", 1), 1);
	ASSERT_EQ(WEXITSTATUS(proc_wait(s, 20)), 0);
	close(w);
	ASSERT_EQ(kill(t, 0), 0); /* the process runs on */
	kill(t, SIGTERM);
	proc_wait(t, 20);
}

TEST_MAIN(TEST_ENTRY(refloop_elu_pool_depth_and_handles), TEST_ENTRY(node_elu_lag_and_gc),
	  TEST_ENTRY(node_pool_handles_and_cpu),
	  TEST_ENTRY(errors_a_user_meets_and_a_second_attach),
	  TEST_ENTRY(a_frozen_loop_is_late_by_the_window_and_top_says_frozen),
	  TEST_ENTRY(preempted_syscalls_are_cpu_contention_under_attach),
	  TEST_ENTRY(the_drain_after_sigterm_is_apart_under_attach),
	  TEST_ENTRY(rss_max_is_the_peak_under_attach), TEST_ENTRY(attach_and_detach_under_load),
	  TEST_ENTRY(offcpu_time_goes_where_the_loop_sleeps),
	  TEST_ENTRY(dwarf_cpu_stacks_reach_main_through_code_without_frame_pointers),
	  TEST_ENTRY(top_on_a_terminal_draws_and_quits_on_q))
