/*
 * test_workers.c — Node.js Worker threads under `loopscope run`: every loop is a subject of its
 * own (tests/agent/node_workers.js, each thread's ELU measured by perf_hooks inside it).
 * - One Worker spins 200 ms of every 250 ms while the main loop idles: the worker's ELU within
 *   0.05 of its own, the main loop's within 0.02 of its own; the findings are the worker's only,
 *   name the spinning function, and the report leads with the worker; gate selectors judge
 *   each loop.
 * - Four Workers run pbkdf2Sync: no share above 100 % anywhere; each worker's busy time is its
 *   own, none of it on the main loop.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "loops_json.h"

#include <math.h>

#define APP LSC_SOURCE_DIR "/tests/agent/node_workers.js"

static void record(const char *mode)
{
	char rec[600], truth[600];
	const char *argv[] = {built("loopscope"), "run", "-o", rec,   "--",
			      "/usr/bin/node",	  APP,	 mode, truth, NULL};
	struct proc p;

	snprintf(rec, sizeof(rec), "%s", path(mode));
	strcat(rec, ".lsr");
	snprintf(truth, sizeof(truth), "%s", path(mode));
	strcat(truth, ".truth.json");
	proc_run(&p, argv, 60, path("run.out"));
	if (p.status)
		LSC_FAIL("loopscope run %s: exit %d: %s", mode, p.status, p.err);
}

TEST(node_worker_loop_is_a_subject_of_its_own)
{
	json_object *truth, *rep, *main_loop, *worker;
	const char *fn;

	capture_setup("workers");
	node_apps_ready();
	record("spin");
	truth = json_file(path("spin.truth.json"));
	rep = report_json(path("spin.lsr"));
	main_loop = loop_of(rep, "main");
	worker = loop_of(rep, "worker:1");
	elus_match(truth, worker, main_loop);
	/* the worker's script, its role; the report leads with it */
	ASSERT_STR_EQ(json_object_get_string(json_get(json_get(worker, "loop_id"), "role")),
		      "worker");
	ASSERT_TRUE(strstr(json_object_get_string(json_get(json_get(worker, "loop_id"), "script")),
			   "node_workers.js") != NULL);
	ASSERT_STR_EQ(json_object_get_string(json_get(json_get(rep, "loop_id"), "key")),
		      "worker:1");
	/* findings about code on the worker only (a busy machine's is any loop's), the first
	 * naming the spinning function, and the worker */
	ASSERT_TRUE(code_finding(main_loop, 0) == NULL);
	fn = code_finding_function(worker);
	ASSERT_TRUE(fn && strstr(fn, "spinInWorker"));
	ASSERT_TRUE(strstr(json_object_get_string(json_get(code_finding(worker, 0), "title")),
			   "worker 1 (node_workers.js): ") != NULL);
	shares_within_100(rep);
	/* gate: a selector judges its loops; the default is the main loop */
	ASSERT_EQ(gate(path("spin.lsr"), "elu.mean <= 0.1\nelu.mean[main] <= 0.1\n"), 0);
	ASSERT_EQ(gate(path("spin.lsr"), "elu.mean[worker:*] <= 0.5\n"), 1);
	ASSERT_EQ(gate(path("spin.lsr"), "cpu.share(spinInWorker)[worker:1] >= 50%\n"), 0);
	ASSERT_EQ(gate(path("spin.lsr"), "lag.p99[worker:node_workers.js] <= 50ms\n"), 1);
	ASSERT_EQ(gate(path("spin.lsr"), "elu.mean[worker:7] <= 0.5\n"), 2);
	json_object_put(rep);
	json_object_put(truth);
}

