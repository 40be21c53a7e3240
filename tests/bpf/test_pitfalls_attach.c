/*
 * test_pitfalls_attach.c — the classic pitfalls named under `loopscope attach` (root, as CI
 * runs): refloop's scenarios, attached before they begin, against their --stats ground truth,
 * as tests/agent/test_pitfalls.c does under run. attach sees the loop's stretches and CPU
 * samples (starvation), libuv's stream write queues (backpressure) and the stop signal and
 * alive handles (shutdown) from the kernel; each pitfall gives its finding and gate fails on its
 * metric; the fixed twin and the healthy scenario give none of them. Node's nextTick and promise
 * chains (tests/agent/node_pitfalls.js) against the app's own count and heartbeat.
 */
#define LSC_TEST_TIMEOUT 300
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "attach_run.h"
#include "findings.h"

#include <signal.h>

/* examples/shutdown_hang.c: the line of start()'s rl_set_interval (the forgotten interval) */
#define INTERVAL_LINE 89

/* examples/NAME --stats --wait-signal 1 ARGS, attached to before it starts; its stats and the
 * report of the recording REC (path("NAME.lsr")). */
static void attach_scenario(const char *name, const char *const *args, json_object **stats,
			    json_object **rep)
{
	const char *argv[24] = {NULL};
	char exe[512], st[600], rec[600], out[64], err[64], alog[64], js[64];
	pid_t t, a;
	int n = 0;

	snprintf(exe, sizeof(exe), "%s/examples/%s", LSC_BUILD_DIR, name);
	snprintf(st, sizeof(st), "%s.json", path(name));
	snprintf(rec, sizeof(rec), "%s.lsr", path(name));
	argv[n++] = exe;
	argv[n++] = "--stats";
	argv[n++] = st;
	argv[n++] = "--wait-signal";
	argv[n++] = "1";
	argv[n++] = "--quiet";
	argv[n++] = "1";
	while (*args && n < 22)
		argv[n++] = *args++;
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
	*stats = json_file(st);
	snprintf(js, sizeof(js), "%s.report.json", name);
	*rep = report_of(rec, js);
}

TEST(starvation_under_attach)
{
	static const char *const args[] = {"--duration",  "3",		 "--every",
					   "500",	  "--starve-ms", "200",
					   "--self-load", "1",		 NULL};
	json_object *st, *rep, *f, *sv;
	double episodes, starved, count, total;

	capture_setup("pitfalls-attach");
	attach_scenario("nexttick-starvation", args, &st, &rep);
	only(rep, "tick-starvation");
	f = finding(rep, "tick-starvation");
	ASSERT_TRUE(!strcmp(frame_fn(f), "spin_tick"));
	episodes = json_at(st, "scenario", "episodes");
	starved = json_at(st, "scenario", "starved_ns");
	sv = json_get(rep, "starvation");
	count = json_at(sv, "count", NULL);
	total = json_at(sv, "total_ns", NULL);
	printf("# %0.f chains, %.1f ms; the scenario's %0.f episodes, %.1f ms\n", count,
	       total / 1e6, episodes, starved / 1e6);
	/* attach sends each long busy segment with the CPU samples taken in it: every chain is
	 * one, judged by its own samples, timed by the loop's own poll boundaries */
	ASSERT_CMP(count, ==, episodes);
	ASSERT_CMP(total, >=, 0.95 * starved);
	ASSERT_CMP(total, <=, 1.05 * starved);
	gate_catches(path("nexttick-starvation.lsr"), "starvation.max", json_at(sv, "max_ns", NULL),
		     "ms");
	gate_catches(path("nexttick-starvation.lsr"), "starvation.total", total, "ms");
	ASSERT_TRUE(finding(rep, "cpu-bound-callbacks") == NULL);
	json_object_put(st);
	json_object_put(rep);
}

/* Node: tests/agent/node_pitfalls.js MODE, attached to before its chains begin; its JSON line
 * (the app's own count and heartbeat) and the report. */
static void attach_node_chains(const char *mode, json_object **own, json_object **rep)
{
	const char *argv[] = {"/usr/bin/node", LSC_SOURCE_DIR "/tests/agent/node_pitfalls.js", mode,
			      "--wait-signal", NULL};
	char out[64], err[64], alog[64], rec[600], js[64], line[4096];
	pid_t t, a;

	snprintf(out, sizeof(out), "node-%s.out", mode);
	snprintf(err, sizeof(err), "node-%s.err", mode);
	snprintf(alog, sizeof(alog), "node-%s.attach", mode);
	snprintf(rec, sizeof(rec), "%s", path("node.lsr"));
	t = proc_spawn(argv, path(out), path(err), NULL);
	wait_text(path(err), "waiting for SIGUSR2", 20);
	a = attach(t, rec, path(alog), NULL);
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
	slurp(path(out), line, sizeof(line));
	*own = json_tokener_parse(line);
	if (!*own)
		LSC_FAIL("node_pitfalls.js %s printed no JSON: %s", mode, line);
	snprintf(js, sizeof(js), "node-%s.report.json", mode);
	*rep = report_of(rec, js);
}

