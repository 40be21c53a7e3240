/*
 * test_node_resources.c — Node.js's active resources counted the way Node counts them
 * (agent/node_resources.c, analysis/report_node.c): a fastify route that starts a setInterval per
 * request and never clears it (tests/agent/node_timers.js, startWatch at line 12). libuv sees one
 * timer; Node's process.getActiveResourcesInfo() sees thousands of Timeouts. The report's handle
 * finding names the Timeouts with a count within 5 % of the app's own reading at exit and the
 * function that makes them; `gate` checks handles.growth(Timeout). And the RSS peak, as the
 * kernel keeps it, between windows.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"

#include <math.h>

#define WATCH_LINE 12

/* loopscope gate REC with a one-line budget: its exit status and what it printed. */
static int gate(const char *rec, const char *line, char *out, size_t cap)
{
	const char *argv[] = {built("loopscope"), "gate", rec, "--budget",
			      path("budget.txt"), NULL};
	struct proc p;
	FILE *f = fopen(path("budget.txt"), "w");

	ASSERT_TRUE(f != NULL);
	fprintf(f, "%s\n", line);
	fclose(f);
	proc_run(&p, argv, 60, path("gate.txt"));
	slurp(path("gate.txt"), out, cap);
	printf("# gate '%s': %s", line, out);
	return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1;
}

TEST(node_timeouts_are_counted_as_node_counts_them)
{
	json_object *st, *rep, *types, *fnd, *t, *fr;
	const char *title;
	double timeouts, ours = -1, first = -1, measured;
	char out[4096], *m;
	struct proc p;
	size_t i;
	int found = 0;

	capture_setup("agent");
	node_apps_ready(); /* fastify */
	{
		const char *run[] = {built("loopscope"),
				     "run",
				     "--window",
				     "250", /* the load lasts about a second: windows see it grow */
				     "--js-heap-interval",
				     "32768", /* 3,000 timers are a few hundred KiB: samples enough
					       * to name who makes them */
				     "-o",
				     path("timers.lsr"),
				     "--",
				     "/usr/bin/node",
				     LSC_SOURCE_DIR "/tests/agent/node_timers.js",
				     path("timers.json"),
				     "3000",
				     NULL};

		proc_run(&p, run, 180, NULL);
	}
	if (p.status)
		LSC_FAIL("node_timers.js under the agent: status 0x%x: %s", p.status, p.err);
	st = json_file(path("timers.json"));
	ASSERT_EQ(json_at(st, "requests", NULL), 3000);
	timeouts = json_at(st, "timeouts", NULL);
	json_object_put(st);
	ASSERT_CMP(timeouts, >=, 3000);

	{
		const char *argv[] = {
			built("loopscope"),	    "report", path("timers.lsr"), "--json", "-o",
			path("timers.report.json"), NULL};

		proc_run(&p, argv, 60, NULL);
		ASSERT_EQ(p.status, 0);
	}
	rep = json_file(path("timers.report.json"));
	ASSERT_TRUE(!strcmp(json_object_get_string(json_get(json_get(rep, "handles"), "source")),
			    "node"));
	types = json_get(json_get(rep, "handles"), "by_type");
	ASSERT_TRUE(types != NULL);
	for (i = 0; i < json_object_array_length(types); i++) {
		t = json_object_array_get_idx(types, i);
		if (!strcmp(json_object_get_string(json_get(t, "type")), "Timeout")) {
			ours = json_object_get_double(json_get(t, "last"));
			first = json_object_get_double(json_get(t, "first"));
		}
	}
	printf("# Timeouts: %.0f by Node's own count at exit, %.0f in the last window\n", timeouts,
	       ours);
	ASSERT_CMP(fabs(ours - timeouts), <=, 0.05 * timeouts);

	/* the finding: Timeouts, counted, and the function that makes them */
	fnd = json_get(rep, "diagnosis");
	for (i = 0; fnd && i < json_object_array_length(fnd); i++) {
		t = json_object_array_get_idx(fnd, i);
		if (strcmp(json_object_get_string(json_get(t, "id")), "handle-leak"))
			continue;
		found = 1;
		title = json_object_get_string(json_get(t, "title"));
		printf("# finding: %s: %s\n", title,
		       json_object_get_string(json_get(t, "evidence")));
		ASSERT_TRUE(strstr(title, "Timeout") != NULL);
		fr = json_get(t, "frame");
		ASSERT_TRUE(fr != NULL);
		ASSERT_TRUE(
			!strcmp(json_object_get_string(json_get(fr, "function")), "startWatch"));
		ASSERT_EQ(json_object_get_int(json_get(fr, "line")), WATCH_LINE);
	}
	ASSERT_TRUE(found);
	json_object_put(rep);

	/* gate: the Timeouts' growth from the first window to the last, as Node counts them */
	ASSERT_EQ(gate(path("timers.lsr"), "handles.growth(Timeout) <= 100", out, sizeof(out)), 1);
	m = strstr(out, "measured");
	ASSERT_TRUE(m && sscanf(m, "measured %lf", &measured) == 1);
	ASSERT_CMP(measured, ==, ours - first);
	ASSERT_CMP(measured, >, 100); /* the check failed on the growth, not on a missing metric */
	ASSERT_EQ(gate(path("timers.lsr"), "handles.growth(Timeout) <= 100000", out, sizeof(out)),
		  0);
}

