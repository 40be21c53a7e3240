/* test_hist.c — the log-linear histogram: bucket bounds, the error bound, quantiles, merging. */
#include "task.h"
#include "lsc_hist.h"

TEST(every_value_lands_in_a_bucket_that_holds_it)
{
	uint64_t v;
	int shift;

	for (v = 0; v < 100000; v++) {
		unsigned i = lsc_hist_index(v);

		ASSERT_CMP(lsc_hist_bucket_low(i), <=, v);
		ASSERT_CMP(lsc_hist_bucket_high(i), >=, v);
	}
	for (shift = 17; shift < 64; shift++) {
		uint64_t base = 1ULL << shift;
		uint64_t probes[] = {base - 1, base, base + 1, base + (base >> 1),
				     base | (base - 1)};
		size_t k;

		for (k = 0; k < 5; k++) {
			unsigned i = lsc_hist_index(probes[k]);

			ASSERT_CMP(i, <, LSC_HIST_BUCKETS);
			ASSERT_CMP(lsc_hist_bucket_low(i), <=, probes[k]);
			ASSERT_CMP(lsc_hist_bucket_high(i), >=, probes[k]);
		}
	}
	ASSERT_EQ(lsc_hist_index(UINT64_MAX), LSC_HIST_BUCKETS - 1);
}

TEST(relative_error_is_bounded)
{
	uint64_t v;

	/* Exact below 2^8; above, a bucket is at most 1/128 of its lower bound wide. */
	for (v = 1; v < (1ULL << 40); v = v * 3 + 1) {
		unsigned i = lsc_hist_index(v);
		double width = (double)(lsc_hist_bucket_high(i) - lsc_hist_bucket_low(i) + 1);

		if (v < 256)
			ASSERT_EQ(width, 1);
		else
			ASSERT_CMP(width / (double)lsc_hist_bucket_low(i), <=, 1.0 / 128);
	}
}

TEST(quantiles_and_merge)
{
	struct lsc_hist a, b;
	uint64_t i;

	lsc_hist_init(&a);
	lsc_hist_init(&b);
	for (i = 1; i <= 1000; i++)
		lsc_hist_add(&a, i * 1000); /* 1 us .. 1 ms */
	ASSERT_EQ(a.total, 1000);
	ASSERT_EQ(a.min, 1000);
	ASSERT_EQ(a.max, 1000000);
	/* Within the bucket error of the true quantiles. */
	ASSERT_CMP(lsc_hist_quantile(&a, 0.5), >=, 500000);
	ASSERT_CMP(lsc_hist_quantile(&a, 0.5), <=, 500000 * (1 + 1.0 / 128));
	ASSERT_CMP(lsc_hist_quantile(&a, 0.99), >=, 990000);
	ASSERT_CMP(lsc_hist_quantile(&a, 0.99), <=, 990000 * (1 + 1.0 / 128));
	ASSERT_EQ(lsc_hist_quantile(&a, 1), 1000000);
	lsc_hist_add_n(&b, 5000000, 1000);
	lsc_hist_merge(&a, &b);
	ASSERT_EQ(a.total, 2000);
	ASSERT_EQ(a.max, 5000000);
	ASSERT_CMP(lsc_hist_quantile(&a, 0.75), >=, 5000000 * (1 - 1.0 / 128));
	ASSERT_EQ(lsc_hist_mean(&b), 5000000);
	lsc_hist_init(&b);
	ASSERT_EQ(lsc_hist_quantile(&b, 0.5), 0);
}

TEST_MAIN(TEST_ENTRY(every_value_lands_in_a_bucket_that_holds_it),
	  TEST_ENTRY(relative_error_is_bounded), TEST_ENTRY(quantiles_and_merge))
