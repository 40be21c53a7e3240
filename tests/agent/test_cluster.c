/*
 * test_cluster.c — a Node.js cluster under `loopscope run` (tests/agent/node_cluster.js: a
 * primary and two workers serving HTTP on 127.0.0.1, 1,500 requests the primary makes itself):
 * every process records by default, into one set (REC and REC.PID beside it, one set id);
 * `report` reads the set: a row per process, the children's work in all, the findings they
 * share; `gate` on the set passes on the healthy cluster and fails when one worker is made slow,
 * naming it; --no-follow-children records the primary alone.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "loops_json.h"

#include <dirent.h>

#define APP LSC_SOURCE_DIR "/tests/agent/node_cluster.js"
/* What the slow worker breaks whatever the machine's load: the share of CPU in slowRoute (a
 * busy-time limit would also catch the preemption of a loaded CI machine). */
#define BUDGET "cpu.share(slowRoute) <= 5%\n"

/* Records the cluster into NAME.lsr; extra: a run option or NULL; slow: worker 1 is slow. */
static void record(const char *name, const char *extra, int slow)
{
	char rec[600];
	const char *argv[16] = {built("loopscope"), "run", "-o", rec};
	struct proc p;
	int n = 4;

	snprintf(rec, sizeof(rec), "%s.lsr", path(name));
	if (extra)
		argv[n++] = extra;
	argv[n++] = "--";
	argv[n++] = "/usr/bin/node";
	argv[n++] = APP;
	argv[n++] = "--requests";
	argv[n++] = "1500";
	if (slow)
		argv[n++] = "--slow";
	argv[n] = NULL;
	proc_run(&p, argv, 90, path("run.out"));
	if (p.status)
		LSC_FAIL("loopscope run: exit %d: %s", p.status, p.err);
}

/* How many NAME.lsr.PID files are beside NAME.lsr. */
static int beside(const char *name)
{
	char prefix[300];
	struct dirent *e;
	DIR *d = opendir(capture_dir);
	int n = 0;

	snprintf(prefix, sizeof(prefix), "%s.lsr.", name);
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

TEST(node_cluster_is_one_set_of_processes)
{
	json_object *rep, *procs, *kids, *across, *nr;
	char rec[600];
	size_t i;

	capture_setup("cluster");
	node_apps_ready();
	record("healthy", NULL, 0);
	ASSERT_EQ(beside("healthy"), 2);
	snprintf(rec, sizeof(rec), "%s", path("healthy.lsr"));
	rep = report_json(rec);
	procs = json_get(rep, "processes");
	ASSERT_TRUE(procs && json_object_array_length(procs) == 3);
	for (i = 1; i < 3; i++) {
		json_object *p = json_object_array_get_idx(procs, i);

		ASSERT_EQ(json_at(p, "parent_pid", NULL),
			  json_at(json_object_array_get_idx(procs, 0), "pid", NULL));
		ASSERT_TRUE(strstr(json_object_get_string(json_get(p, "command")),
				   "node_cluster.js") != NULL);
		/* each worker served requests: its loop was busy */
		ASSERT_TRUE(json_at(p, "elu_mean", NULL) > 0.02);
	}
	kids = json_get(rep, "children");
	printf("# the workers in all: %.3f s busy of %.3f s, %g CPU samples\n",
	       json_at(kids, "busy_s", NULL), json_at(kids, "wall_s", NULL),
	       json_at(kids, "cpu_samples", NULL));
	ASSERT_EQ(json_at(kids, "count", NULL), 2);
	ASSERT_TRUE(json_at(kids, "busy_s", NULL) > 0.05);
	nr = json_get(rep, "not_recorded");
	ASSERT_TRUE(nr && json_object_array_length(nr) == 0);
	ASSERT_EQ(gate(rec, BUDGET), 0);
	json_object_put(rep);

	/* one worker slow: the set's gate fails on it, and the report says which of the two */
	record("slow", NULL, 1);
	snprintf(rec, sizeof(rec), "%s", path("slow.lsr"));
	ASSERT_EQ(gate(rec, BUDGET), 1);
	rep = report_json(rec);
	across = json_get(rep, "across");
	for (i = 0; across && i < json_object_array_length(across); i++) {
		json_object *f = json_object_array_get_idx(across, i);
		const char *fn = json_object_get_string(json_get(json_get(f, "frame"), "function"));

		printf("# %g of %g: %s at %s\n", json_at(f, "processes", NULL),
		       json_at(f, "of", NULL), json_object_get_string(json_get(f, "title")),
		       fn ? fn : "-");
		if (fn && strstr(fn, "slowRoute") && json_at(f, "of", NULL) == 2 &&
		    json_at(f, "processes", NULL) == 1)
			break;
	}
	ASSERT_TRUE(across && i < json_object_array_length(across));
	/* the report leads with the slow worker */
	ASSERT_TRUE(json_at(rep, "lead_pid", NULL) !=
		    json_at(json_object_array_get_idx(json_get(rep, "processes"), 0), "pid", NULL));
	json_object_put(rep);

	/* --no-follow-children: the primary alone */
	record("alone", "--no-follow-children", 0);
	ASSERT_EQ(beside("alone"), 0);
}

/* A Node child started with a clean environment cannot load the agent: the report names it and
 * says why; a shell child is not Node.js and is only counted. */
TEST(children_that_did_not_record_are_named)
{
	char rec[600];
	const char *argv[] = {built("loopscope"),
			      "run",
			      "-o",
			      rec,
			      "--",
			      "/usr/bin/node",
			      "-e",
			      "const cp = require('child_process');"
			      "cp.spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 400)'],"
			      " { env: {} });"
			      "cp.spawnSync('/bin/sh', ['-c', 'sleep 0.3']);",
			      NULL};
	json_object *rep, *nr, *why;
	struct proc p;

	capture_setup("cluster");
	snprintf(rec, sizeof(rec), "%s", path("clean.lsr"));
	proc_run(&p, argv, 60, path("run.out"));
	if (p.status)
		LSC_FAIL("loopscope run: %s", p.err);
	ASSERT_EQ(beside("clean"), 0);
	rep = report_json(rec);
	nr = json_get(rep, "not_recorded");
	ASSERT_TRUE(nr && json_object_array_length(nr) == 1);
	why = json_get(json_object_array_get_idx(nr, 0), "why");
	printf("# not recorded: %s\n", json_object_get_string(why));
	ASSERT_TRUE(strstr(json_object_get_string(why), "dropped LD_PRELOAD") != NULL);
	ASSERT_TRUE(json_at(rep, "not_recorded_other", NULL) >= 1);
	json_object_put(rep);
}

TEST_MAIN(TEST_ENTRY(node_cluster_is_one_set_of_processes),
	  TEST_ENTRY(children_that_did_not_record_are_named))
