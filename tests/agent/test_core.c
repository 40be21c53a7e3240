/*
 * test_core.c — the agent's core without LD_PRELOAD: loop accounting on made-up timelines (ELU,
 * iterations with Node's double poll, busy segments, the simulated timer's lag, windows handed
 * to the writer), the event rings (wrap-around, drops), the LOOPSCOPE_* configuration, the
 * native heap tracker's tables and sampling arithmetic, and V8's code names taken apart.
 */
#include "task.h"
#include "agent.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL

static struct lsc_loop *new_loop(void)
{
	struct lsc_loop *L = calloc(1, sizeof(*L));

	lsc_loop_init(L, 5, 1, 0);
	return L;
}

TEST(elu_is_time_not_waiting_in_epoll)
{
	struct lsc_loop *L = new_loop();
	uint64_t t = 0;
	int i;

	/* 100 iterations: 3 ms of callbacks, then 7 ms waiting in epoll. */
	for (i = 0; i < 100; i++) {
		t += 3 * MS;
		lsc_loop_poll_enter(L, t, 7);
		t += 7 * MS;
		lsc_loop_poll_exit(L, t, 7, 1);
	}
	ASSERT_EQ(L->win[0].idle_ns, 700 * MS);
	ASSERT_TRUE(lsc_loop_maybe_close_window(L, t, 1000 * MS));
	ASSERT_EQ(L->win[0].end_ns - L->win[0].start_ns, 1000 * MS); /* ELU 0.3 */
	ASSERT_EQ(L->win[0].iterations, 100);
	ASSERT_EQ(L->win[0].busy.total, 100);
	ASSERT_EQ(L->win[0].busy.min, 3 * MS);
	ASSERT_EQ(L->win[0].busy.max, 3 * MS);
	free(L);
}

TEST(node_double_poll_is_one_iteration)
{
	struct lsc_loop *L = new_loop();
	uint64_t t = 0;
	int i;

	/* Each iteration: 2 ms of callbacks, an empty timeout-0 check, at once the 8 ms wait. */
	for (i = 0; i < 50; i++) {
		t += 2 * MS;
		lsc_loop_poll_enter(L, t, 0);
		t += 5000;
		lsc_loop_poll_exit(L, t, 0, 0);
		t += 2000;
		lsc_loop_poll_enter(L, t, 8);
		t += 8 * MS;
		lsc_loop_poll_exit(L, t, 8, 1);
	}
	ASSERT_EQ(L->win[0].iterations, 50);
	ASSERT_EQ(L->win[0].busy.total, 50);
	ASSERT_EQ(L->win[0].busy.max, 2 * MS);
	/* The check is busy time, as libuv counts it: only the waits are idle. */
	ASSERT_EQ(L->win[0].idle_ns, 50 * 8 * MS);
	free(L);
}

TEST(steady_load_polls_with_timeout_zero)
{
	struct lsc_loop *L = new_loop();
	uint64_t t = 0;
	int i;

	/* Events are always ready: every poll is a check that finds some, every gap a segment. */
	for (i = 0; i < 40; i++) {
		t += 20 * MS;
		lsc_loop_poll_enter(L, t, 0);
		t += 10000;
		lsc_loop_poll_exit(L, t, 0, 2);
	}
	ASSERT_EQ(L->win[0].iterations, 40);
	ASSERT_EQ(L->win[0].busy.total, 40);
	ASSERT_CMP(lsc_hist_quantile(&L->win[0].busy, 0.5), >=, 20 * MS - 10000);
	ASSERT_EQ(L->win[0].idle_ns, 0);
	/* The 1 ms timer would have fired once per 20 ms stretch, 20 ms apart. */
	ASSERT_CMP(lsc_hist_quantile(&L->win[0].lag, 0.5), >=, 20 * MS);
	ASSERT_CMP(lsc_hist_quantile(&L->win[0].lag, 0.5), <=, 20 * MS * 1.01 + 10000);
	free(L);
}

