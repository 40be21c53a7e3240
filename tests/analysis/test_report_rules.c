/*
 * test_report_rules.c — the report's rules on recordings built with the real writer
 * (tests/rec_builder.h): the owner frame (analysis/owner.c) on the stacks an outside user saw
 * named wrongly on express apps; the drain after a stop request stays out of the loop's figures.
 */
#include "task.h"
#include "rec_builder.h"
#include "lsc_report.h"

#include <math.h>
#include <unistd.h>

static char file[256];

/* Addresses: the node binary, libc, a refloop-like program with libuv linked in, JIT code. */
#define NODE_LO 0x400000ULL
#define LIBC_LO 0x7f0000000000ULL
#define PROG_LO 0x500000ULL
#define JIT(i)	(0x3a0000000000ULL + 0x100 * (i))

static void owner_symbols(struct rb *b)
{
	rb_mapping(b, 1, NODE_LO, NODE_LO + 0x100000, 0, "/usr/bin/node");
	rb_mapping(b, 2, LIBC_LO, LIBC_LO + 0x100000, 0x26000,
		   "/usr/lib/x86_64-linux-gnu/libc.so.6");
	rb_mapping(b, 3, PROG_LO, PROG_LO + 0x100000, 0, "/src/app/build/examples/sync-read");
	rb_symbol(
		b, NODE_LO + 0x10,
		"non-virtual thunk to node::LibuvStreamWrap::DoTryWrite(uv_buf_t**, unsigned long*)",
		NULL, 0, 0, 0);
	rb_symbol(b, NODE_LO + 0x20, "uv__work_done", NULL, 0, 0, 0);
	rb_symbol(b, NODE_LO + 0x30, "uv_run", NULL, 0, 0, 0);
	rb_symbol(b, NODE_LO + 0x40, "void node::fs::AfterOpen<node::fs::FSReqBase>(uv_fs_s*)",
		  NULL, 0, 0, 0);
	rb_symbol(b, LIBC_LO + 0x10, "writev", NULL, 0, 0, 0);
	rb_symbol(b, LIBC_LO + 0x20, "__munmap", NULL, 0, 0, 0);
	rb_symbol(b, PROG_LO + 0x10, "handle_video", "/src/app/examples/sync_read.c", 33, 0, 0);
	rb_symbol(b, PROG_LO + 0x20, "uv_run", "/src/app/deps/libuv/src/unix/core.c", 380, 0, 0);
	rb_symbol(b, JIT(1), "json", "/app/node_modules/express/lib/response.js", 250, 1, 0);
	rb_symbol(b, JIT(2), "listItems", "/app/server.js", 14, 1, 0);
	rb_symbol(b, JIT(3), "spinInWorker", "/app/worker.js", 3, 1, 0);
	rb_symbol(b, JIT(4), "readSync", "node:fs", 708, 1, 0);
	rb_symbol(b, JIT(5), "readFileSync", "node:fs", 450, 1, 0);
	rb_symbol(b, JIT(6), "(anonymous)", "/app/node_modules/send/index.js", 90, 1, 0);
	rb_symbol(b, JIT(7), "listOnTimeout", "node:internal/timers", 512, 1, 0);
	rb_symbol(b, JIT(8), "(V8 API)", NULL, 0, 1, 0);
	rb_symbol(b, JIT(11), "(V8 API)", NULL, 0, 0, 0); /* as a JS heap stack names it */
}

