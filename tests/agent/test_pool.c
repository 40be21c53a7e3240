/*
 * test_pool.c — libuv's thread pool under `loopscope run`, measured from inside (agent/pool.c)
 * and compared with what the program counts itself: refloop's pool-saturation scenario (its
 * --stats count the queue at every submit and each job's wait) and a fastify app on Node.js
 * whose route awaits 8 crypto.pbkdf2 per request on a pool of 2 (it counts its derivations in
 * flight). The report finds the saturated pool, first among its findings (the cause that holds
 * the most of the run's time: report.c orders a severity's findings so), and names the function
 * that submits.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"

#include <json-c/json.h>
#include <math.h>

struct pool_seen {
	uint32_t peak, threads;
	uint64_t wait_max, waits;
	double mean_max; /* the largest window mean of the queue's depth */
};

static struct pool_seen pool_of(const struct lsc_recording *r)
{
	struct pool_seen s = {0};
	size_t i;

	for (i = 0; i < r->nwindows; i++) {
		const Loopscope__Window *w = r->windows[i];

		if (w->pool_depth_max > s.peak)
			s.peak = w->pool_depth_max;
		if (w->pool_threads)
			s.threads = w->pool_threads;
		if (w->pool_wait && w->pool_wait->max > s.wait_max)
			s.wait_max = w->pool_wait->max;
		if (w->pool_wait)
			s.waits += w->pool_wait->total;
		if (w->has_pool_depth_mean && w->pool_depth_mean > s.mean_max)
			s.mean_max = w->pool_depth_mean;
	}
	return s;
}

/* `loopscope report --json`'s pool-saturated finding, which must come first: the function it
 * names. */
static void pool_finding(const char *rec, char *fn, size_t fn_cap)
{
	const char *argv[] = {built("loopscope"), "report", "--json", rec, NULL};
	json_object *root, *diag, *f, *x, *frame;
	struct proc p;
	size_t i;

	proc_run(&p, argv, 60, path("report.json"));
	ASSERT_EQ(p.status, 0);
	root = json_file(path("report.json"));
	ASSERT_TRUE(json_object_object_get_ex(root, "diagnosis", &diag));
	fn[0] = 0;
	for (i = 0; i < json_object_array_length(diag); i++) {
		f = json_object_array_get_idx(diag, i);
		if (!json_object_object_get_ex(f, "id", &x) ||
		    strcmp(json_object_get_string(x), "pool-saturated"))
			continue;
		if (json_object_object_get_ex(f, "frame", &frame) && frame &&
		    json_object_object_get_ex(frame, "function", &x))
			snprintf(fn, fn_cap, "%s", json_object_get_string(x));
		printf("# pool-saturated, finding %zu of %zu, at %s: %s\n", i + 1,
		       json_object_array_length(diag), fn,
		       json_object_object_get_ex(f, "evidence", &x) ? json_object_get_string(x)
								    : "");
		if (i > 0 &&
		    json_object_object_get_ex(json_object_array_get_idx(diag, 0), "title", &x))
			printf("# first: %s\n", json_object_get_string(x));
		json_object_put(root);
		ASSERT_EQ(i, 0);
		return;
	}
	json_object_put(root);
	LSC_FAIL("no pool-saturated finding in the report of %s", rec);
}