TEST(idle_loop_lag_is_the_timer_period)
{
	struct lsc_loop *L = new_loop();

	/* One long wait of 500 ms: a 1 ms timer would have fired 500 times, on time. */
	lsc_loop_poll_enter(L, 0, -1);
	lsc_loop_poll_exit(L, 500 * MS, -1, 1);
	ASSERT_EQ(L->win[0].lag.total, 500);
	ASSERT_EQ(L->win[0].lag.max, 1 * MS);
	ASSERT_EQ(L->win[0].lag.min, 1 * MS);
	/* Then a 50 ms callback: the next firing comes 50 ms after the last one. */
	lsc_loop_poll_enter(L, 550 * MS, 10);
	ASSERT_EQ(L->win[0].lag.max, 50 * MS);
	free(L);
}

TEST(a_wait_that_returns_late_makes_the_timer_late)
{
	struct lsc_loop *L = new_loop();

	/* Waits of 10 ms that time out on time: ten firings each, 1 ms apart. */
	lsc_loop_poll_enter(L, 0, 10);
	lsc_loop_poll_exit(L, 10 * MS, 10, 0);
	ASSERT_EQ(L->win[0].lag.total, 10);
	ASSERT_EQ(L->win[0].lag.max, 1 * MS);
	/* One that returns 6 ms after its timeout, with an event that came meanwhile (the thread
	 * runnable, the CPU taken): on time up to its timeout; then the timer waits for the next
	 * poll boundary, 1 ms of callbacks later: 7 ms after its last firing. */
	lsc_loop_poll_enter(L, 10 * MS, 10);
	lsc_loop_poll_exit(L, 26 * MS, 10, 1);
	ASSERT_EQ(L->win[0].lag.total, 20);
	ASSERT_EQ(L->win[0].idle_ns, 26 * MS);
	lsc_loop_poll_enter(L, 27 * MS, 100);
	ASSERT_EQ(L->win[0].lag.total, 21);
	ASSERT_EQ(L->win[0].lag.max, 7 * MS);
	/* A wait ended by an event before its timeout: nothing was late. */
	lsc_loop_poll_exit(L, 57 * MS, 100, 1);
	ASSERT_EQ(L->win[0].lag.total, 51);
	ASSERT_EQ(L->win[0].lag.max, 7 * MS);
	free(L);
}

TEST(windows_go_to_the_writer_or_merge)
{
	struct lsc_loop *L = new_loop();
	int k;

	lsc_loop_poll_enter(L, 10, 5);
	lsc_loop_poll_exit(L, 900 * MS, 5, 0);
	ASSERT_EQ(lsc_loop_maybe_close_window(L, 900 * MS, 1000 * MS), 0); /* not a second yet */
	ASSERT_EQ(lsc_loop_take_window(L), -1);
	ASSERT_EQ(lsc_loop_maybe_close_window(L, 1000 * MS, 1000 * MS), 1);
	k = lsc_loop_take_window(L);
	ASSERT_EQ(k, 0);
	ASSERT_EQ(L->cur, 1);
	ASSERT_EQ(L->win[1].start_ns, 1000 * MS);
	/* The writer has not released window 0: window 1 keeps going. */
	ASSERT_EQ(lsc_loop_maybe_close_window(L, 2000 * MS, 1000 * MS), 0);
	ASSERT_EQ(atomic_load(&L->merged), 1);
	lsc_loop_release_window(L, k);
	ASSERT_EQ(lsc_loop_maybe_close_window(L, 2100 * MS, 1000 * MS), 1);
	ASSERT_EQ(L->win[1].end_ns - L->win[1].start_ns, 1100 * MS);
	ASSERT_EQ(lsc_loop_take_window(L), 1);
	free(L);
}

