/*
 * writer.h — what the writer's two files share: its state (the stack table, the per-cycle
 * sample totals, the output buffer) and the record builders. writer.c runs the cycles (on the
 * writer thread, or inline on the program's only thread); records.c turns one ring record, one
 * closed window or one loaded object into recording records.
 */
#ifndef LSC_WRITER_H
#define LSC_WRITER_H

#include "lsc_recording.h"
#include "preload.h"

#include <link.h>
#include <pthread.h>

#define OUT_CAP	     (4u << 20)
#define STACK_CAP    (1u << 18) /* distinct stacks kept; more are dropped */
#define ACC_CAP	     16384	/* distinct (stack, thread) pairs per cycle */
#define MAX_MAPPINGS 4096

struct stack_slot {
	uint64_t hash;
	uint32_t id;
	uint32_t nframes;
	uint64_t frames_off;
};

struct acc {
	uint32_t stack, tid;
	uint64_t value;
};

struct ring_state {
	struct lsc_ring *ring;
	uint32_t tid; /* the thread the Thread record was written for */
	uint64_t last_cpu_t;
	uint32_t last_cpu_stack;
};

struct lsc_writer {
	pthread_t thread;
	int prepared; /* its memory is mapped: cycles can run */
	int maps_done;
	uint8_t *out;
	size_t len;
	struct stack_slot *stacks; /* open addressing, stacks_cap slots (from 4,096 to
				      STACK_CAP * 2, doubling: lsc_map_table) */
	uint32_t stacks_cap;
	uint32_t sites_named; /* the heap's sites up to here had their JS frames named */
	uint64_t *frames;
	uint64_t frames_used, frames_cap;
	uint32_t nstacks;
	uint64_t dropped_stacks, dropped_samples;
	struct acc *cpu, *blk, *off;
	size_t ncpu, nblk, noff;
	uint64_t mapped[MAX_MAPPINGS];
	size_t nmapped;
	struct { /* build-ids of the files the loader listed, for their other mappings */
		char path[512];
		uint8_t bid[64];
		size_t bid_len;
	} known[128];
	size_t nknown;
	struct ring_state rings[1024];
	size_t nrings;
	uint64_t last_maps_ns;
	uint8_t rec[65536];
	uint32_t hidx[3][LSC_HIST_BUCKETS];
	uint64_t hcnt[3][LSC_HIST_BUCKETS];
	/* the native heap: the last snapshot's totals, and its columns */
	uint64_t last_heap_ns, heap_live, heap_alloc;
	uint64_t loop_alloc[LSC_AGENT_MAX_LOOPS]; /* heap_alloc at each loop's last window */
	uint32_t snapshot;
	uint32_t *hstack;
	uint64_t *hval[5];
	/* the thread pool since the main loop's last window, and the stacks that submitted */
	struct {
		int seen;
		uint32_t depth_max, busy_max, threads;
		uint64_t area, area_t; /* lsc__pool_area at the main loop's last window */
		struct lsc_hist wait;
	} pool;
	struct acc *sub;
	size_t nsub;
	/* Node.js: its own count of active resources, the last readings (node_resources.c): a
	 * window takes the latest one taken before it ended */
	struct lsc_res_reading {
		uint64_t t_ns;
		size_t n;
		char type[32][48];
		uint32_t count[32];
		/* its sockets' JS write buffers: in all, the most on one, how many want 'drain' */
		int has_writable;
		uint64_t writable, writable_max;
		uint32_t need_drain;
	} res[4];
	unsigned nres;	      /* readings so far: res[nres % 4] is the next one's */
	uint64_t res_read_ns; /* the main thread's time on them */
};
extern struct lsc_writer lsc__W;

/* writer.c: the output buffer, the stack table, the per-cycle totals */
void lsc__w_put(const Loopscope__Record *r);
uint32_t lsc__w_intern(const uint64_t *f, uint32_t n); /* 0: the table is full */
uint32_t lsc__w_intern_aux(const uint64_t *f, const uint64_t *aux, uint32_t n);
void lsc__w_accumulate(struct acc *v, size_t *n, uint32_t stack, uint32_t tid, uint64_t value);

/* jsmap.c: JS frames named after their function when interned. aux: NULL, or per frame two
 * words (node_frames.c: the SFI, 0 for none, and its print) */
void lsc__js_rewrite(uint64_t *frames, const uint64_t *aux, uint32_t n);
uint64_t lsc__js_dropped(void);
uint64_t lsc__js_func_addr(const char *name, size_t nlen, const char *script, size_t slen,
			   uint32_t line, int v8);

/* node_names.c: the function a JS frame at ip runs (its SFI and print from node_frames.c), NULL
 * when it is not a JS frame or cannot be read; and how many frames were named, not named, and
 * not named because the SFI had moved. */
struct lsc_v8_fn;
const struct lsc_v8_fn *lsc__node_name(uint64_t ip, uint64_t sfi, uint64_t print);
void lsc__node_names_counts(uint64_t *n_named, uint64_t *n_unnamed, uint64_t *n_moved);

/* jsheap.c: V8's sampling heap profile readings (node_heap.c) into JS heap snapshots */
void lsc__jsheap_node(const struct lsc_ev_jsnode *ev, const char *text);
void lsc__jsheap_end(const struct lsc_ev_jsheap_end *ev);
uint64_t lsc__jsheap_read_ns(void), lsc__jsheap_readings(void);

/* stretch.c: a loop thread's latest CPU samples, and those within a busy stretch by stack */
void lsc__stretch_sample(uint32_t tid, int loop, uint64_t t, uint32_t stack);
void lsc__stretch_forget(uint32_t tid);
size_t lsc__stretch_counts(uint32_t tid, uint64_t start, uint64_t end, uint32_t *stacks,
			   uint32_t *counts, size_t cap);

/* records.c */
/* A Thread record for the ring's thread; with role (its LSC_EV_THREAD), what it is. */
void lsc__w_put_thread(struct ring_state *rs, const struct lsc_ev_thread *role, const char *script);
void lsc__w_shutdown_event(void);
void lsc__w_one_record(struct ring_state *rs, uint16_t type, size_t len);
void lsc__w_put_window(struct lsc_loop *L, int slot, const struct lsc_window *w);
int lsc__w_map_one(struct dl_phdr_info *info, size_t size, void *arg);
void lsc__w_file_maps(void);

#endif
