/*
 * lsc_stretch.h — where a long busy stretch of a loop went: the loop thread's latest CPU samples
 * (time and stack id) in a fixed ring, and, when the stretch has ended, those within it counted
 * by stack. The agent (agent/stretch.c: SIGPROF samples, its "(busy loop)" events) and attach
 * (bpf/attach_stretch.c: perf samples, the long segments loop.bpf.c reports) both keep one per
 * loop thread; a stretch is reported after the samples taken in it, so the ring holds them.
 *
 * No allocation, no lock: the caller owns the ring and uses it from one thread.
 */
#ifndef LSC_STRETCH_H
#define LSC_STRETCH_H

#include <stddef.h>
#include <stdint.h>

/* 99 Hz fills it in about 5 s: a longer stretch is attributed from its last 5 s (the event
 * says how many samples it had). */
#define LSC_STRETCH_SAMPLES 512

struct lsc_stretch_ring {
	uint32_t tid; /* the owner's key (0: free) */
	uint32_t head, n;
	uint64_t t[LSC_STRETCH_SAMPLES];
	uint32_t stack[LSC_STRETCH_SAMPLES];
};

void lsc_stretch_push(struct lsc_stretch_ring *b, uint64_t t, uint32_t stack);
/* The samples from start to end (inclusive), by stack: stacks[i] taken counts[i] times, in
 * ascending stack id, at most cap of them; how many. */
size_t lsc_stretch_counts(const struct lsc_stretch_ring *b, uint64_t start, uint64_t end,
			  uint32_t *stacks, uint32_t *counts, size_t cap);

#endif