TEST(writer_closes_the_window_of_a_loop_parked_in_epoll)
{
	struct lsc_loop *L = new_loop();

	/* the loop counted its handles before it waited */
	L->win[0].handles_known = 1;
	L->win[0].active_handles = 7;
	L->win[0].handles[12] = 3;
	lsc_loop_poll_enter(L, 100 * MS, -1); /* parks: waits with no timeout */
	ASSERT_EQ(atomic_load(&L->owner), LOOP_PARKED);
	ASSERT_EQ(lsc_loop_close_parked(L, 900 * MS, 1000 * MS), 0); /* not a second yet */
	ASSERT_EQ(lsc_loop_close_parked(L, 1500 * MS, 1000 * MS), 1);
	ASSERT_EQ(lsc_loop_take_window(L), 0);
	/* still parked: the new window starts with the same handles */
	ASSERT_EQ(L->win[1].handles_known, 1);
	ASSERT_EQ(L->win[1].active_handles, 7);
	ASSERT_EQ(L->win[1].handles[12], 3);
	ASSERT_EQ(L->win[0].idle_ns, 1400 * MS); /* ELU 0.07: the first 100 ms were busy */
	ASSERT_EQ(L->win[0].end_ns, 1500 * MS);
	ASSERT_EQ(atomic_load(&L->owner), LOOP_PARKED);
	/* The loop wakes at 2 s: only the rest of the wait lands in the new window. */
	lsc_loop_poll_exit(L, 2000 * MS, -1, 1);
	ASSERT_EQ(atomic_load(&L->owner), LOOP_OWNED);
	ASSERT_EQ(L->win[1].idle_ns, 500 * MS);
	/* A loop that is running is never claimed. */
	ASSERT_EQ(lsc_loop_close_parked(L, 3000 * MS, 1000 * MS), 0);
	free(L);
}

TEST(ring_wraps_and_drops_without_blocking)
{
	struct lsc_ring *r = lsc_ring_new(4096);
	uint8_t payload[100], out[256];
	uint16_t type;
	size_t len;
	int i, pushed = 0;

	ASSERT_TRUE(r != NULL);
	for (i = 0; i < 10000; i++) {
		memset(payload, i & 0xff, sizeof(payload));
		if (lsc_ring_push(r, 7, payload, 60, payload + 60, 40) == 0)
			pushed++;
		/* consume every other round: the ring wraps many times and fills now and then */
		if (i % 3 != 0) {
			len = lsc_ring_pop(r, &type, out, sizeof(out));
			if (len) {
				ASSERT_EQ(len, 100);
				ASSERT_EQ(type, 7);
				ASSERT_EQ(out[0], out[99]);
			}
		}
	}
	while ((len = lsc_ring_pop(r, &type, out, sizeof(out))))
		ASSERT_EQ(len, 100);
	ASSERT_CMP(pushed, >, 5000);
	ASSERT_EQ(atomic_load(&r->dropped), 10000 - pushed);
	ASSERT_EQ(atomic_load(&r->head), atomic_load(&r->tail));
}

static const char *vars[16][2];

static const char *get(const char *name)
{
	int i;

	for (i = 0; i < 16 && vars[i][0]; i++)
		if (!strcmp(vars[i][0], name))
			return vars[i][1];
	return NULL;
}

TEST(configuration_from_the_environment)
{
	struct lsc_agent_config c;
	const char *bad;

	ASSERT_EQ(lsc_agent_config_parse(&c, get, &bad), -EINVAL);
	ASSERT_STR_EQ(bad, "LOOPSCOPE_OUTPUT");
	vars[0][0] = "LOOPSCOPE_OUTPUT", vars[0][1] = "/tmp/x.lsr";
	ASSERT_OK(lsc_agent_config_parse(&c, get, &bad));
	ASSERT_EQ(c.window_ns, 1000 * MS);
	ASSERT_EQ(c.block_threshold_ns, 1 * MS);
	ASSERT_EQ(c.cpu_hz, 99);
	ASSERT_EQ(c.heap_mode, LSC_HEAP_SAMPLED);
	vars[1][0] = "LOOPSCOPE_BLOCK_THRESHOLD_MS", vars[1][1] = "0";
	vars[2][0] = "LOOPSCOPE_HEAP", vars[2][1] = "full";
	vars[3][0] = "LOOPSCOPE_WINDOW_MS", vars[3][1] = "250";
	ASSERT_OK(lsc_agent_config_parse(&c, get, &bad));
	ASSERT_EQ(c.block_threshold_ns, 0);
	ASSERT_EQ(c.heap_mode, LSC_HEAP_FULL);
	ASSERT_EQ(c.window_ns, 250 * MS);
	vars[4][0] = "LOOPSCOPE_CPU_HZ", vars[4][1] = "fast";
	ASSERT_EQ(lsc_agent_config_parse(&c, get, &bad), -EINVAL);
	ASSERT_STR_EQ(bad, "LOOPSCOPE_CPU_HZ");
	vars[4][1] = "99";
	vars[2][1] = "some";
	ASSERT_EQ(lsc_agent_config_parse(&c, get, &bad), -EINVAL);
	ASSERT_STR_EQ(bad, "LOOPSCOPE_HEAP");
}

