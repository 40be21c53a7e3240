/*
 * test_loops.c — many loops in one recording (analysis/lsc_loops.h, report_loops.c), built with
 * the real writer: a main loop that idles, a Worker that is busy in long stretches, Node's
 * platform loop, a pool thread. Each loop's view holds its own windows, events and samples
 * (the main loop's also what serves the process); selectors pick loops; the report leads with
 * the worst loop, names it in its findings, keeps every share within its loop, and hides the
 * platform loop.
 */
#include "task.h"
#include "rec_builder.h"
#include "lsc_report.h"

#include <math.h>
#include <unistd.h>

#define PID	 100
#define WORKER	 105
#define PLATFORM 101
#define POOL	 102
#define APP_LO	 0x400000ULL

static char file[256];

static struct lsc_recording *two_loops(void)
{
	struct lsc_recording *r;
	uint64_t fw[2] = {APP_LO + 0x100, APP_LO + 0x200}, fm[1] = {APP_LO + 0x300};
	uint32_t sw, sm, stacks[12], counts[1] = {9};
	uint64_t values[12];
	uint32_t tids[12];
	struct rb b;
	int i;

	snprintf(file, sizeof(file), "/tmp/lsc-loops-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, PID, "/usr/bin/node", "agent");
	rb_symbol(&b, APP_LO + 0x100, "hashOnce", "/app/hash.js", 14, 1, 0); /* JIT code */
	rb_symbol(&b, APP_LO + 0x200, "listOnTimeout", "node:internal/timers", 524, 1, 0);
	rb_symbol(&b, APP_LO + 0x300, "serve", "/app/main.js", 3, 0, 0);
	sw = rb_stack(&b, fw, 2, 0);
	sm = rb_stack(&b, fm, 1, 0);
	rb_thread(&b, PID, LOOPSCOPE__THREAD_ROLE__ROLE_MAIN, 0, NULL);
	rb_thread(&b, PLATFORM, LOOPSCOPE__THREAD_ROLE__ROLE_PLATFORM, 0, NULL);
	rb_thread(&b, WORKER, LOOPSCOPE__THREAD_ROLE__ROLE_WORKER, 1, "/app/hash.js");
	for (i = 0; i < 5; i++) {
		struct rb_window m = {0}, w = {0}, p = {0};

		m.start_ns = w.start_ns = p.start_ns = (uint64_t)i * 1000000000ULL;
		m.length_ns = w.length_ns = p.length_ns = 1000000000ULL;
		m.elu = 0.02, w.elu = 0.95, p.elu = 0;
		m.iterations = 100, w.iterations = 5, p.iterations = 1;
		m.busy_ns = 200000, w.busy_ns = 900000000, p.busy_ns = 1000;
		m.busy_n = w.busy_n = p.busy_n = 1;
		m.lag_ns = 1000000, w.lag_ns = 900000000, p.lag_ns = 1000000;
		m.lag_n = w.lag_n = p.lag_n = 10;
		m.loop_tid = PID, w.loop_tid = WORKER, p.loop_tid = PLATFORM;
		m.pool_threads = 4;
		rb_window(&b, &m);
		rb_window(&b, &w);
		rb_window(&b, &p);
		/* the Worker's stretch, 900 ms of every second, 9 CPU samples in it */
		rb_stretch(&b, m.start_ns + 1000, 900000000ULL, sw, WORKER, &sw, counts, 1);
		rb_gc_on(&b, m.start_ns + 5000, 2000000, WORKER);
	}
	rb_gc_on(&b, 100, 1000000, 0); /* an older writer's: no thread, the main loop's */
	for (i = 0; i < 12; i++) {     /* CPU: 6 the Worker's, 2 the main's, 4 the pool's */
		stacks[i] = i < 6 ? sw : sm;
		values[i] = 1;
		tids[i] = i < 6 ? WORKER : i < 8 ? PID : POOL;
	}
	rb_samples(&b, LOOPSCOPE__SAMPLE_KIND__CPU, stacks, values, tids, 12);
	rb_footer(&b, 5000000000ULL);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	return r;
}

static size_t count(const struct lsc_recording *v, int body)
{
	size_t i, n = 0;

	for (i = 0; i < v->nevents; i++)
		n += (int)v->events[i]->body_case == body;
	return n;
}

static uint64_t cpu_samples(const struct lsc_recording *v)
{
	uint64_t n = 0;
	size_t i, k;

	for (i = 0; i < v->nsamples; i++)
		for (k = 0; v->samples[i]->kind == LOOPSCOPE__SAMPLE_KIND__CPU &&
			    k < v->samples[i]->n_value;
		     k++)
			n += v->samples[i]->value[k];
	return n;
}

TEST(each_loop_sees_its_own)
{
	struct lsc_recording *r = two_loops(), *vw, *vm;
	struct lsc_loop_id loops[LSC_MAX_LOOPS];
	size_t n = lsc_loops_list(r, loops, LSC_MAX_LOOPS), i;

	ASSERT_EQ(n, 3);
	ASSERT_STR_EQ(loops[0].key, "main");
	ASSERT_STR_EQ(loops[1].key, "worker:1");
	ASSERT_STR_EQ(loops[1].name, "worker 1 (hash.js)");
	ASSERT_STR_EQ(loops[2].key, "platform");
	ASSERT_TRUE(loops[2].hidden && !loops[0].hidden && !loops[1].hidden);
	/* selectors */
	ASSERT_EQ(lsc_loop_matches(&loops[1], "worker:hash.js"), 1);
	ASSERT_EQ(lsc_loop_matches(&loops[1], "worker:/app/hash.js"), 1);
	ASSERT_EQ(lsc_loop_matches(&loops[1], "worker:*"), 1);
	ASSERT_EQ(lsc_loop_matches(&loops[1], "worker:2"), 0);
	ASSERT_EQ(lsc_loop_matches(&loops[1], "tid:105"), 1);
	ASSERT_EQ(lsc_loop_matches(&loops[0], "worker"), 0);
	ASSERT_EQ(lsc_loop_matches(&loops[0], "main"), 1);
	ASSERT_EQ(lsc_loop_matches(&loops[2], "all"), 1);
	ASSERT_EQ(lsc_loop_matches(&loops[0], "bogus"), -1);
	ASSERT_EQ(lsc_loop_matches(&loops[0], "worker:"), -1);
	ASSERT_EQ(lsc_loop_matches(&loops[0], "loop:abc"), -1);
	/* the views */
	ASSERT_OK(lsc_recording_loop_view(r, &loops[1], &vw));
	ASSERT_OK(lsc_recording_loop_view(r, &loops[0], &vm));
	ASSERT_EQ(vw->nwindows, 5);
	for (i = 0; i < vw->nwindows; i++)
		ASSERT_EQ(vw->windows[i]->loop_tid, WORKER);
	ASSERT_EQ(count(vw, LOOPSCOPE__EVENT__BODY_GC), 5);
	ASSERT_EQ(count(vm, LOOPSCOPE__EVENT__BODY_GC), 1);
	ASSERT_EQ(count(vw, LOOPSCOPE__EVENT__BODY_BLOCKING), 5);
	ASSERT_EQ(count(vm, LOOPSCOPE__EVENT__BODY_BLOCKING), 0);
	ASSERT_EQ(cpu_samples(vw), 6);
	ASSERT_EQ(cpu_samples(vm), 6); /* its own 2, and the pool thread's 4 */
	lsc_recording_view_free(vw);
	lsc_recording_view_free(vm);
	lsc_recording_free(r);
}

TEST(the_report_leads_with_the_worst_loop)
{
	struct lsc_recording *r = two_loops();
	struct lsc_report_loops set;
	const struct lsc_report *w, *m;
	size_t i;

	ASSERT_OK(lsc_report_build_loops(r, NULL, NULL, &set));
	ASSERT_EQ(set.n, 2);
	ASSERT_EQ(set.hidden, 1);
	w = set.rep[set.lead];
	m = set.rep[set.main];
	ASSERT_STR_EQ(w->loop_key, "worker:1");
	ASSERT_STR_EQ(m->loop_key, "main");
	ASSERT_TRUE(w->nfindings > 0);
	ASSERT_EQ(m->nfindings, 0);
	ASSERT_TRUE(fabs(w->elu_mean - 0.95) < 1e-9);
	ASSERT_TRUE(fabs(m->elu_mean - 0.02) < 1e-9);
	ASSERT_EQ(w->gc_count, 5);
	ASSERT_EQ(m->gc_count, 1);
	ASSERT_TRUE(m->has_pool && !w->has_pool);
	for (i = 0; i < w->nfindings; i++) {
		const char *pct = strstr(w->findings[i].evidence, " %");

		printf("# %s: %s\n", w->findings[i].title, w->findings[i].evidence);
		ASSERT_TRUE(!strncmp(w->findings[i].title, "worker 1 (hash.js): ", 20));
		/* the stretches' share is of the Worker's own busy time */
		if (!strcmp(w->findings[i].id, "cpu-bound-callbacks"))
			ASSERT_TRUE(pct && strstr(w->findings[i].evidence, "(95 % of loop busy") &&
				    strstr(w->findings[i].evidence, "under hashOnce"));
	}
	lsc_report_loops_free(&set);
	ASSERT_OK(lsc_report_build_loops(r, NULL, "platform", &set));
	ASSERT_EQ(set.n, 1);
	ASSERT_STR_EQ(set.rep[0]->loop_key, "platform");
	lsc_report_loops_free(&set);
	ASSERT_EQ(lsc_report_build_loops(r, NULL, "worker:9", &set), LSC_ENOSUCHLOOP);
	ASSERT_EQ(lsc_report_build_loops(r, NULL, "bogus", &set), LSC_EBADLOOP);
	lsc_recording_free(r);
}

/* attach records no roles: in Node, the first loop thread after the main one is the platform's
 * (hidden), a later one another loop; outside Node nothing is guessed. */
TEST(nodes_platform_loop_by_thread_order)
{
	static const char *exe[] = {"/usr/bin/node", "/usr/bin/refloop"};
	struct lsc_loop_id loops[LSC_MAX_LOOPS];
	struct lsc_recording *r;
	struct rb b;
	int k, i;

	for (k = 0; k < 2; k++) {
		snprintf(file, sizeof(file), "/tmp/lsc-loops-%d.lsr", (int)getpid());
		rb_open(&b, file);
		rb_header(&b, PID, exe[k], "bpf");
		for (i = 0; i < 3; i++) {
			struct rb_window w = {0};

			w.length_ns = 1000000000ULL;
			w.iterations = 10;
			w.busy_ns = w.lag_ns = 1000000;
			w.busy_n = w.lag_n = 1;
			w.loop_tid = (uint32_t[]){PID, PID + 2, PID + 9}[i];
			rb_window(&b, &w);
		}
		rb_close(&b);
		ASSERT_OK(lsc_recording_read(file, &r, NULL));
		unlink(file);
		ASSERT_EQ(lsc_loops_list(r, loops, LSC_MAX_LOOPS), 3);
		ASSERT_STR_EQ(loops[0].key, "main");
		if (k == 0) {
			ASSERT_STR_EQ(loops[1].key, "loop:109");
			ASSERT_STR_EQ(loops[2].key, "platform");
			ASSERT_TRUE(loops[2].hidden && loops[2].tid == PID + 2);
		} else {
			ASSERT_STR_EQ(loops[1].key, "loop:102");
			ASSERT_TRUE(!loops[1].hidden && !loops[2].hidden);
		}
		lsc_recording_free(r);
	}
}

TEST_MAIN(TEST_ENTRY(each_loop_sees_its_own), TEST_ENTRY(the_report_leads_with_the_worst_loop),
	  TEST_ENTRY(nodes_platform_loop_by_thread_order))
