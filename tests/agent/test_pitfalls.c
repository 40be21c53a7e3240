/*
 * test_pitfalls.c — the classic pitfalls named by their findings under `loopscope run`
 * (analysis/report_pitfalls.c, report_chains.c; docs/report.md): refloop's scenarios against
 * their --stats ground truth, and Node apps written for it (tests/agent/node_pitfalls.js)
 * against their own counts. Each pitfall gives its finding, with its owner and numbers; its
 * fixed twin and the healthy programs give none of these findings.
 *   tick-starvation       nexttick-starvation; a process.nextTick chain, an `await null` loop;
 *                         not many short ticks, not healthy
 *   backpressure-ignored  backpressure-ignored; a producer ignoring write()'s answer; not
 *                         stream-file, not the producer that waits for 'drain'
 *   shutdown-hang         shutdown-hang (keep-alive sockets and an interval after SIGTERM); a
 *                         Node server that only closes its listener, killed after the SIGTERM
 */
#define LSC_TEST_TIMEOUT 300
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "findings.h"

#include <math.h>
#include <signal.h>

/* loopscope run -o REC -- examples/SCENARIO --stats STATS --quiet 1 ARGS... */
static void run_refloop(const char *name, const char *const *args, json_object **stats,
			json_object **rep)
{
	char rec[600], st[600], js[64];
	const char *argv[32] = {built("loopscope"), "run", "-o",      rec, "--", NULL,
				"--stats",	    st,	   "--quiet", "1"};
	char exe[128];
	struct proc p;
	int n = 10;

	snprintf(rec, sizeof(rec), "%s.lsr", path(name));
	snprintf(st, sizeof(st), "%s.json", path(name));
	snprintf(exe, sizeof(exe), "examples/%s", name);
	argv[5] = built(exe);
	while (*args && n < 30)
		argv[n++] = *args++;
	proc_run(&p, argv, 90, NULL);
	if (p.status)
		LSC_FAIL("loopscope run %s: status 0x%x: %s", name, p.status, p.err);
	*stats = json_file(st);
	snprintf(js, sizeof(js), "%s.report.json", name);
	*rep = report_of(rec, js);
}

TEST(refloop_starvation_is_named_with_its_chains)
{
	static const char *const args[] = {"--duration",  "3",		 "--every",
					   "500",	  "--starve-ms", "200",
					   "--self-load", "1",		 NULL};
	json_object *st, *rep, *f, *sv;
	double episodes, starved, count, total;

	capture_setup("pitfalls");
	run_refloop("nexttick-starvation", args, &st, &rep);
	only(rep, "tick-starvation");
	f = finding(rep, "tick-starvation");
	ASSERT_TRUE(!strcmp(frame_fn(f), "spin_tick"));
	/* the chains are the scenario's episodes, their time its starved time */
	episodes = json_at(st, "scenario", "episodes");
	starved = json_at(st, "scenario", "starved_ns");
	sv = json_get(rep, "starvation");
	count = json_at(sv, "count", NULL);
	total = json_at(sv, "total_ns", NULL);
	printf("# %0.f chains, %.1f ms; the scenario's %0.f episodes, %.1f ms\n", count,
	       total / 1e6, episodes, starved / 1e6);
	ASSERT_CMP(count, <=, episodes);
	ASSERT_CMP(count, >=, episodes - 1); /* (a chain with too few samples to tell) */
	ASSERT_CMP(total, >=, 0.75 * starved);
	ASSERT_CMP(total, <=, 1.1 * starved);
	gate_catches(path("nexttick-starvation.lsr"), "starvation.max", json_at(sv, "max_ns", NULL),
		     "ms");
	gate_catches(path("nexttick-starvation.lsr"), "starvation.total", total, "ms");
	/* kept apart from the CPU-bound callbacks */
	ASSERT_TRUE(finding(rep, "cpu-bound-callbacks") == NULL);
	json_object_put(st);
	json_object_put(rep);
}