/* Each stack (leaf first) with the owner it must give and what that owner is. */
static const struct {
	uint64_t frames[6];
	const char *owner, *code, *text;
} owner_cases[] = {
	/* the lag finding an express app got "at non-virtual thunk to node::...DoTryWrite" */
	{{LIBC_LO + 0x10, NODE_LO + 0x10, JIT(1), JIT(2), NODE_LO + 0x30},
	 "listItems",
	 "app",
	 "under listItems (server.js:14)"},
	/* a pool app's "at libc.so.6+0x8612b": nothing of the app; Node's own frame, said so */
	{{LIBC_LO + 0x8612b, NODE_LO + 0x20, NODE_LO + 0x30},
	 "uv__work_done",
	 "node-internals",
	 "in Node internals: uv__work_done"},
	/* a worker's "at 0x7fc111f8784c" with spinInWorker on the stack */
	{{0x7fc111f8784cULL, JIT(3), NODE_LO + 0x30},
	 "spinInWorker",
	 "app",
	 "under spinInWorker (worker.js:3)"},
	/* a dependency before Node's built-in JS */
	{{JIT(4), JIT(5), JIT(6), JIT(7), NODE_LO + 0x30},
	 "(anonymous)",
	 "dependency",
	 "under (anonymous) (send/index.js:90)"},
	/* Node's JS before its native code; a template's return type is no disguise */
	{{NODE_LO + 0x40, JIT(7), NODE_LO + 0x30},
	 "listOnTimeout",
	 "node-internals",
	 "in Node internals: listOnTimeout (node:internal/timers:512)"},
	{{NODE_LO + 0x40, NODE_LO + 0x30},
	 "void node::fs::AfterOpen<node::fs::FSReqBase>(uv_fs_s*)",
	 "node-internals",
	 NULL},
	/* a program with its runtime linked in: its own function before libc and libuv */
	{{LIBC_LO + 0x20, PROG_LO + 0x10, PROG_LO + 0x20},
	 "handle_video",
	 "app",
	 "under handle_video (sync_read.c:33)"},
	{{LIBC_LO + 0x20, PROG_LO + 0x20},
	 "uv_run",
	 "runtime",
	 "in the runtime: uv_run (core.c:380)"},
	/* V8's pseudo-function is not the program's; an unnamed address only when alone */
	{{JIT(8), NODE_LO + 0x30}, "uv_run", "node-internals", NULL},
	{{JIT(11), NODE_LO + 0x30}, "uv_run", "node-internals", NULL},
	{{0x7fc111f8784cULL}, "0x7fc111f8784c", "unnamed", "under 0x7fc111f8784c"},
};

