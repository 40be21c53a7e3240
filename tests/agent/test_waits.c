/*
 * test_waits.c — what a long call on the loop was, from the scheduler's own figures
 * (agent/blocking.c's schedstat readings, analysis/blocking.c): tests/agent/node_waits.js under
 * `loopscope run`. Opens of a FIFO whose writer comes later sleep in the kernel; reads of 64 MiB
 * from /dev/zero run in it: both are the calls' own time, blocking calls under their function,
 * told apart as asleep and on CPU. The same reads pinned to one CPU beside a busier task of
 * higher priority wait in the run queue for most of their time: CPU contention, its own
 * finding under readKernel, and no blocking finding. And long CPU-bound stretches
 * (tests/agent/node_stretch.js) are attributed from every CPU sample in them: deepClone, not
 * the tail that ends each one.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"

#include <signal.h>
#include <sys/wait.h>

#define KERNEL_LINE 12
#define FIFO_LINE   16

static json_object *report_of(const char *rec)
{
	const char *argv[] = {built("loopscope"),  "report", rec, "--json", "-o",
			      path("report.json"), NULL};
	struct proc p;

	proc_run(&p, argv, 60, NULL);
	if (p.status)
		LSC_FAIL("loopscope report: %s", p.err);
	return json_file(path("report.json"));
}

/* The finding with this id, or NULL. */
static json_object *finding(json_object *rep, const char *id)
{
	json_object *d = json_get(rep, "diagnosis");
	size_t i;

	for (i = 0; d && i < json_object_array_length(d); i++) {
		json_object *f = json_object_array_get_idx(d, i);

		printf("# finding %s: %s\n", json_object_get_string(json_get(f, "id")),
		       json_object_get_string(json_get(f, "evidence")));
		if (!strcmp(json_object_get_string(json_get(f, "id")), id))
			return f;
	}
	return NULL;
}

static json_object *run_mode(const char *mode, const char *rec, const char *const *prefix)
{
	const char *argv[24];
	struct proc p;
	int n = 0;

	while (prefix && *prefix)
		argv[n++] = *prefix++;
	argv[n++] = built("loopscope"), argv[n++] = "run", argv[n++] = "-o", argv[n++] = rec;
	argv[n++] = "--", argv[n++] = "/usr/bin/node";
	argv[n++] = LSC_SOURCE_DIR "/tests/agent/node_waits.js", argv[n++] = mode;
	argv[n] = NULL;
	proc_run(&p, argv, 120, NULL);
	if (p.status)
		LSC_FAIL("node_waits.js %s under the agent: status 0x%x: %s", mode, p.status,
			 p.err);
	return report_of(rec);
}

static int frame_is(json_object *f, const char *fn, int line)
{
	json_object *fr = json_get(f, "frame");
	const char *name = json_object_get_string(json_get(fr, "function"));

	return name && !strcmp(name, fn) && json_object_get_int(json_get(fr, "line")) == line;
}

TEST(a_fifo_open_sleeps_a_dev_zero_read_runs_both_block)
{
	json_object *rep, *f, *b;
	double asleep, cpu;

	capture_setup("agent");
	rep = run_mode("fifo", path("fifo.lsr"), NULL);
	f = finding(rep, "blocking-calls");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(frame_is(f, "readFifo", FIFO_LINE));
	b = json_get(rep, "blocking");
	asleep = json_at(b, "asleep_ns", NULL), cpu = json_at(b, "on_cpu_ns", NULL);
	printf("# fifo: %g blocking calls, %.1f ms asleep, %.1f ms on CPU\n",
	       json_at(b, "count", NULL), asleep / 1e6, cpu / 1e6);
	ASSERT_CMP(json_at(b, "count", NULL), >=, 5); /* five opens, each waits 20 ms */
	ASSERT_CMP(asleep, >=, 4 * cpu);
	json_object_put(rep);

	rep = run_mode("kernel", path("kernel.lsr"), NULL);
	f = finding(rep, "blocking-calls");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(frame_is(f, "readKernel", KERNEL_LINE));
	b = json_get(rep, "blocking");
	asleep = json_at(b, "asleep_ns", NULL), cpu = json_at(b, "on_cpu_ns", NULL);
	printf("# kernel: %g blocking calls, %.1f ms asleep, %.1f ms on CPU; %g contention\n",
	       json_at(b, "count", NULL), asleep / 1e6, cpu / 1e6,
	       json_at(b, "contention", "count"));
	/* each read is 2-3 ms of memset in the kernel: over the threshold, never asleep */
	ASSERT_CMP(json_at(b, "count", NULL), >=, 15);
	ASSERT_CMP(cpu, >=, 4 * asleep);
	json_object_put(rep);
}

