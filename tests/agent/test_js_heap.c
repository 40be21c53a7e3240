/*
 * test_js_heap.c — Node.js's JS heap by allocation site under `loopscope run` (agent/node_heap.c,
 * agent/jsheap.c, analysis/heap_js.c): V8's sampling heap profiler, started by the agent with no
 * flag, read once a window. An express route that keeps a copy of every request's items in a
 * global array (tests/agent/node_keep.js, keepItems at line 18): `heap` and `leaks` put that
 * function and line first among JS sites, with live bytes within 25 % of Node's own count (heap
 * used after a full GC, before and after the load); `flame --kind js-live` draws it; `report`
 * and `heap` give the same managed numbers and the report's managed-heap finding names it; and a
 * SIGKILL keeps the last reading.
 *
 * Both runs sample every 64 KiB (`--js-heap-interval 65536`), not the default 256 KiB: V8's
 * sampling is a random draw whose relative error is about sqrt(interval / bytes). On the ~32 MiB
 * this app keeps, the default gives keepItems 0.72-1.09 of Node's count (20 runs, sd 0.09: one
 * run in twenty falls outside 25 %, as CI saw); 64 KiB gives 0.90-0.99 (12 runs, sd 0.03), so a
 * miss of 25 % is an error of the attribution, not of the draw. The default's spread is in
 * docs/heap.md.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"

#include <math.h>
#include <signal.h>
#include <sys/wait.h>

#define KEEP_LINE 18

static int ends_with(const char *s, const char *tail)
{
	size_t n = s ? strlen(s) : 0, k = strlen(tail);

	return n >= k && strcmp(s + n - k, tail) == 0;
}

/* `loopscope CMD REC --json` parsed; NULL when it fails (the reason printed). */
static json_object *cli_json(const char *cmd, const char *rec)
{
	const char *argv[] = {built("loopscope"), cmd, rec, "--json", "-o", path("cli.json"), NULL};
	struct proc p;

	proc_run(&p, argv, 60, NULL);
	if (p.status) {
		printf("# loopscope %s: %s", cmd, p.err);
		return NULL;
	}
	return json_file(path("cli.json"));
}

/* The first JS site of `leaks` (list "sites") or `heap` (list "growth_sites"): keepItems at its
 * line, holding what Node counted within 25 %. Returns 1 when it holds (why not printed). */
static int keep_items_first(json_object *doc, const char *list, const char *value,
			    double node_growth)
{
	json_object *js = json_get(doc, "js"), *sites = json_get(js, list), *first, *at;
	const char *fn, *file;
	double v;

	if (!sites || !json_object_array_length(sites)) {
		printf("# no JS sites in %s\n", list);
		return 0;
	}
	first = json_object_array_get_idx(sites, 0);
	at = json_get(first, "at");
	fn = json_object_get_string(json_get(at, "function"));
	file = json_object_get_string(json_get(at, "file"));
	v = json_object_get_double(json_get(first, value));
	printf("# %s: first JS site %s (%s:%d), %s %.1f MiB; Node counted %.1f MiB\n", list,
	       fn ? fn : "?", file ? file : "?", json_object_get_int(json_get(at, "line")), value,
	       v / 1048576, node_growth / 1048576);
	for (size_t i = 1; i < 3 && i < json_object_array_length(sites); i++) {
		json_object *s = json_object_array_get_idx(sites, i), *a = json_get(s, "at");

		printf("#   then %s (%s:%d) %.1f MiB\n",
		       json_object_get_string(json_get(a, "function")),
		       json_object_get_string(json_get(a, "file")),
		       json_object_get_int(json_get(a, "line")),
		       json_object_get_double(json_get(s, value)) / 1048576);
	}
	return fn && !strcmp(fn, "keepItems") && ends_with(file, "/tests/agent/node_keep.js") &&
	       json_object_get_int(json_get(at, "line")) == KEEP_LINE && v >= 0.75 * node_growth &&
	       v <= 1.25 * node_growth;
}

