/*
 * test_workers_attach.c — a Node.js Worker under `loopscope attach` (as root): the loops told
 * apart by thread, the Worker's found by its stacks (node::worker::Worker::Run), each with its
 * own ELU against what perf_hooks measures inside it, and the findings on the Worker alone
 * (tests/agent/node_workers.js, the case test_workers.c runs under `run`). Node starts with no
 * flag: the Worker's JS frames are named from its isolate's objects (bpf/v8.h).
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "attach_run.h"
#include "loops_json.h"

#include <math.h>

#define APP LSC_SOURCE_DIR "/tests/agent/node_workers.js"

TEST(node_worker_through_attach)
{
	const char *argv[] = {"/usr/bin/node", APP, "spin", NULL, "--wait", NULL};
	json_object *truth, *rep, *main_loop, *worker;
	const char *fn;
	pid_t t, a;

	capture_setup("attach-workers");
	argv[3] = path("truth.json");
	t = proc_spawn(argv, path("node.out"), path("node.err"), NULL);
	wait_text(path("node.out"), "ready", 20);
	a = attach(t, path("spin.lsr"), path("attach.err"), NULL);
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
	truth = json_file(path("truth.json"));
	rep = report_json(path("spin.lsr"));
	main_loop = loop_where(rep, "role", "main");
	worker = loop_where(rep, "role", "worker");
	elus_match(truth, worker, main_loop);
	ASSERT_TRUE(code_finding(main_loop, 0) == NULL);
	fn = code_finding_function(worker);
	ASSERT_TRUE(fn && strstr(fn, "spinInWorker"));
	ASSERT_STR_EQ(json_object_get_string(json_get(json_get(rep, "loop_id"), "role")), "worker");
	shares_within_100(rep);
	json_object_put(rep);
	json_object_put(truth);
}

TEST_MAIN(TEST_ENTRY(node_worker_through_attach))