TEST(node_chains_under_attach)
{
	static const struct {
		const char *mode, *fn;
	} cases[] = {{"tick", "spin"}, {"await", "awaitLoop"}, {"many", NULL}};
	size_t i;

	capture_setup("pitfalls-attach");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *own, *rep, *f, *sv;
		double late;

		attach_node_chains(cases[i].mode, &own, &rep);
		late = json_at(own, "heartbeat_max_late_ms", NULL);
		sv = json_get(rep, "starvation");
		printf("# %s: %.0f chains by the app, the heartbeat late by %.1f ms at most; "
		       "loopscope: %.0f chains, %.1f ms at most\n",
		       cases[i].mode, json_at(own, "chains", NULL), late,
		       sv ? json_at(sv, "count", NULL) : 0,
		       sv ? json_at(sv, "max_ns", NULL) / 1e6 : 0);
		/* GC may run in a chain that allocates: only the chains' finding is asked for */
		f = finding(rep, "tick-starvation");
		ASSERT_TRUE(finding(rep, "cpu-bound-callbacks") == NULL);
		if (!cases[i].fn) {
			ASSERT_TRUE(f == NULL);
		} else {
			ASSERT_TRUE(f != NULL);
			ASSERT_TRUE(!strcmp(frame_fn(f), cases[i].fn));
			ASSERT_TRUE(strstr(json_object_get_string(json_get(f, "title")),
					   i == 0 ? "nextTick" : "microtask") != NULL);
			ASSERT_EQ(json_at(sv, "count", NULL), json_at(own, "chains", NULL));
			ASSERT_CMP(json_at(sv, "max_ns", NULL) / 1e6, >=, 0.8 * late);
		}
		json_object_put(own);
		json_object_put(rep);
	}
}

TEST(backpressure_under_attach_and_its_fix)
{
	static const char *const args[] = {"--duration", "3", "--self-load", "2", NULL};
	json_object *st, *rep, *bp;
	double peak, ours;

	capture_setup("pitfalls-attach");
	attach_scenario("backpressure-ignored", args, &st, &rep);
	only(rep, "backpressure-ignored");
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

	attach_scenario("stream-file", args, &st, &rep);
	ASSERT_CMP(json_at(st, "http", "responses"), >=, 1);
	only(rep, NULL);
	json_object_put(st);
	json_object_put(rep);
	attach_scenario("healthy", args, &st, &rep);
	only(rep, NULL);
	json_object_put(st);
	json_object_put(rep);
}

TEST(shutdown_hang_under_attach)
{
	static const char *const args[] = {"--self-load", "2", "--term-after", "1", "--hang-s",
					   "6",		  NULL};
	json_object *st, *rep, *sd, *alive;
	double tcp = 0, timers = 0, after;
	size_t i;

	capture_setup("pitfalls-attach");
	attach_scenario("shutdown-hang", args, &st, &rep);
	only(rep, "shutdown-hang");
	sd = json_get(rep, "shutdown");
	ASSERT_TRUE(!strcmp(json_object_get_string(json_get(sd, "reason")), "SIGTERM"));
	after = json_at(sd, "after_ns", NULL);
	printf("# stopped %.2f s after the SIGTERM; the scenario's hang %.2f s\n", after / 1e9,
	       json_at(st, "scenario", "hang_ns") / 1e9);
	ASSERT_CMP(after, >=, 0.95 * json_at(st, "scenario", "hang_ns"));
	gate_catches(path("shutdown-hang.lsr"), "shutdown.hang", after, "ms");
	alive = json_get(sd, "alive_handles");
	for (i = 0; alive && i < json_object_array_length(alive); i++) {
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
	/* where they were made: the forgotten interval at the scenario's start() (its line, the
	 * rl_set_interval call), every alive handle at a site seen made (attached first) */
	{
		json_object *sites = json_get(sd, "alive_sites");
		double made = 0;
		int interval = 0;

		ASSERT_TRUE(sites != NULL);
		for (i = 0; i < json_object_array_length(sites); i++) {
			json_object *s = json_object_array_get_idx(sites, i),
				    *at = json_get(s, "made_at");
			const char *fn = at ? json_object_get_string(json_get(at, "function")) : "";

			printf("# %.0f %s made at %s (%s:%.0f)\n", json_at(s, "count", NULL),
			       json_object_get_string(json_get(s, "type")), fn,
			       at ? json_object_get_string(json_get(at, "file")) : "-",
			       at ? json_at(at, "line", NULL) : 0);
			ASSERT_TRUE(at != NULL);
			if (!strcmp(json_object_get_string(json_get(s, "type")), "timer") ||
			    !strcmp(json_object_get_string(json_get(s, "type")), "tcp"))
				made += json_at(s, "count", NULL);
			if (!strcmp(json_object_get_string(json_get(s, "type")), "timer") &&
			    !strcmp(fn, "start") &&
			    strstr(json_object_get_string(json_get(at, "file")),
				   "shutdown_hang.c") &&
			    json_at(at, "line", NULL) == INTERVAL_LINE)
				interval = 1;
		}
		ASSERT_EQ(made, tcp + timers);
		ASSERT_TRUE(interval);
		ASSERT_TRUE(strstr(json_object_get_string(
					   json_get(finding(rep, "shutdown-hang"), "evidence")),
				   "made at start (") != NULL);
	}
	json_object_put(st);
	json_object_put(rep);
}

TEST_MAIN(TEST_ENTRY(starvation_under_attach), TEST_ENTRY(node_chains_under_attach),
	  TEST_ENTRY(backpressure_under_attach_and_its_fix), TEST_ENTRY(shutdown_hang_under_attach))