TEST(the_owner_is_the_apps_first_frame_else_what_it_is)
{
	struct lsc_report_stack st;
	struct lsc_recording *r;
	uint32_t ids[sizeof(owner_cases) / sizeof(owner_cases[0])];
	struct rb b;
	size_t i, n;
	char w[1200];

	snprintf(file, sizeof(file), "/tmp/lsc-owner-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "agent");
	owner_symbols(&b);
	for (i = 0; i < sizeof(owner_cases) / sizeof(owner_cases[0]); i++) {
		for (n = 0; n < 6 && owner_cases[i].frames[n]; n++)
			;
		ids[i] = rb_stack(&b, owner_cases[i].frames, n, 0);
	}
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	for (i = 0; i < sizeof(owner_cases) / sizeof(owner_cases[0]); i++) {
		lsc_report_fill_stack(r, NULL, ids[i], &st);
		printf("# case %zu: %s (%s)\n", i, st.owner.name,
		       lsc_owner_tier_name((enum lsc_owner_tier)st.owner.tier));
		ASSERT_STR_EQ(st.owner.name, owner_cases[i].owner);
		ASSERT_STR_EQ(lsc_owner_tier_name((enum lsc_owner_tier)st.owner.tier),
			      owner_cases[i].code);
		if (owner_cases[i].text) {
			lsc_report_owner_where(&st.owner, "under", w, sizeof(w));
			ASSERT_STR_EQ(w, owner_cases[i].text);
		}
	}
	lsc_recording_free(r);
}

/* The blocking finding on Node's own lock wait says it is in Node's internals, not the app. */
TEST(a_finding_with_no_app_frame_says_where_it_is)
{
	static const uint64_t lock[] = {LIBC_LO + 0x8612b, NODE_LO + 0x20, NODE_LO + 0x30};
	struct lsc_report rep;
	struct lsc_recording *r;
	struct rb b;
	uint32_t id;
	size_t i;
	int seen = 0;

	snprintf(file, sizeof(file), "/tmp/lsc-owner2-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "agent");
	owner_symbols(&b);
	id = rb_stack(&b, lock, 3, 0);
	for (i = 0; i < 3; i++) {
		struct rb_window w = {0};

		w.start_ns = i * 1000000000ULL;
		w.length_ns = 1000000000ULL;
		w.elu = 0.5;
		w.iterations = 100;
		w.busy_ns = 5000000;
		w.busy_n = 100;
		rb_window(&b, &w);
		rb_blocking(&b, w.start_ns + 1000, "read", 400000000ULL, id, 1);
	}
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	for (i = 0; i < rep.nfindings; i++)
		if (!strcmp(rep.findings[i].id, "blocking-calls")) {
			printf("# %s\n", rep.findings[i].evidence);
			ASSERT_TRUE(strstr(rep.findings[i].evidence,
					   "in Node internals: uv__work_done") != NULL);
			ASSERT_EQ(rep.findings[i].frame.tier, LSC_OWNER_NODE);
			seen = 1;
		}
	ASSERT_TRUE(seen);
	lsc_recording_free(r);
}

/* An almost idle loop (ELU 0.01 over 3 s) whose two 3 ms socket writes are a fifth of its busy
 * time: nothing to fix, no finding (seen as a flake of agent.test_workers on a busy machine).
 * The same loop with one 120 ms read: a finding, though it is 4 % of the run. */
static int blocking_found(uint64_t each, int n)
{
	static const uint64_t stack[] = {PROG_LO + 0x10, PROG_LO + 0x20};
	struct lsc_report rep;
	struct lsc_recording *r;
	struct rb b;
	uint32_t id;
	size_t i;
	int found = 0, k;

	snprintf(file, sizeof(file), "/tmp/lsc-idleblock-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/src/app/build/examples/sync-read", "agent");
	owner_symbols(&b);
	id = rb_stack(&b, stack, 2, 0);
	for (i = 0; i < 3; i++) {
		struct rb_window w = {0};

		w.start_ns = i * 1000000000ULL;
		w.length_ns = 1000000000ULL;
		w.elu = 0.01;
		w.iterations = 10;
		w.busy_ns = 10000000;
		w.busy_n = 10;
		rb_window(&b, &w);
	}
	for (k = 0; k < n; k++)
		rb_blocking(&b, 1000000000ULL + (uint64_t)k * 1000, "writev", each, id, 1);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	for (i = 0; i < rep.nfindings; i++) {
		printf("# %s: %s\n", rep.findings[i].id, rep.findings[i].evidence);
		found |= !strcmp(rep.findings[i].id, "blocking-calls");
	}
	lsc_recording_free(r);
	return found;
}

TEST(an_idle_loops_few_short_calls_are_no_finding)
{
	ASSERT_TRUE(!blocking_found(3000000, 2));
	ASSERT_TRUE(blocking_found(120000000, 1));
}

/* Five idle windows, then two of a busy drain after a SIGTERM the program handles: the loop's
 * ELU and lag are the idle ones', the drain is counted apart, and no saturation is found. */
TEST(the_drain_after_a_stop_request_is_apart)
{
	struct lsc_report rep;
	struct lsc_recording *r;
	struct rb b;
	int i;

	snprintf(file, sizeof(file), "/tmp/lsc-rules-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "agent");
	for (i = 0; i < 7; i++) {
		struct rb_window w = {0};

		w.start_ns = (uint64_t)i * 1000000000ULL;
		w.length_ns = 1000000000ULL;
		w.elu = i < 5 ? 0.05 : 1.0;
		w.iterations = i < 5 ? 100 : 1;
		w.busy_ns = i < 5 ? 500000 : 900000000;
		w.busy_n = 1;
		w.lag_ns = i < 5 ? 1000000 : 900000000;
		w.lag_n = 100;
		w.shutdown = i >= 5;
		rb_window(&b, &w);
	}
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	ASSERT_CMP(fabs(rep.elu_mean - 0.05), <, 1e-9);
	ASSERT_CMP(rep.elu_max, <, 0.1);
	ASSERT_CMP(rep.lag_max, <, 10000000ULL);
	ASSERT_EQ(rep.shutdown_windows, 2);
	ASSERT_EQ(rep.shutdown_ns, 2000000000ULL);
	ASSERT_CMP(fabs(rep.shutdown_elu - 1.0), <, 1e-9);
	for (i = 0; i < (int)rep.nfindings; i++)
		ASSERT_TRUE(strcmp(rep.findings[i].id, "loop-saturated") &&
			    strcmp(rep.findings[i].id, "loop-delay"));
	lsc_recording_free(r);
}

/* Point 7: a loop that made no turn for two windows has lag of at least their length and the
 * delay finding says it was frozen; a capture with no loop at all says so, never "no problem". */
TEST(a_frozen_loop_and_no_loop_are_said)
{
	struct lsc_report rep;
	struct lsc_recording *r;
	struct rb b;
	size_t i;
	int seen = 0;

	snprintf(file, sizeof(file), "/tmp/lsc-frozen-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "bpf");
	for (i = 0; i < 6; i++) {
		struct rb_window w = {0};

		w.start_ns = i * 1000000000ULL;
		w.length_ns = 1000000000ULL;
		w.frozen = i == 2 || i == 3;
		w.elu = w.frozen ? 1.0 : 0.05;
		w.iterations = w.frozen ? 0 : 100;
		w.busy_ns = w.frozen ? 0 : 500000;
		w.busy_n = w.frozen ? 0 : 100;
		/* attach's frozen window: one lag value, the lateness so far */
		w.lag_ns = w.frozen ? (i - 1) * 1000000000ULL : 1000000;
		w.lag_n = w.frozen ? 1 : 100;
		rb_window(&b, &w);
	}
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	ASSERT_EQ(rep.frozen_windows, 2);
	ASSERT_CMP(rep.lag_max, >=, 1000000000ULL); /* at least a window */
	for (i = 0; i < rep.nfindings; i++)
		if (!strcmp(rep.findings[i].id, "loop-delay")) {
			printf("# %s\n", rep.findings[i].evidence);
			ASSERT_TRUE(strstr(rep.findings[i].evidence,
					   "frozen (no loop turn) for 2.0 s"));
			seen = 1;
		}
	ASSERT_TRUE(seen);
	lsc_recording_free(r);

	/* a bash wrapper recorded with --anyway: samples, no loop window */
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/bash", "bpf");
	{
		static const uint64_t f[] = {0x401000};
		uint32_t id = rb_stack(&b, f, 1, 0), tid = 1;
		uint64_t one = 1;

		rb_samples(&b, LOOPSCOPE__SAMPLE_KIND__CPU, &id, &one, &tid, 1);
	}
	rb_footer(&b, 2000000000ULL);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	ASSERT_CMP(rep.nfindings, >=, 1);
	ASSERT_STR_EQ(rep.findings[0].id, "no-event-loop");
	lsc_recording_free(r);
}

/* Point 3 and 4: a call is blocking when its own time (asleep, or on the CPU in the kernel) is
 * most of it. Preempted calls are CPU contention, a futex under libuv's uv__work_done is the
 * runtime's own lock (no finding), one under the app's function is lock contention; and a
 * saturated pool with an idle loop comes before all of them. */
TEST(blocked_preempted_kernel_and_lock_waits_are_told_apart)
{
	static const uint64_t app_read[] = {LIBC_LO + 0x10, JIT(2), NODE_LO + 0x30};
	static const uint64_t app_write[] = {LIBC_LO + 0x10, JIT(1), JIT(2), NODE_LO + 0x30};
	static const uint64_t uv_lock[] = {LIBC_LO + 0x8612b, NODE_LO + 0x20, NODE_LO + 0x30};
	static const uint64_t app_lock[] = {LIBC_LO + 0x8612b, JIT(3), NODE_LO + 0x30};
	/* libuv's queue mutex taken for the app's submission: the app is up the stack, the lock
	 * is the runtime's (attach names JS frames: such a stack has the app's function in it) */
	static const uint64_t uv_lock_for_app[] = {LIBC_LO + 0x8612b, NODE_LO + 0x20, JIT(3),
						   NODE_LO + 0x30};
	struct lsc_report rep;
	struct lsc_recording *r;
	uint32_t s_read, s_write, s_uv, s_app, s_uv_app;
	struct rb b;
	size_t i;
	const char *first = NULL;
	int blocking = 0, contention = 0, lock = 0;

	snprintf(file, sizeof(file), "/tmp/lsc-waits-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "bpf");
	owner_symbols(&b);
	s_read = rb_stack(&b, app_read, 3, 0);
	s_write = rb_stack(&b, app_write, 4, 0);
	s_uv = rb_stack(&b, uv_lock, 3, 0);
	s_app = rb_stack(&b, app_lock, 3, 0);
	s_uv_app = rb_stack(&b, uv_lock_for_app, 4, 0);
	for (i = 0; i < 10; i++) {
		struct rb_window w = {0};
		uint64_t t = i * 1000000000ULL;

		w.start_ns = t;
		w.length_ns = 1000000000ULL;
		w.elu = 0.09; /* an idle loop */
		w.iterations = 100;
		w.busy_ns = 900000;
		w.busy_n = 100;
		w.lag_ns = 1000000;
		w.lag_n = 100;
		w.pool_threads = 4;
		w.pool_depth = 60; /* and a pool with 60 jobs waiting, never fewer than 40 */
		w.pool_depth_mean = 50;
		w.pool_wait_ns = 900000000;
		w.pool_wait_n = 10;
		rb_window(&b, &w);
		/* slept 19 of 20 ms: blocking */
		rb_blocking_sched(&b, t + 1000, "read", 20000000, s_read, 1, 0, 1000000, 1);
		/* 15 ms, 12 of them in the run queue: contention */
		rb_blocking_sched(&b, t + 2000, "writev", 15000000, s_write, 1, 12000000, 3000000,
				  1);
		/* 3 ms on CPU, never switched: the call's own work in the kernel, blocking */
		rb_blocking_sched(&b, t + 3000, "munmap", 3000000, s_write, 1, 0, 3000000, 0);
		/* libuv's own queue lock, 80 ms a second: not the app's */
		rb_blocking_sched(&b, t + 4000, "futex", 80000000, s_uv, 1, 0, 100000, 1);
		/* the app's lock, 30 ms a second */
		rb_blocking_sched(&b, t + 5000, "futex", 30000000, s_app, 1, 0, 100000, 1);
		/* libuv's lock under the app's function, 50 ms a second: the runtime's */
		rb_blocking_sched(&b, t + 5500, "futex", 50000000, s_uv_app, 1, 0, 100000, 1);
		/* an older recording's event: no figures, blocking as before */
		rb_blocking_sched(&b, t + 6000, "fsync", 2000000, s_read, 1, -1, 0, 0);
	}
	rb_footer(&b, 10000000000ULL);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	/* the reads, the kernel work and the fsyncs */
	ASSERT_EQ(rep.blocking_count, 30);
	ASSERT_EQ(rep.blocking_total_ns, 250000000ULL);
	/* where measured: the reads asleep 19 of 20 ms, the munmaps on CPU */
	ASSERT_EQ(rep.blocking_measured_ns, 230000000ULL);
	ASSERT_EQ(rep.blocking_asleep_ns, 190000000ULL);
	ASSERT_EQ(rep.blocking_cpu_ns, 40000000ULL);
	ASSERT_EQ(rep.contention_count, 10);
	ASSERT_EQ(rep.lock_runtime_count, 20);
	ASSERT_EQ(rep.lock_app_count, 10);
	ASSERT_STR_EQ(rep.locks[0].owner.name, "spinInWorker");
	for (i = 0; i < rep.nfindings; i++) {
		printf("# %s: %s\n", rep.findings[i].id, rep.findings[i].evidence);
		if (!first)
			first = rep.findings[i].id;
		blocking |= !strcmp(rep.findings[i].id, "blocking-calls");
		contention |= !strcmp(rep.findings[i].id, "cpu-contention");
		lock |= !strcmp(rep.findings[i].id, "lock-contention");
		/* libuv's own lock is never "the loop is blocked by synchronous calls (futex)" */
		ASSERT_TRUE(!strstr(rep.findings[i].title, "futex"));
	}
	ASSERT_TRUE(blocking && contention && lock);
	ASSERT_STR_EQ(first, "pool-saturated"); /* the pool's queue is never empty */
	lsc_recording_free(r);
}

/* Point 2: a long stretch is attributed from every CPU sample taken in it, by owner. A 3.8 s
 * stretch of 20 deepClone calls whose last sample fell in a dependency's skipOWS (the one sample
 * the old rule used: its stack_id) is put under deepClone with its share; the samples of one
 * function through many stacks are one owner; a stretch with 2 samples is counted as few. */
TEST(a_stretch_is_attributed_from_all_its_samples)
{
	static const uint64_t clone_a[] = {NODE_LO + 0x40, JIT(9), JIT(2), NODE_LO + 0x30};
	static const uint64_t clone_b[] = {LIBC_LO + 0x20, JIT(9), JIT(2), NODE_LO + 0x30};
	static const uint64_t skip[] = {JIT(10), JIT(1), JIT(2), NODE_LO + 0x30};
	struct lsc_report rep;
	struct lsc_recording *r;
	uint32_t ids[3], counts[3] = {200, 160, 20}, few[1], one[1] = {2};
	struct rb b;
	size_t i;
	int seen = 0;

	snprintf(file, sizeof(file), "/tmp/lsc-stretch-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "agent");
	owner_symbols(&b);
	rb_symbol(&b, JIT(9), "deepClone", "/app/clone.js", 7, 1, 0);
	rb_symbol(&b, JIT(10), "skipOWS", "/app/node_modules/fast-json/lib/scan.js", 40, 1, 0);
	ids[0] = rb_stack(&b, clone_a, 4, 0);
	ids[1] = rb_stack(&b, clone_b, 4, 0);
	ids[2] = rb_stack(&b, skip, 4, 0);
	for (i = 0; i < 5; i++) {
		struct rb_window w = {0};

		w.start_ns = i * 1000000000ULL;
		w.length_ns = 1000000000ULL;
		w.elu = 0.95;
		w.iterations = 10;
		w.busy_ns = 50000000;
		w.busy_n = 10;
		w.lag_ns = 1000000;
		w.lag_n = 10;
		rb_window(&b, &w);
	}
	rb_stretch(&b, 100000000ULL, 3821000000ULL, ids[2], 1, ids, counts, 3);
	few[0] = ids[2];
	rb_stretch(&b, 4000000000ULL, 25000000ULL, ids[2], 1, few, one, 1);
	rb_footer(&b, 5000000000ULL);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	ASSERT_EQ(rep.busy_long_count, 2);
	ASSERT_EQ(rep.busy_samples, 382);
	ASSERT_EQ(rep.busy_few_samples, 1);
	ASSERT_STR_EQ(rep.busy_owner.name, "deepClone");
	printf("# owner %s, %.3f of the stretches' time\n", rep.busy_owner.name,
	       rep.busy_owner_share);
	/* 360 of 380 samples of the long one: 3.62 s of 3.85 s */
	ASSERT_CMP(fabs(rep.busy_owner_share - 3821.0 * 360 / 380 / 3846.0), <, 0.01);
	for (i = 0; i < rep.nfindings; i++)
		if (!strcmp(rep.findings[i].id, "cpu-bound-callbacks")) {
			printf("# %s\n", rep.findings[i].evidence);
			ASSERT_STR_EQ(rep.findings[i].frame.name, "deepClone");
			ASSERT_TRUE(strstr(rep.findings[i].evidence, "from 382 CPU samples"));
			ASSERT_TRUE(
				strstr(rep.findings[i].evidence, "1 stretches had fewer than 5"));
			seen = 1;
		}
	ASSERT_TRUE(seen);
	lsc_recording_free(r);
}

/* Point 5, the drain's content: after the shutdown event, a blocking call and a long stretch
 * are the drain's (counted apart, named), not the run's; and point 6: the RSS max is the
 * kernel's high-water mark when windows carry it, above every window end. */
TEST(what_ran_in_the_drain_is_apart_and_rss_max_is_the_peak)
{
	static const uint64_t flush[] = {LIBC_LO + 0x10, JIT(2), NODE_LO + 0x30};
	struct lsc_report rep;
	struct lsc_recording *r;
	struct rb b;
	uint32_t id;
	size_t i;

	snprintf(file, sizeof(file), "/tmp/lsc-drain2-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "agent");
	owner_symbols(&b);
	id = rb_stack(&b, flush, 3, 0);
	for (i = 0; i < 4; i++) {
		struct rb_window w = {0};

		w.start_ns = i * 1000000000ULL;
		w.length_ns = 1000000000ULL;
		w.elu = i < 3 ? 0.05 : 1.0;
		w.iterations = i < 3 ? 100 : 1;
		w.busy_ns = 500000;
		w.busy_n = 1;
		w.lag_ns = 1000000;
		w.lag_n = 100;
		w.rss = 40 << 20;
		w.rss_peak = 300 << 20; /* a buffer between two window ends */
		w.shutdown = i == 3;
		rb_window(&b, &w);
	}
	rb_shutdown(&b, 3000000000ULL, "SIGTERM");
	/* the drain: an fsync of 600 ms and a stretch of 300 ms, after the event */
	rb_blocking(&b, 3100000000ULL, "fsync", 600000000ULL, id, 1);
	rb_stretch(&b, 3700000000ULL, 300000000ULL, id, 1, &id, (const uint32_t[]){30}, 1);
	rb_footer(&b, 4000000000ULL);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	ASSERT_TRUE(rep.has_shutdown_at);
	ASSERT_STR_EQ(rep.shutdown_reason, "SIGTERM");
	ASSERT_EQ(rep.blocking_count, 0);
	ASSERT_EQ(rep.busy_long_count, 0);
	ASSERT_EQ(rep.drain_blocking_count, 1);
	ASSERT_EQ(rep.drain_blocking_ns, 600000000ULL);
	ASSERT_EQ(rep.drain_busy_ns, 300000000ULL);
	ASSERT_TRUE(rep.has_drain_owner);
	ASSERT_STR_EQ(rep.drain_owner.name, "listItems");
	for (i = 0; i < rep.nfindings; i++)
		ASSERT_TRUE(strcmp(rep.findings[i].id, "blocking-calls") &&
			    strcmp(rep.findings[i].id, "cpu-bound-callbacks"));
	ASSERT_EQ(rep.rss_max, 300ull << 20);
	ASSERT_TRUE(rep.rss_max_is_peak);
	lsc_recording_free(r);
}

TEST_MAIN(TEST_ENTRY(the_owner_is_the_apps_first_frame_else_what_it_is),
	  TEST_ENTRY(a_finding_with_no_app_frame_says_where_it_is),
	  TEST_ENTRY(an_idle_loops_few_short_calls_are_no_finding),
	  TEST_ENTRY(the_drain_after_a_stop_request_is_apart),
	  TEST_ENTRY(a_frozen_loop_and_no_loop_are_said),
	  TEST_ENTRY(blocked_preempted_kernel_and_lock_waits_are_told_apart),
	  TEST_ENTRY(a_stretch_is_attributed_from_all_its_samples),
	  TEST_ENTRY(what_ran_in_the_drain_is_apart_and_rss_max_is_the_peak))