TEST(refloop_backpressure_is_named_and_its_fix_is_not)
{
	static const char *const args[] = {"--duration", "3", "--self-load", "2", NULL};
	json_object *st, *rep, *f, *bp;
	double peak, ours;

	capture_setup("pitfalls");
	run_refloop("backpressure-ignored", args, &st, &rep);
	only(rep, "backpressure-ignored");
	f = finding(rep, "backpressure-ignored");
	ASSERT_TRUE(!strcmp(frame_fn(f), "handle_export"));
	/* one connection's queue, at the windows' ends, against the runtime's own peak */
	peak = json_at(st, "http", "peak_write_queue");
	bp = json_get(rep, "backpressure");
	ours = json_at(bp, "one_stream_max", NULL);
	printf("# one stream's queue: %.1f MiB at a window's end; refloop's peak %.1f MiB\n",
	       ours / 1048576, peak / 1048576);
	ASSERT_CMP(ours, >=, 0.7 * peak);
	ASSERT_CMP(ours, <=, 1.01 * peak);
	gate_catches(path("backpressure-ignored.lsr"), "backpressure.queued_max",
		     json_at(bp, "queued_max", NULL), "KiB");
	json_object_put(st);
	json_object_put(rep);

	run_refloop("stream-file", args, &st, &rep);
	ASSERT_CMP(json_at(st, "http", "responses"), >=, 1); /* it streamed, with backpressure */
	only(rep, NULL);
	json_object_put(st);
	json_object_put(rep);
	run_refloop("healthy", args, &st, &rep);
	only(rep, NULL);
	json_object_put(st);
	json_object_put(rep);
}

TEST(refloop_shutdown_hang_names_what_keeps_it_alive)
{
	static const char *const args[] = {"--self-load", "2", "--term-after", "1", "--hang-s",
					   "6",		  NULL};
	json_object *st, *rep, *sd, *alive;
	double tcp = 0, timers = 0, after;
	size_t i;

	capture_setup("pitfalls");
	run_refloop("shutdown-hang", args, &st, &rep);
	only(rep, "shutdown-hang");
	sd = json_get(rep, "shutdown");
	after = json_at(sd, "after_ns", NULL);
	printf("# stopped %.2f s after the SIGTERM; the scenario's hang %.2f s\n", after / 1e9,
	       json_at(st, "scenario", "hang_ns") / 1e9);
	ASSERT_CMP(after, >=, json_at(st, "scenario", "hang_ns"));
	gate_catches(path("shutdown-hang.lsr"), "shutdown.hang", after, "ms");
	alive = json_get(sd, "alive_handles");
	for (i = 0; i < json_object_array_length(alive); i++) {
		json_object *a = json_object_array_get_idx(alive, i);
		const char *t = json_object_get_string(json_get(a, "type"));

		if (!strcmp(t, "tcp"))
			tcp = json_at(a, "count", NULL);
		if (!strcmp(t, "timer"))
			timers = json_at(a, "count", NULL);
	}
	printf("# alive: %.0f tcp, %.0f timers; the scenario's %.0f and %.0f\n", tcp, timers,
	       json_at(st, "scenario", "open_tcp_at_stop"),
	       json_at(st, "scenario", "open_timers_at_stop"));
	ASSERT_EQ(tcp, json_at(st, "scenario", "open_tcp_at_stop"));
	ASSERT_EQ(timers, json_at(st, "scenario", "open_timers_at_stop"));
	json_object_put(st);
	json_object_put(rep);
}

/* loopscope run -o REC -- node node_pitfalls.js MODE: its JSON line, and the report */
static void run_node(const char *mode, json_object **own, json_object **rep)
{
	char rec[600], out[600], js[64], line[4096];
	const char *argv[] = {built("loopscope"),
			      "run",
			      "-o",
			      rec,
			      "--",
			      "/usr/bin/node",
			      LSC_SOURCE_DIR "/tests/agent/node_pitfalls.js",
			      mode,
			      NULL};
	struct proc p;

	snprintf(rec, sizeof(rec), "%s.lsr", path(mode));
	snprintf(out, sizeof(out), "%s.out", path(mode));
	proc_run(&p, argv, 90, out);
	if (p.status)
		LSC_FAIL("node_pitfalls.js %s under run: status 0x%x: %s", mode, p.status, p.err);
	slurp(out, line, sizeof(line));
	*own = json_tokener_parse(line);
	if (!*own)
		LSC_FAIL("node_pitfalls.js %s printed no JSON: %s", mode, line);
	snprintf(js, sizeof(js), "%s.report.json", mode);
	*rep = report_of(rec, js);
}

TEST(node_tick_and_promise_chains_are_starvation)
{
	static const struct {
		const char *mode, *fn;
	} cases[] = {{"tick", "spin"}, {"await", "awaitLoop"}, {"many", NULL}};
	size_t i;

	capture_setup("pitfalls");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *own, *rep, *f;

		run_node(cases[i].mode, &own, &rep);
		printf("# %s: the app's heartbeat was late by %.1f ms at most\n", cases[i].mode,
		       json_at(own, "heartbeat_max_late_ms", NULL));
		only(rep, cases[i].fn ? "tick-starvation" : NULL);
		if (cases[i].fn) {
			f = finding(rep, "tick-starvation");
			ASSERT_TRUE(!strcmp(frame_fn(f), cases[i].fn));
			ASSERT_TRUE(strstr(json_object_get_string(json_get(f, "title")),
					   i == 0 ? "nextTick" : "microtask") != NULL);
			/* the chains held the loop as long as the app's heartbeat says */
			ASSERT_CMP(json_at(json_get(rep, "starvation"), "max_ns", NULL) / 1e6, >=,
				   0.8 * json_at(own, "heartbeat_max_late_ms", NULL));
		}
		json_object_put(own);
		json_object_put(rep);
	}
}

