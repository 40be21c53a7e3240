/* test_timers.c — timeouts in deadline order, intervals, clearing, unref, handle accounting. */
#include "task.h"
#include "rl_internal.h"

static char order[256];

static void note(void *s)
{
	strcat(order, s);
	strcat(order, " ");
}

TEST(timeouts_fire_in_deadline_then_insertion_order)
{
	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_set_timeout(30, note, "30", NULL));
	ASSERT_OK(rl_set_timeout(10, note, "10", NULL));
	ASSERT_OK(rl_set_timeout(15, note, "15a", NULL));
	ASSERT_OK(rl_set_timeout(20, note, "20", NULL));
	ASSERT_OK(rl_set_timeout(15, note, "15b", NULL));
	ASSERT_OK(rl_run());
	ASSERT_STR_EQ(order, "10 15a 15b 20 30 ");
	rl_release();
}

static struct rl_timer *iv;
static int fired;
static uint64_t first_ns, fifth_ns;

static void tick5(void *a)
{
	if (++fired == 1)
		first_ns = rl_now_ns();
	if (fired == 5) {
		fifth_ns = rl_now_ns();
		rl_clear_timer(iv);
	}
}

TEST(interval_repeats_until_cleared)
{
	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_set_interval(10, tick5, NULL, &iv));
	ASSERT_OK(rl_run()); /* returns only once the cleared interval stopped keeping the loop
				alive */
	ASSERT_EQ(fired, 5);
	/* Four periods between the first and fifth firing: never early. */
	ASSERT_CMP(fifth_ns - first_ns, >=, 4 * 10 * 1000000ULL - 1000000);
	rl_release();
}

static void never(void *a)
{
	LSC_FAIL("a cleared timer fired");
}

static void clear_other(void *a)
{
	rl_clear_timer(a);
	fired++;
}

TEST(cleared_timers_never_fire)
{
	struct rl_timer *t1, *t2;

	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_set_timeout(5, never, NULL, &t1));
	rl_clear_timer(t1);
	ASSERT_OK(rl_set_timeout(20, never, NULL, &t2));
	ASSERT_OK(rl_set_timeout(5, clear_other, t2, NULL));
	ASSERT_OK(rl_run());
	ASSERT_EQ(fired, 1);
	rl_release();
}

static int unref_fired;

static void count_unref(void *a)
{
	unref_fired++;
}

TEST(unref_interval_does_not_keep_the_loop_alive)
{
	struct rl_timer *t;

	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_set_interval(2, count_unref, NULL, &t));
	rl_timer_unref(t);
	ASSERT_OK(rl_set_timeout(30, note, "done", NULL));
	ASSERT_OK(rl_run());
	ASSERT_STR_EQ(order, "done ");
	ASSERT_CMP(unref_fired, >=, 1);
	rl_release();
}

static int opened[UV_HANDLE_TYPE_MAX], closed[UV_HANDLE_TYPE_MAX];

static void on_open(void *ctx, int type)
{
	opened[type]++;
}

static void on_close(void *ctx, int type)
{
	closed[type]++;
}

TEST(every_timer_is_one_libuv_handle_seen_by_observers)
{
	struct rl_observer obs = {
		.version = RL_OBSERVER_VERSION, .handle_open = on_open, .handle_close = on_close};
	struct rl__loop_stats ls;
	int i;

	ASSERT_OK(rl_observer_register(&obs));
	ASSERT_OK(rl_init(NULL));
	for (i = 0; i < 7; i++)
		ASSERT_OK(rl_set_timeout(1 + i, note, "", NULL));
	ASSERT_EQ(rl_loop()->active_handles, 7);
	ASSERT_OK(rl_run());
	rl__loop_stats_get(&ls);
	ASSERT_EQ(ls.handles_opened[UV_TIMER], 7);
	ASSERT_EQ(ls.handles_closed[UV_TIMER], 7);
	ASSERT_EQ(ls.peak_active_handles, 7);
	rl_release(); /* closes the runtime's own handles */
	ASSERT_EQ(opened[UV_TIMER], 7);
	ASSERT_EQ(closed[UV_TIMER], 7);
	ASSERT_EQ(opened[UV_SIGNAL], 3);
	ASSERT_EQ(closed[UV_SIGNAL], 3);
}

TEST_MAIN(TEST_ENTRY(timeouts_fire_in_deadline_then_insertion_order),
	  TEST_ENTRY(interval_repeats_until_cleared), TEST_ENTRY(cleared_timers_never_fire),
	  TEST_ENTRY(unref_interval_does_not_keep_the_loop_alive),
	  TEST_ENTRY(every_timer_is_one_libuv_handle_seen_by_observers))
