/*
 * attach_internal.h — what attach.c (loading, ticks, stop), attach_records.c (the recording it
 * writes: threads, header, mappings, events, windows), attach_stacks.c (stacks and samples) and
 * attach_js.c (JS frames) share: the attach state and the functions between them.
 */
#ifndef LSC_BPF_ATTACH_INTERNAL_H
#define LSC_BPF_ATTACH_INTERNAL_H

#include "cfi_table.h"
#include "lsc_attach.h"
#include "lsc_error.h"
#include "lsc_recording.h"
#include "lsc_stretch.h"
#include "lsc_unwind.h"
#include "target.h"

#include <linux/types.h>

#include "loop.h"
#include "loop.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#define MAX_NOTES 16

struct stack_entry {
	uint64_t hash;
	uint32_t id, n;
	uint64_t *frames;
};

struct acc {
	uint32_t stack, tid;
	uint64_t value;
};

struct loop_prev {
	uint64_t idle_ns, credit, iterations, long_runq;
	uint64_t hist[2][LSCB_HIST_BUCKETS];
	int written_thread;
};

struct lsc_attach {
	struct lsc_attach_opts o;
	struct loop_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link **perf_links;
	int *perf_fds, ncpus;
	struct lsc_writer *w;
	char exe[4096];
	char *notes[MAX_NOTES + 1];
	int nnotes;
	uint64_t t0, window_start, last_tick;
	struct loop_prev prev[LSCB_MAX_LOOPS];
	/* stacks interned into the recording */
	struct stack_entry *stacks;
	size_t stack_cap;
	uint32_t nstacks;     /* the last id given (ids go on across segments) */
	uint32_t stacks_held; /* stacks in the table (emptied at each segment) */
	struct lsc_writer *tee;
	uint32_t segment; /* the current segment (segmented), from 1 */
	uint64_t segment_start, t0_unix;
	char runtime[128];
	/* blocking time per (stack, thread), written each window; CPU samples unwound here */
	struct acc *blk, *cpu;
	size_t nblk, blk_cap, ncpu, cpu_cap;
	/* the current window's GC and longest blocking call, for the status */
	uint64_t win_gc, win_gc_ns, win_top_ns;
	struct lsc_attach_buckets win_gc_kind[LSC_ATTACH_GC_KINDS];
	uint64_t win_gc_heap_after;
	unsigned win_nblk;
	struct lsc_attach_blocking win_blk[LSC_ATTACH_BLOCKING];
	uint64_t win_blk_other, win_blk_other_ns;
	char win_top[128];
	uint64_t events, write_err;
	int gone;
	int shutdown_written, shutdown_split;
	struct lsc_unwinder *unw; /* NULL when elfutils cannot read the target */
	struct lsc_cfi_table cfi; /* the hybrid unwinder's rows (attach_stacks.c) */
	uint64_t roots[3][2];	  /* stacks per kind (CPU, off-CPU ns, blocking): all, rooted */
	struct lsc_at_js *js;	  /* Node.js: JS frames named from V8's objects (attach_js.c) */
	struct lsc_at_pool *pool; /* the pool's waits and submitters (attach_pool.c) */
	/* each loop's latest CPU samples, by its slot (attach_stretch.c) */
	struct lsc_stretch_ring stretch[LSCB_MAX_LOOPS];
	struct lsc_at_sites *sites; /* where handles are made (attach_sites.c); NULL: not probed */
};

/* attach_records.c */
uint64_t lsc__at_mono_ns(void);
void lsc__at_note(struct lsc_attach *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lsc__at_put(struct lsc_attach *a, const Loopscope__Record *r);
void lsc__at_put_thread(struct lsc_attach *a, uint32_t tid, int loop);
void lsc__at_put_header(struct lsc_attach *a);
void lsc__at_put_mappings(struct lsc_attach *a);
int lsc__at_on_event(void *ctx, void *data, size_t len);
void lsc__at_put_shutdown(struct lsc_attach *a, uint64_t at, uint32_t sig);
void lsc__at_close_window(struct lsc_attach *a, uint64_t now, struct lsc_attach_status *st);

/* attach_stacks.c */
void lsc__at_cfi_open(struct lsc_attach *a);
void lsc__at_cfi_load(struct lsc_attach *a);
uint32_t lsc__at_intern(struct lsc_attach *a, const uint64_t *f, uint32_t n, uint32_t nkernel);
void lsc__at_forget_stacks(struct lsc_attach *a);
void lsc__at_accumulate(struct acc **v, size_t *n, size_t *cap, uint32_t stack, uint32_t tid,
			uint64_t value);
void lsc__at_put_samples(struct lsc_attach *a, int kind, struct acc *v, size_t n, uint64_t period);
void lsc__at_sample(struct lsc_attach *a, const struct lscb_jsample *j);
void lsc__at_dwarf_sample(struct lsc_attach *a, const struct lscb_event *e);
uint32_t lsc__at_blocking_stack(struct lsc_attach *a, const struct lscb_event *e);
void lsc__at_put_offcpu_samples(struct lsc_attach *a);
const uint64_t *lsc__at_submit_frames(struct lsc_attach *a, const struct lscb_submit *s,
				      uint64_t *buf, uint32_t *n);
size_t lsc__at_stack_counters(struct lsc_attach *a, Loopscope__Counter *c, size_t cap);

/* attach_stretch.c */
void lsc__at_stretch_sample(struct lsc_attach *a, uint32_t tid, uint64_t t, uint32_t stack);
void lsc__at_stretch(struct lsc_attach *a, const struct lscb_stretch *s);
void lsc__at_stretch_forget(struct lsc_attach *a);

/* attach_sites.c */
void lsc__at_sites_open(struct lsc_attach *a);
void lsc__at_sites_close(struct lsc_attach *a);
void lsc__at_site_event(struct lsc_attach *a, const struct lscb_submit *s);
size_t lsc__at_sites_window(struct lsc_attach *a, const struct lscb_loop *L,
			    Loopscope__HandleSite *hs, Loopscope__HandleSite **hsp, size_t cap);

/* attach_js.c */
void lsc__at_js_open(struct lsc_attach *a, Elf *elf, uint64_t bias);
void lsc__at_js_close(struct lsc_attach *a);
uint32_t lsc__at_js_name(struct lsc_attach *a, const uint64_t *ips, const uint64_t *sfis,
			 const uint64_t *prints, uint32_t n, uint64_t *out);
size_t lsc__at_js_counters(struct lsc_attach *a, Loopscope__Counter *c, size_t cap);

/* attach_pool.c */
void lsc__at_pool_open(struct lsc_attach *a, Elf *elf, uint64_t bias, const struct want *submit,
		       const struct want *queue);
void lsc__at_pool_close(struct lsc_attach *a);
void lsc__at_pool_sample(struct lsc_attach *a, const struct lscb_submit *s);
void lsc__at_pool_window(struct lsc_attach *a, Loopscope__Window *pw, Loopscope__Histogram *h,
			 struct lsc_attach_status *st);
void lsc__at_pool_stop(struct lsc_attach *a);
size_t lsc__at_pool_counters(struct lsc_attach *a, Loopscope__Counter *c, size_t cap);

#endif
