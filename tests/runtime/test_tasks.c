/* test_tasks.c — Node's ordering: nextTick queue, then microtasks, after every callback. */
#include "task.h"
#include "rl_internal.h"

static char order[256];

static void note(const char *s)
{
	strcat(order, s);
	strcat(order, " ");
}

static void t4(void *a)
{
	note("T4");
}
static void t3(void *a)
{
	note("T3");
}
static void m2(void *a)
{
	note("M2");
}
static void m1(void *a)
{
	note("M1");
	rl_next_tick(t4, NULL);
}
static void t1(void *a)
{
	note("T1");
	rl_next_tick(t3, NULL);
	rl_queue_microtask(m2, NULL);
}
static void t2(void *a)
{
	note("T2");
}

static void timer_a(void *a)
{
	note("A");
	rl_queue_microtask(m1, NULL);
	rl_next_tick(t1, NULL);
	rl_next_tick(t2, NULL);
}

static void timer_b(void *a)
{
	note("B");
}

TEST(nexttick_before_microtask)
{
	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_set_timeout(5, timer_a, NULL, NULL));
	ASSERT_OK(rl_set_timeout(5, timer_b, NULL, NULL));
	ASSERT_OK(rl_run());
	/* Ticks (with those they add) drain first, then microtasks; a tick queued by a microtask
	 * runs before the next callback (B), not after it. */
	ASSERT_STR_EQ(order, "A T1 T2 T3 M1 M2 T4 B ");
	rl_release();
}

static void main_tick(void *a)
{
	note("tick");
}
static void main_micro(void *a)
{
	note("micro");
}
static void first_timer(void *a)
{
	note("timer");
}

TEST(work_queued_by_main_runs_before_the_loop)
{
	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_set_timeout(1, first_timer, NULL, NULL));
	rl_queue_microtask(main_micro, NULL);
	rl_next_tick(main_tick, NULL);
	ASSERT_OK(rl_run());
	ASSERT_STR_EQ(order, "tick micro timer ");
	rl_release();
}

static void imm_d(void *a)
{
	note("D");
}
static void imm_x(void *a)
{
	note((const char *)a);
	if (strcmp(a, "A") == 0)
		rl_set_immediate(imm_d, NULL);
}
static void imm_tick(void *a)
{
	note("t");
}
static void imm_b(void *a)
{
	note("B");
	rl_next_tick(imm_tick, NULL);
}

TEST(immediates_run_in_order_and_defer_new_ones)
{
	struct rl__loop_stats ls;

	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_set_immediate(imm_x, "A"));
	ASSERT_OK(rl_set_immediate(imm_b, NULL));
	ASSERT_OK(rl_set_immediate(imm_x, "C"));
	ASSERT_OK(rl_run());
	/* D was queued while A ran: it waits for the next check phase. B's tick runs right after B.
	 */
	ASSERT_STR_EQ(order, "A B t C D ");
	rl__loop_stats_get(&ls);
	ASSERT_EQ(ls.callbacks, 4);
	ASSERT_EQ(ls.ticks, 1);
	ASSERT_CMP(ls.iterations, >=, 2);
	rl_release();
}

static uint64_t chain_left = 100000;

static void chain(void *a)
{
	if (--chain_left)
		rl_next_tick(chain, NULL);
}

static void starve_start(void *a)
{
	rl_next_tick(chain, NULL);
}

static int late_timer_ran_after_chain;

static void late_timer(void *a)
{
	late_timer_ran_after_chain = chain_left == 0;
}

TEST(recursive_nexttick_starves_timers)
{
	struct rl__loop_stats ls;

	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_set_timeout(1, starve_start, NULL, NULL));
	ASSERT_OK(rl_set_timeout(2, late_timer, NULL, NULL));
	ASSERT_OK(rl_run());
	ASSERT_TRUE(late_timer_ran_after_chain);
	rl__loop_stats_get(&ls);
	ASSERT_EQ(ls.ticks, 100000);
	rl_release();
}

TEST_MAIN(TEST_ENTRY(nexttick_before_microtask),
	  TEST_ENTRY(work_queued_by_main_runs_before_the_loop),
	  TEST_ENTRY(immediates_run_in_order_and_defer_new_ones),
	  TEST_ENTRY(recursive_nexttick_starves_timers))