/* RSS sampled at window ends misses a buffer that comes and goes between them; the report's
 * RSS max is the kernel's high-water mark (VmHWM, in each window): 160 MiB touched and freed
 * before the first window ends is seen, though no window end saw it. */
TEST(rss_max_is_the_peak_not_a_window_end)
{
	const char *run[] = {
		built("loopscope"),
		"run",
		"-o",
		path("peak.lsr"),
		"--",
		"/usr/bin/node",
		"--expose-gc",
		"-e",
		"let b = Buffer.alloc(160 << 20, 1); b = null; gc(); setTimeout(() => {}, 1500)",
		NULL};
	const char *rep[] = {built("loopscope"), "report", path("peak.lsr"), "--json", "-o",
			     path("peak.json"),	 NULL};
	struct lsc_recording *r;
	json_object *doc;
	uint64_t ends = 0;
	struct proc p;
	size_t i;

	proc_run(&p, run, 60, NULL);
	ASSERT_EQ(p.status, 0);
	r = read_rec(path("peak.lsr"));
	for (i = 0; i < r->nwindows; i++)
		if (r->windows[i]->rss_bytes > ends)
			ends = r->windows[i]->rss_bytes;
	lsc_recording_free(r);
	proc_run(&p, rep, 60, NULL);
	ASSERT_EQ(p.status, 0);
	doc = json_file(path("peak.json"));
	printf("# RSS: %.1f MiB at most at a window's end, report's max %.1f MiB\n",
	       ends / 1048576.0, json_at(doc, "memory", "rss_max") / 1048576.0);
	ASSERT_CMP(ends, <, 160ull << 20);
	ASSERT_CMP(json_at(doc, "memory", "rss_max"), >=, 160.0 * 1048576);
	ASSERT_TRUE(json_object_get_boolean(json_get(json_get(doc, "memory"), "rss_max_is_peak")));
	json_object_put(doc);
}

/* The drain's reason, its long busy stretch counted in it (over a second), and no finding
 * built on it: the spin after the stop is not a CPU-bound callback of the run. */
static void drain_apart(json_object *doc, const char *reason)
{
	json_object *d = json_get(doc, "diagnosis");
	const char *why =
		json_object_get_string(json_get(json_get(doc, "loop"), "shutdown_reason"));
	size_t i;

	printf("# drain: %s; %g long busy stretches, %.0f ms\n", why ? why : "?",
	       json_at(doc, "loop", "drain_busy_count"),
	       json_at(doc, "loop", "drain_busy_ns") / 1e6);
	ASSERT_TRUE(why && !strcmp(why, reason));
	ASSERT_CMP(json_at(doc, "loop", "drain_busy_ns"), >=, 1.0e9);
	for (i = 0; d && i < json_object_array_length(d); i++) {
		const char *id =
			json_object_get_string(json_get(json_object_array_get_idx(d, i), "id"));

		printf("# finding %s\n", id);
		ASSERT_TRUE(strcmp(id, "cpu-bound-callbacks") && strcmp(id, "loop-saturated") &&
			    strcmp(id, "loop-delay"));
	}
}

