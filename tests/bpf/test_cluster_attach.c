/*
 * test_cluster_attach.c — `loopscope attach -p PRIMARY --children` on a Node.js cluster (as
 * root; tests/agent/node_cluster.js, started with no flag): the primary and its two workers are
 * attached, one process of loopscope each, into one set, which `report` reads as `run`'s: three
 * processes, the workers the primary's children, each worker's loop busy with the requests.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "attach_run.h"
#include "loops_json.h"

#define APP LSC_SOURCE_DIR "/tests/agent/node_cluster.js"

/* How many times text is in file. */
static int occurrences(const char *file, const char *text)
{
	char buf[65536], *p;
	int fd = open(file, O_RDONLY), n = 0;
	ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[k > 0 ? k : 0] = 0;
	for (p = buf; (p = strstr(p, text)); p += strlen(text))
		n++;
	return n;
}

TEST(node_cluster_through_attach_children)
{
	const char *node[] = {"/usr/bin/node", APP, "--wait", "--requests", "1500", NULL};
	const char *argv[] = {built("loopscope"), "attach", "-p", NULL,
			      "--children",	  "-o",	    NULL, NULL};
	json_object *rep, *procs;
	double deadline;
	char pid[16];
	pid_t t, a;
	size_t i;

	capture_setup("attach-cluster");
	t = proc_spawn(node, path("node.out"), path("node.err"), NULL);
	wait_text(path("node.out"), "ready", 30);
	snprintf(pid, sizeof(pid), "%d", (int)t);
	argv[3] = pid;
	argv[6] = path("cluster.lsr");
	a = proc_spawn(argv, path("attach.out"), path("attach.err"), NULL);
	deadline = proc_now() + 60;
	while (occurrences(path("attach.err"), "loopscope: attached to PID") < 3) {
		struct timespec step = {0, 50000000};

		if (proc_now() > deadline)
			LSC_FAIL("attach did not attach to three processes");
		nanosleep(&step, NULL);
	}
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 60)), 0);
	rep = report_json(path("cluster.lsr"));
	procs = json_get(rep, "processes");
	ASSERT_TRUE(procs && json_object_array_length(procs) == 3);
	ASSERT_EQ(json_at(json_object_array_get_idx(procs, 0), "pid", NULL), t);
	for (i = 1; i < 3; i++) {
		json_object *p = json_object_array_get_idx(procs, i);

		printf("# worker %g: ELU %.3f\n", json_at(p, "pid", NULL),
		       json_at(p, "elu_mean", NULL));
		ASSERT_EQ(json_at(p, "parent_pid", NULL), t);
		ASSERT_TRUE(json_at(p, "elu_mean", NULL) > 0.005);
	}
	ASSERT_EQ(json_at(json_get(rep, "children"), "count", NULL), 2);
	json_object_put(rep);
}

TEST_MAIN(TEST_ENTRY(node_cluster_through_attach_children))