TEST(refloop_pool_depth_and_wait_as_refloop_counts_them)
{
	const char *argv[17];
	struct lsc_recording *r;
	struct pool_seen s;
	struct proc p;
	json_object *st;
	char fn[512];
	double wait_max;

	capture_setup("agent");
	{
		const char *const a[] = {built("loopscope"),
					 "run",
					 "-o",
					 path("pool.lsr"),
					 "--",
					 built("examples/pool-saturation"),
					 "--stats",
					 path("pool.json"),
					 "--quiet",
					 "1",
					 "--duration",
					 "2.5",
					 "--jobs",
					 "32",
					 "--every",
					 "1000",
					 NULL};

		memcpy(argv, a, sizeof(a));
	}
	proc_run(&p, argv, 60, NULL);
	ASSERT_EQ(p.status, 0);
	r = read_rec(path("pool.lsr"));
	st = json_file(path("pool.json"));
	s = pool_of(r);
	wait_max = json_at(st, "pool", "wait_max_ns");
	printf("# pool-saturation: peak depth %u recorded, %.0f by refloop; wait max %.1f ms "
	       "recorded, %.1f ms by refloop; %u threads\n",
	       s.peak, json_at(st, "pool", "peak_depth"), s.wait_max / 1e6, wait_max / 1e6,
	       s.threads);
	ASSERT_EQ(s.threads, 4);
	/* a window's mean depth: above 0 with bursts queued, and never above the peak */
	ASSERT_CMP(s.mean_max, >, 0.5);
	ASSERT_CMP(s.mean_max, <=, s.peak);
	ASSERT_CMP(fabs(s.peak - json_at(st, "pool", "peak_depth")), <=, 1);
	/* every job's wait, within 10 % (and a millisecond) of refloop's own */
	ASSERT_CMP(s.waits, >=, json_at(st, "pool", "started") - 4);
	ASSERT_CMP(fabs((double)s.wait_max - wait_max), <=, 0.1 * wait_max + 1e6);
	json_object_put(st);
	lsc_recording_free(r);
	pool_finding(path("pool.lsr"), fn, sizeof(fn));
	ASSERT_TRUE(strstr(fn, "submit_burst") != NULL);
}

TEST(node_fastify_pool_saturation_is_found_and_named)
{
	const char *argv[9];
	struct lsc_recording *r;
	struct pool_seen s;
	struct proc p;
	json_object *st;
	char fn[512];
	double expect;

	capture_setup("agent");
	argv[0] = built("loopscope"), argv[1] = "run", argv[2] = "-o";
	argv[3] = path("node_pool.lsr"), argv[4] = "--", argv[5] = "/usr/bin/node";
	argv[6] = LSC_SOURCE_DIR "/tests/agent/node_pool.js", argv[7] = path("node_pool.json");
	argv[8] = NULL;
	node_apps_ready(); /* fastify */
	setenv("UV_THREADPOOL_SIZE", "2", 1);
	proc_run(&p, argv, 120, NULL);
	unsetenv("NODE_PATH");
	unsetenv("UV_THREADPOOL_SIZE");
	if (p.status)
		LSC_FAIL("node_pool.js under the agent: status 0x%x: %s", p.status, p.err);
	r = read_rec(path("node_pool.lsr"));
	st = json_file(path("node_pool.json"));
	s = pool_of(r);
	/* the deepest the queue was: the derivations in flight at most, less the two running */
	expect = json_at(st, "maxInFlight", NULL) - json_at(st, "threads", NULL);
	printf("# node: peak depth %u recorded, %.0f by the app (%.0f jobs); wait max %.0f ms; %u "
	       "threads\n",
	       s.peak, expect, json_at(st, "jobs", NULL), s.wait_max / 1e6, s.threads);
	ASSERT_EQ(s.threads, 2);
	ASSERT_CMP(s.mean_max, >, 0.5);
	ASSERT_CMP(s.mean_max, <=, s.peak);
	ASSERT_CMP(fabs(s.peak - expect), <=, 0.1 * expect);
	ASSERT_CMP(s.waits, >=, json_at(st, "jobs", NULL));
	json_object_put(st);
	lsc_recording_free(r);
	pool_finding(path("node_pool.lsr"), fn, sizeof(fn));
	ASSERT_TRUE(strstr(fn, "hashPassword") != NULL);
}

TEST_MAIN(TEST_ENTRY(refloop_pool_depth_and_wait_as_refloop_counts_them),
	  TEST_ENTRY(node_fastify_pool_saturation_is_found_and_named))