TEST(reads_preempted_by_a_busier_task_are_cpu_contention)
{
	const char *hog[] = {"/usr/bin/taskset",    "-c", "0", "/bin/sh", "-c",
			     "while :; do :; done", NULL};
	const char *pinned[] = {"/usr/bin/taskset", "-c", "0", "/usr/bin/nice", "-n", "5", NULL};
	json_object *rep, *f, *b;
	pid_t h;

	capture_setup("agent");
	fflush(NULL);
	h = fork();
	if (h == 0) {
		execv(hog[0], (char *const *)hog);
		_exit(127);
	}
	rep = run_mode("kernel", path("busy.lsr"), pinned);
	kill(h, SIGKILL);
	waitpid(h, NULL, 0);
	b = json_get(rep, "blocking");
	printf("# beside a hog: %g blocking, %g contention (%.1f ms)\n", json_at(b, "count", NULL),
	       json_at(b, "contention", "count"), json_at(b, "contention", "total_ns") / 1e6);
	/* nice 5 beside nice 0: a quarter of the CPU, so a 3 ms read waits about 9 ms */
	ASSERT_CMP(json_at(b, "contention", "count"), >=, 10);
	/* the reads it did not wait through: a few, under the finding's 10 % of busy time */
	ASSERT_TRUE(finding(rep, "blocking-calls") == NULL);
	f = finding(rep, "cpu-contention");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(frame_is(f, "readKernel", KERNEL_LINE));
	json_object_put(rep);
}

TEST(a_long_stretch_is_named_from_all_its_samples)
{
	const char *argv[] = {NULL,
			      "run",
			      "-o",
			      NULL,
			      "--",
			      "/usr/bin/node",
			      LSC_SOURCE_DIR "/tests/agent/node_stretch.js",
			      NULL};
	json_object *rep, *f, *busy;
	struct proc p;
	const char *ev;
	double on_cpu;

	capture_setup("agent"); /* before path(): it names the directory */
	argv[0] = built("loopscope"), argv[3] = path("stretch.lsr");
	proc_run(&p, argv, 120, NULL);
	if (p.status)
		LSC_FAIL("node_stretch.js under the agent: status 0x%x: %s", p.status, p.err);
	rep = report_of(path("stretch.lsr"));
	f = finding(rep, "cpu-bound-callbacks");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(frame_is(f, "deepClone", 7));
	busy = json_get(rep, "busy_long");
	/* CPU samples come at 99 Hz of CPU time: five stretches of about 200 ms make about 100 on
	 * a quiet machine, and as many fewer as the thread waited for a CPU on a busy one */
	on_cpu = json_at(busy, "total_ns", NULL) - json_at(busy, "run_queue_ns", NULL) -
		 json_at(busy, "asleep_ns", NULL);
	printf("# %g stretches, %.0f ms of them on a CPU, %g samples in them, %g with few\n",
	       json_at(busy, "count", NULL), on_cpu / 1e6, json_at(busy, "samples", NULL),
	       json_at(busy, "few_samples", NULL));
	ASSERT_CMP(on_cpu, >=, 300e6);
	ASSERT_CMP(json_at(busy, "samples", NULL), >=, 0.6 * 99 * on_cpu / 1e9);
	ev = json_object_get_string(json_get(f, "evidence"));
	{
		const char *pc = strstr(ev, "% of the stretches' time");
		int share = 0;

		ASSERT_TRUE(pc != NULL);
		while (pc > ev && pc[-1] == ' ')
			pc--;
		while (pc > ev && pc[-1] >= '0' && pc[-1] <= '9')
			pc--;
		share = atoi(pc);
		ASSERT_CMP(share, >=, 80);
	}
	json_object_put(rep);
}

TEST_MAIN(TEST_ENTRY(a_fifo_open_sleeps_a_dev_zero_read_runs_both_block),
	  TEST_ENTRY(reads_preempted_by_a_busier_task_are_cpu_contention),
	  TEST_ENTRY(a_long_stretch_is_named_from_all_its_samples))
