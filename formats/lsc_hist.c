/*
 * lsc_hist.c — the log-linear histogram (see lsc_hist.h for the layout and its error bound).
 *
 * Index of v: v itself below 2^S; else with m the position of v's top bit and shift = m - (S - 1),
 * the top S bits of v (in [2^(S-1), 2^S)) pick one of 2^(S-1) buckets of the octave.
 */
#include "lsc_hist.h"

#include <string.h>

#define S LSC_HIST_SUB_BITS

void lsc_hist_init(struct lsc_hist *h)
{
	memset(h, 0, sizeof(*h));
}

unsigned lsc_hist_index(uint64_t v)
{
	unsigned m, shift;

	if (v < (1u << S))
		return (unsigned)v;
	m = 63 - __builtin_clzll(v);
	shift = m - (S - 1);
	return (1u << S) + (shift - 1) * LSC_HIST_HALF + (unsigned)((v >> shift) - LSC_HIST_HALF);
}

uint64_t lsc_hist_bucket_low(unsigned idx)
{
	unsigned shift;

	if (idx < (1u << S))
		return idx;
	if (idx >= LSC_HIST_BUCKETS)
		return UINT64_MAX;
	shift = (idx - (1u << S)) / LSC_HIST_HALF + 1;
	return ((uint64_t)LSC_HIST_HALF + (idx - (1u << S)) % LSC_HIST_HALF) << shift;
}

uint64_t lsc_hist_bucket_high(unsigned idx)
{
	unsigned shift;

	if (idx < (1u << S))
		return idx;
	if (idx >= LSC_HIST_BUCKETS - 1)
		return UINT64_MAX;
	shift = (idx - (1u << S)) / LSC_HIST_HALF + 1;
	return lsc_hist_bucket_low(idx) + ((uint64_t)1 << shift) - 1;
}

void lsc_hist_add_n(struct lsc_hist *h, uint64_t v, uint64_t n)
{
	if (!n)
		return;
	if (h->total == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->total += n;
	h->sum += v * n;
	h->counts[lsc_hist_index(v)] += n;
}

void lsc_hist_add(struct lsc_hist *h, uint64_t v)
{
	lsc_hist_add_n(h, v, 1);
}

void lsc_hist_merge(struct lsc_hist *dst, const struct lsc_hist *src)
{
	unsigned i;

	if (!src->total)
		return;
	if (dst->total == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->total += src->total;
	dst->sum += src->sum;
	for (i = 0; i < LSC_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
}

uint64_t lsc_hist_quantile(const struct lsc_hist *h, double q)
{
	uint64_t want, seen = 0, v;
	unsigned i;

	if (!h->total)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	/* The smallest value with at least q of the samples at or below it. */
	want = (uint64_t)(q * (double)h->total + 0.5);
	if (want == 0)
		want = 1;
	for (i = 0; i < LSC_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= want)
			break;
	}
	v = lsc_hist_bucket_high(i < LSC_HIST_BUCKETS ? i : LSC_HIST_BUCKETS - 1);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

double lsc_hist_mean(const struct lsc_hist *h)
{
	return h->total ? (double)h->sum / (double)h->total : 0.0;
}