TEST(node_four_hashing_workers_keep_their_own_time)
{
	json_object *rep, *main_loop;
	char key[32];
	int i;

	capture_setup("workers");
	node_apps_ready();
	record("hash");
	rep = report_json(path("hash.lsr"));
	shares_within_100(rep);
	main_loop = loop_of(rep, "main");
	/* none of the hashing on the main loop: no finding about its code, no blocking call;
	 * its CPU samples are not in hashOnce (checked with the gate below) */
	ASSERT_EQ(json_at(main_loop, "blocking", "count"), 0);
	ASSERT_TRUE(code_finding(main_loop, 0) == NULL);
	for (i = 1; i <= 4; i++) {
		json_object *w;

		snprintf(key, sizeof(key), "worker:%d", i);
		w = loop_of(rep, key);
		printf("# %s: ELU %.2f, %g long busy stretches\n", key,
		       json_at(w, "loop", "elu_mean"), json_at(w, "busy_long", "count"));
		/* 12 hashes of ~25-60 ms each, every one its worker's */
		ASSERT_TRUE(json_at(w, "busy_long", "count") >= 6);
	}
	ASSERT_EQ(gate(path("hash.lsr"), "cpu.share(hashOnce)[worker:*] >= 50%\n"
					 "cpu.share(hashOnce)[main] <= 5%\n"),
		  0);
	json_object_put(rep);
}

/* refloop's worker-offload: a second libuv loop on a thread of its own, measured by libuv on
 * that loop (--stats); the main loop's by refloop's own figure. */
TEST(refloop_second_loop_against_its_own_truth)
{
	char stats[600], rec[600];
	const char *argv[] = {built("loopscope"),
			      "run",
			      "-o",
			      rec,
			      "--",
			      built("examples/worker-offload"),
			      "--duration",
			      "2",
			      "--self-load",
			      "2",
			      "--stats",
			      stats,
			      NULL};
	json_object *truth, *rep, *loops, *worker = NULL, *sc;
	double own_main, own_worker, ours_main, ours_worker;
	const char *fn;
	struct proc p;
	size_t i;

	capture_setup("workers");
	snprintf(stats, sizeof(stats), "%s", path("offload.json"));
	snprintf(rec, sizeof(rec), "%s", path("offload.lsr"));
	proc_run(&p, argv, 60, path("run.out"));
	if (p.status)
		LSC_FAIL("loopscope run worker-offload: %s", p.err);
	truth = json_file(stats);
	sc = json_get(truth, "scenario");
	own_main = json_at(truth, "loop", "elu");
	own_worker = 1 - json_at(sc, "worker_idle_ns", NULL) / json_at(sc, "worker_wall_ns", NULL);
	rep = report_json(rec);
	loops = json_get(rep, "loops");
	for (i = 0; loops && i < json_object_array_length(loops); i++) {
		json_object *l = json_object_array_get_idx(loops, i);

		if (!strcmp(json_object_get_string(json_get(json_get(l, "loop_id"), "role")),
			    "loop"))
			worker = l;
	}
	ASSERT_TRUE(worker != NULL);
	ours_main = json_at(loop_of(rep, "main"), "loop", "elu_mean");
	ours_worker = json_at(worker, "loop", "elu_mean");
	printf("# worker loop ELU: recorded %.3f, libuv's %.3f; main: recorded %.3f, refloop's "
	       "%.3f\n",
	       ours_worker, own_worker, ours_main, own_main);
	ASSERT_TRUE(fabs(ours_worker - own_worker) <= 0.05);
	ASSERT_TRUE(fabs(ours_main - own_main) <= 0.05);
	/* the worker loop's finding at the derivation; none about code on the main loop */
	ASSERT_TRUE(code_finding(loop_of(rep, "main"), 0) == NULL);
	fn = code_finding_function(worker);
	ASSERT_TRUE(fn && strstr(fn, "derive_key"));
	shares_within_100(rep);
	json_object_put(rep);
	json_object_put(truth);
}

TEST_MAIN(TEST_ENTRY(node_worker_loop_is_a_subject_of_its_own),
	  TEST_ENTRY(node_four_hashing_workers_keep_their_own_time),
	  TEST_ENTRY(refloop_second_loop_against_its_own_truth))
