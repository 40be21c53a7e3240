/*
 * rl_internal.h — what refloop's modules share with each other and nobody else: the dispatcher,
 * handle accounting, observer fan-out, USDT probe macros, and each module's stats snapshot for
 * stats.c. Names are rl__ (internal, shared between files), as libuv's uv__.
 */
#ifndef RL_INTERNAL_H
#define RL_INTERNAL_H

#include "refloop.h"

#include <stdatomic.h>
#include <sys/sdt.h>

#define RL_ARRAY_SIZE(a)		    (sizeof(a) / sizeof((a)[0]))
#define rl__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/*
 * USDT probes, provider "refloop". The contract (names, arguments, units) is docs/probes.md;
 * change both together. No semaphores: a probe site is a single nop when nobody traces it.
 */
#define RL_PROBE0(name)		 DTRACE_PROBE(refloop, name)
#define RL_PROBE1(name, a)	 DTRACE_PROBE1(refloop, name, a)
#define RL_PROBE2(name, a, b)	 DTRACE_PROBE2(refloop, name, a, b)
#define RL_PROBE3(name, a, b, c) DTRACE_PROBE3(refloop, name, a, b, c)

/* ---- loop.c: dispatcher and handle accounting */

/* Runs one callback the way Node's MakeCallback does: observers and probes around it, then the
 * nextTick queue, then microtasks, with a GC safe point between each. */
void rl__dispatch(int kind, rl_task_fn fn, void *arg);
void rl__handle_opened(int uv_type);
void rl__handle_closed(int uv_type);
void rl__note_active(void);

struct rl__loop_stats {
	uint64_t wall_ns;
	uint64_t idle_ns;
	uint64_t iterations;
	uint64_t callbacks;
	uint64_t ticks;
	uint64_t microtasks;
	uint64_t max_drain_ns;
	unsigned peak_active_handles;
	unsigned peak_active_reqs;
	unsigned active_handles;
	uint64_t handles_opened[UV_HANDLE_TYPE_MAX];
	uint64_t handles_closed[UV_HANDLE_TYPE_MAX];
};
void rl__loop_stats_get(struct rl__loop_stats *out);
const char *rl__options_name(void);
const char *rl__options_stats_path(void);

/* ---- observer.c */
void rl__obs_gc_end(const struct rl_gc_info *info);
void rl__obs_handle(int open, int uv_type);
void rl__obs_callback(int begin, int kind);

/* ---- heap.c */
int rl__heap_init(uint64_t min_budget);
void rl__heap_release(void);
/* A collection is due (the allocation budget is spent): collect now if so. */
void rl__heap_safepoint(void);

#define RL_GC_HISTORY 4096
struct rl__gc_record {
	uint64_t t_ns; /* since rl_init */
	uint64_t pause_ns;
	uint64_t before;
	uint64_t live_after;
};
/* The last RL_GC_HISTORY collections, oldest first (i = 0); *dropped says how many fell off. */
size_t rl__heap_history_count(uint64_t *dropped);
const struct rl__gc_record *rl__heap_history_get(size_t i);
/* Live count and bytes per type after the last collection; *n entries. */
const struct rl_type_stat *rl__heap_types(uint32_t *n);

/* ---- pool.c */
struct rl__pool_stats {
	int size;
	uint64_t submitted;
	uint64_t started;
	uint64_t completed;
	uint64_t peak_depth;
	uint64_t wait_max_ns;
	uint64_t wait_total_ns;
	uint64_t wait_p50_ns;
	uint64_t wait_p99_ns;
};
void rl__pool_stats_get(struct rl__pool_stats *out);

/* ---- buffer.c */
struct rl__buffer_stats {
	uint64_t live_bytes;
	uint64_t peak_bytes;
	uint64_t allocated_total;
};
void rl__buffer_stats_get(struct rl__buffer_stats *out);

/* ---- http.c */
struct rl__http_stats {
	uint64_t connections;
	uint64_t requests;
	uint64_t responses;
	uint64_t bytes_out;
	uint64_t stream_pauses;
	uint64_t stream_resumes;
	uint64_t peak_write_queue;
	uint64_t aborted;
};
void rl__http_stats_get(struct rl__http_stats *out);
void rl__http_close_all(void);

/* ---- stats.c */
struct rl__counter {
	const char *name;
	uint64_t value;
};
size_t rl__counters(const struct rl__counter **out);

/* ---- taskq.c: a FIFO of (fn, arg), grown by doubling, never shrunk until released */
struct rl__task {
	rl_task_fn fn;
	void *arg;
};
struct rl__taskq {
	struct rl__task *v;
	size_t cap;
	size_t head;
	size_t len;
};
int rl__taskq_push(struct rl__taskq *q, rl_task_fn fn, void *arg);
int rl__taskq_pop(struct rl__taskq *q, struct rl__task *out);
void rl__taskq_release(struct rl__taskq *q);

/* Log2 histogram of nanoseconds, lock-free for concurrent writers. */
#define RL_HIST_BUCKETS 64
struct rl__hist {
	_Atomic uint64_t b[RL_HIST_BUCKETS];
};
void rl__hist_add(struct rl__hist *h, uint64_t ns);
/* Upper bound of the bucket holding quantile q (0..1); 0 when empty. */
uint64_t rl__hist_quantile(const struct rl__hist *h, double q);

#endif