TEST(node_js_heap_growth_is_named_by_allocation_site)
{
	const char *run[] = {built("loopscope"),
			     "run",
			     "-o",
			     path("keep.lsr"),
			     "--js-heap-interval",
			     "65536",
			     "--",
			     "/usr/bin/node",
			     "--expose-gc",
			     LSC_SOURCE_DIR "/tests/agent/node_keep.js",
			     path("keep.json"),
			     "3000",
			     NULL};
	json_object *st, *heap, *leaks, *report, *m;
	char buf[1 << 16], *line, *best = NULL;
	unsigned long long v, top = 0;
	double growth;
	struct proc p;

	node_apps_ready(); /* express */
	proc_run(&p, run, 180, NULL);
	if (p.status)
		LSC_FAIL("node_keep.js under the agent: status 0x%x: %s", p.status, p.err);
	st = json_file(path("keep.json"));
	ASSERT_EQ(json_at(st, "requests", NULL), 3001);
	growth = json_at(st, "heapUsedGrowth", NULL);
	json_object_put(st);
	ASSERT_CMP(growth, >, 20.0 * 1048576); /* the load kept something worth finding */

	heap = cli_json("heap", path("keep.lsr"));
	leaks = cli_json("leaks", path("keep.lsr"));
	ASSERT_TRUE(heap && leaks);
	ASSERT_TRUE(keep_items_first(heap, "growth_sites", "growth_bytes", growth));
	ASSERT_TRUE(keep_items_first(leaks, "sites", "live_bytes", growth));
	ASSERT_TRUE(json_object_get_boolean(json_get(
		json_object_array_get_idx(json_get(json_get(heap, "js"), "growth_sites"), 0),
		"likely_leak")));

	/* The flame graph of what is live: its heaviest stack ends in keepItems. (Its argv made
	 * here: path() names rotate.) */
	{
		const char *flame[] = {built("loopscope"),  "flame",	path("keep.lsr"), "--kind",
				       "js-live",	    "--format", "folded",	  "-o",
				       path("keep.folded"), NULL};

		proc_run(&p, flame, 60, NULL);
	}
	if (p.status)
		LSC_FAIL("flame --kind js-live: %s", p.err);
	slurp(path("keep.folded"), buf, sizeof(buf));
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *sp = strrchr(line, ' ');

		if (sp && sscanf(sp + 1, "%llu", &v) == 1 && v > top) {
			top = v;
			*sp = 0;
			best = line;
		}
	}
	ASSERT_TRUE(best != NULL);
	printf("# js-live's heaviest stack: ...%s\n",
	       strlen(best) > 60 ? best + strlen(best) - 60 : best);
	ASSERT_TRUE(ends_with(best, ";keepItems"));

	/* One managed heap: report's numbers are heap's. */
	report = cli_json("report", path("keep.lsr"));
	m = json_get(heap, "managed");
	ASSERT_TRUE(report && m);
	/* (heap's JSON has 6 significant digits) */
	ASSERT_CMP(fabs(json_at(report, "memory", "managed_live_first") -
			json_object_get_double(json_get(m, "first_bytes"))),
		   <=, 1e-5 * json_object_get_double(json_get(m, "first_bytes")));
	ASSERT_CMP(fabs(json_at(report, "memory", "managed_live_last") -
			json_object_get_double(json_get(m, "last_bytes"))),
		   <=, 1e-5 * json_object_get_double(json_get(m, "last_bytes")));
	/* gate holds the JS heap's growth against a budget */
	{
		const char *argv[] = {built("loopscope"), "gate", path("keep.lsr"), "--budget",
				      path("budget.txt"), NULL};
		char out[2048], *at;
		double measured;
		FILE *f = fopen(path("budget.txt"), "w");

		ASSERT_TRUE(f != NULL);
		fputs("heap.js_growth <= 10MiB\n", f);
		fclose(f);
		proc_run(&p, argv, 60, path("gate.txt"));
		slurp(path("gate.txt"), out, sizeof(out));
		printf("# gate: %s", out);
		ASSERT_EQ(WEXITSTATUS(p.status), 1);
		at = strstr(out, "measured");
		ASSERT_TRUE(at && sscanf(at, "measured %lf", &measured) == 1);
		ASSERT_TRUE(strstr(at, "MiB") != NULL);
		ASSERT_CMP(measured * 1048576, >=, 0.75 * growth);
	}
	/* and the report's finding on the growing managed heap names the same function */
	{
		json_object *diag = json_get(report, "diagnosis"), *fr = NULL;
		size_t i;

		for (i = 0; diag && i < json_object_array_length(diag); i++) {
			json_object *f = json_object_array_get_idx(diag, i);

			if (!strcmp(json_object_get_string(json_get(f, "id")),
				    "managed-heap-growth")) {
				printf("# report: %s\n",
				       json_object_get_string(json_get(f, "evidence")));
				fr = json_get(f, "frame");
			}
		}
		ASSERT_TRUE(fr != NULL);
		ASSERT_STR_EQ(json_object_get_string(json_get(fr, "function")), "keepItems");
		ASSERT_EQ(json_object_get_int(json_get(fr, "line")), KEEP_LINE);
	}
	json_object_put(heap);
	json_object_put(leaks);
	json_object_put(report);
}