/* A Node program that drains for 1.5 s of CPU after a SIGTERM it handles: the report's loop
 * figures are the idle ones before it, and the drain is shown apart (#13: shutdown apart). */
TEST(the_drain_after_sigterm_is_apart)
{
	const char *run[] = {built("loopscope"),
			     "run",
			     "-o",
			     path("drain.lsr"),
			     "--",
			     "/usr/bin/node",
			     "-e",
			     "process.on('SIGTERM', () => { const end = Date.now() + 1500; "
			     "while (Date.now() < end); process.exit(0); }); "
			     "setInterval(() => {}, 1000); "
			     "setTimeout(() => process.kill(process.pid, 'SIGTERM'), 2500)",
			     NULL};
	const char *rep[] = {built("loopscope"), "report", path("drain.lsr"), "--json", "-o",
			     path("drain.json"), NULL};
	json_object *doc;
	struct proc p;

	proc_run(&p, run, 60, NULL);
	ASSERT_EQ(p.status, 0);
	proc_run(&p, rep, 60, NULL);
	ASSERT_EQ(p.status, 0);
	doc = json_file(path("drain.json"));
	printf("# ELU %.3f; drain %.2f s, ELU %.2f\n", json_at(doc, "loop", "elu_mean"),
	       json_at(doc, "loop", "shutdown_ns") / 1e9, json_at(doc, "loop", "shutdown_elu"));
	ASSERT_CMP(json_at(doc, "loop", "elu_mean"), <, 0.2);
	ASSERT_CMP(json_at(doc, "loop", "shutdown_ns"), >=, 1.4e9);
	ASSERT_CMP(json_at(doc, "loop", "shutdown_elu"), >, 0.5);
	drain_apart(doc, "SIGTERM");
	json_object_put(doc);
}

/* The same when nothing signals it: the program closes its server (server.close(), its only
 * listening socket) and spins 1.2 s before it exits. */
TEST(the_drain_after_server_close_is_apart)
{
	const char *run[] = {NULL,
			     "run",
			     "-o",
			     NULL,
			     "--",
			     "/usr/bin/node",
			     "-e",
			     "const s = require('http').createServer((q, r) => r.end('ok'))"
			     ".listen(0, '127.0.0.1', () => setTimeout(() => { s.close(); "
			     "const end = Date.now() + 1200; while (Date.now() < end); }, 2500));",
			     NULL};
	const char *rep[] = {NULL, "report", NULL, "--json", "-o", NULL, NULL};
	json_object *doc;
	struct proc p;

	run[0] = rep[0] = built("loopscope");
	run[3] = rep[2] = path("close.lsr");
	rep[5] = path("close.json");
	proc_run(&p, run, 60, NULL);
	ASSERT_EQ(p.status, 0);
	proc_run(&p, rep, 60, NULL);
	ASSERT_EQ(p.status, 0);
	doc = json_file(path("close.json"));
	printf("# ELU %.3f; drain %.2f s, ELU %.2f\n", json_at(doc, "loop", "elu_mean"),
	       json_at(doc, "loop", "shutdown_ns") / 1e9, json_at(doc, "loop", "shutdown_elu"));
	ASSERT_CMP(json_at(doc, "loop", "elu_mean"), <, 0.2);
	ASSERT_CMP(json_at(doc, "loop", "shutdown_ns"), >=, 1.0e9);
	drain_apart(doc, "its last listening socket closed");
	json_object_put(doc);
}

TEST_MAIN(TEST_ENTRY(node_timeouts_are_counted_as_node_counts_them),
	  TEST_ENTRY(the_drain_after_sigterm_is_apart),
	  TEST_ENTRY(the_drain_after_server_close_is_apart),
	  TEST_ENTRY(rss_max_is_the_peak_not_a_window_end))