TEST(node_ignored_backpressure_is_named_with_its_writer)
{
	json_object *own, *rep, *f, *bp;
	double ours, theirs;

	capture_setup("pitfalls");
	run_node("ignore", &own, &rep);
	only(rep, "backpressure-ignored");
	f = finding(rep, "backpressure-ignored");
	ASSERT_TRUE(!strcmp(frame_fn(f), "produce"));
	bp = json_get(rep, "backpressure");
	ours = json_at(bp, "node_sockets", NULL);
	theirs = json_at(own, "writable_length_max", NULL);
	printf("# Node's socket buffers: %.1f MiB at the peak window's end; the app's "
	       "writableLength %.1f MiB at most\n",
	       ours / 1048576, theirs / 1048576);
	ASSERT_CMP(fabs(ours - theirs), <=, 0.2 * theirs);
	json_object_put(own);
	json_object_put(rep);

	run_node("drain", &own, &rep);
	only(rep, NULL);
	json_object_put(own);
	json_object_put(rep);
}

TEST(node_server_that_does_not_exit_after_sigterm)
{
	char rec[600], out[600], buf[4096];
	const char *argv[] = {built("loopscope"),
			      "run",
			      "-o",
			      rec,
			      "--",
			      "/usr/bin/node",
			      LSC_SOURCE_DIR "/tests/agent/node_pitfalls.js",
			      "hang",
			      NULL};
	json_object *rep, *sd, *res;
	const char *ready;
	double deadline;
	int status, node = 0, sockets = 0, timeouts = 0;
	size_t i;
	pid_t run;

	capture_setup("pitfalls");
	snprintf(rec, sizeof(rec), "%s", path("hang.lsr"));
	snprintf(out, sizeof(out), "%s", path("hang.out"));
	run = proc_spawn(argv, out, path("hang.err"), NULL);
	/* its pid, once it serves; then the SIGTERM; once it said it closes, a second more
	 * running (it will not exit), then killed as a process manager would */
	for (deadline = proc_now() + 30; !node && proc_now() < deadline;) {
		struct timespec step = {0, 20000000};

		slurp(out, buf, sizeof(buf));
		if ((ready = strstr(buf, "{\"ready\":")))
			node = atoi(ready + 9);
		else
			nanosleep(&step, NULL);
	}
	ASSERT_TRUE(node > 0);
	ASSERT_OK(kill(node, SIGTERM));
	for (deadline = proc_now() + 30; !strstr(slurp(out, buf, sizeof(buf)), "closing");) {
		struct timespec step = {0, 20000000};

		ASSERT_CMP(proc_now(), <, deadline);
		nanosleep(&step, NULL);
	}
	{
		struct timespec one = {1, 200000000};

		nanosleep(&one, NULL);
	}
	ASSERT_OK(kill(node, SIGKILL));
	status = proc_wait(run, 60);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL);
	rep = report_of(rec, "hang.report.json");
	only(rep, "shutdown-hang");
	sd = json_get(rep, "shutdown");
	ASSERT_TRUE(!strcmp(json_object_get_string(json_get(sd, "reason")), "SIGTERM"));
	res = json_get(sd, "alive_resources");
	for (i = 0; i < json_object_array_length(res); i++) {
		json_object *a = json_object_array_get_idx(res, i);
		const char *t = json_object_get_string(json_get(a, "type"));

		if (!strcmp(t, "TCPSocketWrap"))
			sockets = (int)json_at(a, "count", NULL);
		if (!strcmp(t, "Timeout"))
			timeouts = (int)json_at(a, "count", NULL);
	}
	/* the streaming request's two ends, its interval and the forgotten one */
	ASSERT_EQ(sockets, 2);
	ASSERT_EQ(timeouts, 2);
	json_object_put(rep);
}

TEST_MAIN(TEST_ENTRY(refloop_starvation_is_named_with_its_chains),
	  TEST_ENTRY(refloop_backpressure_is_named_and_its_fix_is_not),
	  TEST_ENTRY(refloop_shutdown_hang_names_what_keeps_it_alive),
	  TEST_ENTRY(node_tick_and_promise_chains_are_starvation),
	  TEST_ENTRY(node_ignored_backpressure_is_named_with_its_writer),
	  TEST_ENTRY(node_server_that_does_not_exit_after_sigterm))