TEST(heap_sites_are_found_again_and_counted)
{
	static struct lsc_heap_sites t;
	uint64_t a[3] = {0x401000, 0x402000, 0x403000}, b[3] = {0x401000, 0x402000, 0x403001};
	uint32_t sa, sb, i;

	ASSERT_EQ(lsc_heap_sites_init(&t, 8, 64), 0);
	sa = lsc_heap_site(&t, a, 3);
	sb = lsc_heap_site(&t, b, 3);
	ASSERT_CMP(sa, >=, 2);
	ASSERT_CMP(sb, >=, 2);
	ASSERT_CMP(sa, !=, sb);
	ASSERT_EQ(lsc_heap_site(&t, a, 3), sa);
	ASSERT_EQ(lsc_heap_site(&t, a, 2), lsc_heap_site(&t, a, 2));
	ASSERT_CMP(lsc_heap_site(&t, a, 2), !=, sa);
	lsc_heap_count_alloc(&t, sa, 100, 1000);
	lsc_heap_count_alloc(&t, sa, 50, 1000);
	lsc_heap_count_free(&t, sa, 100, 1000, 1);
	ASSERT_EQ(atomic_load(&t.site[sa].alloc_bytes), 150);
	ASSERT_EQ(atomic_load(&t.site[sa].alloc_bytes) - atomic_load(&t.site[sa].freed_bytes), 50);
	ASSERT_EQ(atomic_load(&t.site[sa].alloc_milli) - atomic_load(&t.site[sa].freed_milli),
		  1000);
	ASSERT_EQ(atomic_load(&t.site[sa].temp_milli), 1000);
	/* A full table answers with site 1 and counts what it could not keep. */
	for (i = 0; i < 20; i++) {
		uint64_t f = 0x500000 + i;

		ASSERT_CMP(lsc_heap_site(&t, &f, 1), <, 8);
	}
	ASSERT_CMP(atomic_load(&t.dropped), >, 0);
}

struct site_race {
	struct lsc_heap_sites *t;
	uint32_t got[64];
};

static void *race_sites(void *arg)
{
	struct site_race *r = arg;
	uint32_t i;

	for (i = 0; i < 64; i++) {
		uint64_t f[2] = {0x1000 + i, 0x2000};

		r->got[i] = lsc_heap_site(r->t, f, 2);
		lsc_heap_count_alloc(r->t, r->got[i], 8, 1000);
	}
	return NULL;
}

TEST(heap_sites_under_concurrent_first_sight)
{
	static struct lsc_heap_sites t;
	struct site_race r[4];
	pthread_t th[4];
	uint64_t total = 0;
	uint32_t i, k;

	ASSERT_EQ(lsc_heap_sites_init(&t, 1024, 4096), 0);
	for (k = 0; k < 4; k++) {
		r[k].t = &t;
		pthread_create(&th[k], NULL, race_sites, &r[k]);
	}
	for (k = 0; k < 4; k++)
		pthread_join(th[k], NULL);
	/* Every thread saw the same site for the same stack, and no count went astray. */
	for (i = 0; i < 64; i++)
		for (k = 1; k < 4; k++)
			ASSERT_EQ(r[k].got[i], r[0].got[i]);
	for (i = 0; i < atomic_load(&t.n); i++)
		total += atomic_load(&t.site[i].alloc_bytes);
	ASSERT_EQ(total, 4 * 64 * 8);
}

