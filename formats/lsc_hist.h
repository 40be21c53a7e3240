/*
 * lsc_hist.h — the one histogram every loopscope producer and consumer uses: log-linear
 * (HDR-style) over 64-bit values (nanoseconds, bytes). Values below 2^LSC_HIST_SUB_BITS are exact;
 * above, each power of two is split into 2^(LSC_HIST_SUB_BITS-1) equal buckets, so any value is
 * known within a relative error of 2^-(LSC_HIST_SUB_BITS-1) (0.78 %). Histograms with the same
 * parameters merge by adding counts, so windows merge into runs and runs into medians.
 *
 * A struct lsc_hist is plain memory (no allocation, no locks): producers may keep one per thread
 * and add to it from a signal handler.
 */
#ifndef LSC_HIST_H
#define LSC_HIST_H

#include <stdint.h>

#define LSC_HIST_SUB_BITS 8
#define LSC_HIST_HALF	  (1u << (LSC_HIST_SUB_BITS - 1))
#define LSC_HIST_BUCKETS  ((1u << LSC_HIST_SUB_BITS) + (64 - LSC_HIST_SUB_BITS) * LSC_HIST_HALF)

struct lsc_hist {
	uint64_t total;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t counts[LSC_HIST_BUCKETS];
};

void lsc_hist_init(struct lsc_hist *h);
void lsc_hist_add(struct lsc_hist *h, uint64_t v);
void lsc_hist_add_n(struct lsc_hist *h, uint64_t v, uint64_t n);
void lsc_hist_merge(struct lsc_hist *dst, const struct lsc_hist *src);
unsigned lsc_hist_index(uint64_t v);
uint64_t lsc_hist_bucket_low(unsigned idx);
uint64_t lsc_hist_bucket_high(unsigned idx);
/* The value at quantile q in [0, 1]: the highest value of its bucket, clamped to [min, max];
 * 0 when empty. */
uint64_t lsc_hist_quantile(const struct lsc_hist *h, double q);
double lsc_hist_mean(const struct lsc_hist *h);

#endif