/* loopscope run and the program it runs, killed (a failed case leaves nothing behind). */
static void kill_tree(pid_t pid)
{
	char f[64];
	FILE *c;
	int child;

	snprintf(f, sizeof(f), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	c = fopen(f, "r");
	while (c && fscanf(c, "%d", &child) == 1)
		kill(child, SIGKILL);
	if (c)
		fclose(c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Killed with SIGKILL once the recording shows the leak: the file keeps the last reading. */
TEST(node_js_heap_survives_a_sigkill)
{
	const char *run[] = {built("loopscope"),
			     "run",
			     "-o",
			     path("hold.lsr"),
			     "--js-heap-interval",
			     "65536",
			     "--",
			     "/usr/bin/node",
			     "--expose-gc",
			     LSC_SOURCE_DIR "/tests/agent/node_keep.js",
			     path("hold.json"),
			     "2000",
			     "hold",
			     NULL};
	double deadline, growth;
	json_object *st = NULL, *leaks = NULL;
	int status, seen = 0;
	pid_t pid;

	node_apps_ready();
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int o = open("/dev/null", O_WRONLY);

		dup2(o, 1);
		execv(run[0], (char *const *)run);
		_exit(127);
	}
	/* the load done (the app's own count written), then the recording read as it grows */
	deadline = proc_now() + 120;
	while (!(st = access(path("hold.json"), R_OK) == 0 ? json_file(path("hold.json")) : NULL)) {
		if (proc_now() > deadline || waitpid(pid, &status, WNOHANG) == pid) {
			kill_tree(pid);
			LSC_FAIL("node_keep.js hold did not finish its load");
		}
		usleep(100000);
	}
	growth = json_at(st, "heapUsedGrowth", NULL);
	deadline = proc_now() + 30;
	while (!seen && proc_now() < deadline) {
		leaks = cli_json("leaks", path("hold.lsr"));
		seen = leaks && keep_items_first(leaks, "sites", "live_bytes", growth);
		json_object_put(leaks);
		if (!seen)
			usleep(250000);
	}
	kill((pid_t)json_at(st, "pid", NULL), SIGKILL);
	json_object_put(st);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!seen)
		printf("# the recording never showed keepItems first within 25 %%\n");
	ASSERT_TRUE(seen); /* within 30 s of the load's end: a reading a window after it */
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL);
	/* after the kill: no footer, the same answer */
	leaks = cli_json("leaks", path("hold.lsr"));
	ASSERT_TRUE(leaks != NULL);
	ASSERT_TRUE(keep_items_first(leaks, "sites", "live_bytes", growth));
	json_object_put(leaks);
}

/* The cases' files are named before their first line runs: the directory comes first. */
static void setup(void) __attribute__((constructor));
static void setup(void)
{
	capture_setup("agent");
}

TEST_MAIN(TEST_ENTRY(node_js_heap_growth_is_named_by_allocation_site),
	  TEST_ENTRY(node_js_heap_survives_a_sigkill))