TEST(sampled_pointers_are_taken_once)
{
	static struct lsc_heap_samples s;
	uint64_t bytes, milli;
	uint32_t site, i;

	ASSERT_EQ(lsc_heap_samples_init(&s, 1024, 4096), 0);
	ASSERT_EQ(lsc_heap_samples_take(&s, 0x7000, &site, &bytes, &milli), 0);
	for (i = 0; i < 500; i++)
		ASSERT_EQ(lsc_heap_samples_put(&s, 0x10000 + 16 * i, i + 2, 100 + i, 1000), 0);
	for (i = 0; i < 500; i += 2) {
		ASSERT_EQ(lsc_heap_samples_take(&s, 0x10000 + 16 * i, &site, &bytes, &milli), 1);
		ASSERT_EQ(site, i + 2);
		ASSERT_EQ(bytes, 100 + i);
		ASSERT_EQ(lsc_heap_samples_take(&s, 0x10000 + 16 * i, &site, &bytes, &milli), 0);
	}
	/* Removed slots are reused, and what is left is still found. */
	for (i = 0; i < 250; i++)
		ASSERT_EQ(lsc_heap_samples_put(&s, 0x900000 + 16 * i, 7, 1, 1000), 0);
	for (i = 1; i < 500; i += 2)
		ASSERT_EQ(lsc_heap_samples_take(&s, 0x10000 + 16 * i, &site, &bytes, &milli), 1);
	ASSERT_EQ(atomic_load(&s.dropped), 0);
}

/* Poisson sampling by bytes, as the agent does it, over a stream of mixed sizes. */
static double sampled_estimate(uint64_t seed, uint64_t interval, uint64_t *truth)
{
	uint64_t rng = seed, sizes[4] = {24, 700, 24593, 3u << 20}, est = 0, b, m;
	int64_t left = lsc_heap_next_gap(&rng, interval);
	uint32_t i;

	*truth = 0;
	for (i = 0; i < 40000; i++) {
		uint64_t size = sizes[lsc_heap_rand(&rng) % 4];

		*truth += size;
		left -= (int64_t)size;
		if (left > 0)
			continue;
		while (left <= 0)
			left += lsc_heap_next_gap(&rng, interval);
		lsc_heap_weight(size, interval, &b, &m);
		est += b;
	}
	return (double)est;
}

TEST(poisson_byte_sampling_is_unbiased)
{
	uint64_t truth = 0;
	double sum = 0, one;
	int k;

	/* One run: within a few standard errors (sqrt(interval / total) is about 2 % here). */
	one = sampled_estimate(1, 512 * 1024, &truth);
	ASSERT_CMP(fabs(one / (double)truth - 1), <, 0.08);
	/* The mean of many runs converges on the truth: no bias. */
	for (k = 0; k < 200; k++)
		sum += sampled_estimate((uint64_t)k * 7919 + 3, 512 * 1024, &truth);
	ASSERT_CMP(fabs(sum / 200 / (double)truth - 1), <, 0.01);
	/* The weights: a tiny allocation stands for about interval bytes, a huge one for itself. */
	{
		uint64_t b, m;

		lsc_heap_weight(16, 512 * 1024, &b, &m);
		ASSERT_CMP(fabs((double)b / (512.0 * 1024) - 1), <, 0.001);
		lsc_heap_weight(1ULL << 32, 512 * 1024, &b, &m);
		ASSERT_EQ(b, 1ULL << 32);
		ASSERT_EQ(m, 1000);
	}
}

TEST_MAIN(TEST_ENTRY(elu_is_time_not_waiting_in_epoll),
	  TEST_ENTRY(node_double_poll_is_one_iteration),
	  TEST_ENTRY(steady_load_polls_with_timeout_zero),
	  TEST_ENTRY(idle_loop_lag_is_the_timer_period),
	  TEST_ENTRY(a_wait_that_returns_late_makes_the_timer_late),
	  TEST_ENTRY(windows_go_to_the_writer_or_merge),
	  TEST_ENTRY(writer_closes_the_window_of_a_loop_parked_in_epoll),
	  TEST_ENTRY(ring_wraps_and_drops_without_blocking),
	  TEST_ENTRY(configuration_from_the_environment),
	  TEST_ENTRY(heap_sites_are_found_again_and_counted),
	  TEST_ENTRY(heap_sites_under_concurrent_first_sight),
	  TEST_ENTRY(sampled_pointers_are_taken_once),
	  TEST_ENTRY(poisson_byte_sampling_is_unbiased))
