/*
 * loop.h — what the eBPF programs (loop.bpf.c) and their loader (attach.c) share: the per-loop
 * counters the kernel side accumulates and user space reads once a window, and the events it
 * sends through the ring buffer. Plain fixed-width types so that both compilers agree.
 */
#ifndef LSC_BPF_LOOP_H
#define LSC_BPF_LOOP_H

#define LSCB_MAX_LOOPS	   4
#define LSCB_HIST_SUB_BITS 8 /* as formats/lsc_hist.h */
#define LSCB_HIST_HALF	   (1u << (LSCB_HIST_SUB_BITS - 1))
#define LSCB_HIST_BUCKETS  ((1u << LSCB_HIST_SUB_BITS) + (64 - LSCB_HIST_SUB_BITS) * LSCB_HIST_HALF)
#define LSCB_HANDLE_TYPES  20
#define LSCB_MAX_FRAMES	   128
#define LSCB_STACK_CHUNK   1024
#define LSCB_STACK_COPY	   16384 /* the top of the user stack, for unwinding in user space */
#define LSCB_LAG_PERIOD_NS 1000000ULL
#define LSCB_MERGE_GAP_NS  50000ULL /* Node's timeout-0 check then wait: one iteration */

enum { LSCB_HIST_BUSY = 0, LSCB_HIST_LAG = 1 };
#define LSCB_LONG_BUSY_NS 10000000ULL /* a long busy segment (the agent's stretch) */

/* Alive handles of one type made at one site: site is the user stack's id in the stacks map at
 * the handle's uv_*_init call (sites.bpf.h), -1 when it was made before the probes were. */
#define LSCB_SITES 8
struct lscb_site {
	__s32 site;
	__u32 type, count, pad;
};

/* One loop (a thread polling epoll), cumulative since attach; written by its thread only. */
struct lscb_loop {
	__u32 tid;
	__u32 in_wait;	/* in a blocking epoll wait since wait_enter_ns */
	__u64 first_ns; /* its first poll: its first window starts there */
	__u64 last_ns;	/* its latest poll entry or return: where its last window ends */
	__u64 wait_enter_ns;
	__u64 idle_ns; /* time blocked in epoll waits that ended */
	__u64 iterations;
	__u64 syscalls, syscall_ns; /* other syscalls while busy */
	__u64 blocking;		    /* of those, over the threshold */
	/* thread pool, sampled at epoll entries (main loop only) */
	__u32 pool_depth, pool_depth_max; /* max since user space last reset it */
	__u32 pool_threads, pool_busy_max;
	__u64 pool_samples;
	/* handles, read every 100 ms and before the loop waits (main loop only), handles_walk_ns
	 * the last walk's own time */
	__u64 handles_at_ns, handles_walk_ns;
	__u32 active_handles, active_reqs;
	__u32 handles[LSCB_HANDLE_TYPES];
	__u32 handles_known, pad;
	/* busy segments of 10 ms or more: the time in them runnable, not running (preempted) */
	__u64 long_busy_runq_ns;
	/* the streams' write queues (TCP, pipes, TTYs) at the last handle walk: in all, on one */
	__u64 write_queued, write_queued_max;
	/* of the handles, those active and referenced (what keeps the loop alive), by type */
	__u32 alive[LSCB_HANDLE_TYPES];
	/* and where those were made (sites.bpf.h), by type and site: the first LSCB_SITES pairs
	 * the walk met; the alive handles beyond them counted in sites_other */
	struct lscb_site sites[LSCB_SITES];
	__u32 nsites, sites_other;
};

/* The ring buffer's records; woken never (BPF_RB_NO_WAKEUP): user space drains it every 100 ms. */
enum {
	LSCB_EV_BLOCKING = 1,
	LSCB_EV_GC = 2,
	LSCB_EV_CPU = 3,    /* --stacks dwarf: result = kstack id */
	LSCB_EV_JSCPU = 4,  /* Node.js: a CPU sample with its JS frames' SharedFunctionInfos */
	LSCB_EV_STRETCH = 5 /* a long busy segment of a loop (struct lscb_stretch) */
};

/* A busy segment of LSCB_LONG_BUSY_NS or more, sent as the loop polls again (after the CPU
 * samples taken in it): user space counts those by stack, as the agent's "(busy loop)" events.
 * The scheduler's figures over it: run-queue delay (exact), time on CPU (sum_exec_runtime). */
struct lscb_stretch {
	__u32 type, tid;
	__u64 t_ns; /* its start, CLOCK_MONOTONIC */
	__u64 dur_ns;
	__u64 runq_ns, cpu_ns;
	__u32 sched_known, pad;
};

/* What a SharedFunctionInfo held when a stack was sampled, to know it later: its
 * name_or_scope_info and script_or_debug_info words, mixed. User space names the frame only if
 * the object at that address still holds them (a compacting GC may have moved it since). */
#define LSCB_SFI_PRINT(nos, sod) ((nos)*0x9e3779b97f4a7c15ULL ^ (sod))

struct lscb_event {
	__u32 type, tid;
	__u64 t_ns; /* start, CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 dur_ns;
	__s64 result; /* syscall return */
	__u32 nr;     /* syscall number; GC: collector kind (loopscope.proto GcEvent.Kind) */
	__u32 nframes;
	__u64 heap_before, heap_after, rss_bytes; /* GC */
	/* blocking: the scheduler's figures during the call (run-queue delay, time on CPU as the
	 * task's sum_exec_runtime says it, times it got the CPU back) */
	__u64 runq_ns, cpu_ns;
	__u32 switches, sched_known;
	__u64 frames[LSCB_MAX_FRAMES]; /* user stack, leaf first */
	/* blocking: the registers an unwinder starts from (DWARF order: rbx, rbp, rsp, r12-r15,
	 * rip) and the top of the stack, LSCB_STACK_CHUNK-aligned chunks from the one holding
	 * rsp: rsp is at stack[stack_skip], the copy ends at stack[stack_len] */
	__u64 regs[8];
	__u32 stack_len, stack_skip;
	__u64 sfis[LSCB_MAX_FRAMES];   /* Node.js: the SharedFunctionInfo of a JS frame, else 0 */
	__u64 prints[LSCB_MAX_FRAMES]; /* and its LSCB_SFI_PRINT */
	__u8 stack[LSCB_STACK_COPY];
};

/* A CPU sample (LSCB_EV_JSCPU, of any target since the hybrid walk): the user stack walked in the
 * kernel (frame pointers and the CFI table), with, for Node.js, what each frame holds where V8
 * keeps a JS frame's function (its SharedFunctionInfo, tagged; 0: none). */
struct lscb_jsample {
	__u32 type, tid;
	__u64 t_ns;
	__s32 kstack;
	__u32 n;
	__u64 ips[LSCB_MAX_FRAMES];
	__u64 sfis[LSCB_MAX_FRAMES];
	__u64 prints[LSCB_MAX_FRAMES];
};

/*
 * The hybrid unwinder's table (cfi_table.c builds it from the modules' CFI; the stack walk in
 * loop.bpf.c reads it): rows sorted by pc, each in force from its pc up to the next row's. Code
 * with no row (JIT code, code that keeps frame pointers) is walked by frame pointers.
 */
enum {
	LSCB_UW_FP = 0,	   /* frame pointers: CFA = rbp + 16, rbp saved at CFA - 16 */
	LSCB_UW_CFA = 1,   /* CFA = reg + cfa_off */
	LSCB_UW_DEREF = 2, /* CFA = *(reg + cfa_off) + add (OpenSSL's assembly: a saved rsp) */
	LSCB_UW_ROOT = 3,  /* the return address is undefined: the thread's first frame */
	LSCB_UW_STOP = 4,  /* a rule the walk does not follow (an expression, say) */
	LSCB_UW_SIGNAL = 5 /* a signal handler's return (__restore_rt): the interrupted rsp, rip at
			    * rsp + cfa_off, + 8; its rbp at rsp + rbp_off */
};
/* Where the caller's rbp is: kept (the ABI has callees keep it), saved at CFA + rbp_off, saved at
 * rbp + rbp_off (a realigned frame), or lost. */
enum { LSCB_UW_RBP_SAME = 0, LSCB_UW_RBP_CFA = 1, LSCB_UW_RBP_RBP = 2, LSCB_UW_RBP_LOST = 3 };

struct lscb_uw_row {
	__u64 pc;
	__s32 cfa_off;
	__s16 rbp_off;
	__u8 kind; /* bits 0-3 LSCB_UW_*, bits 4-5 LSCB_UW_RBP_* */
	__u8 reg;  /* bits 0-3 the CFA's DWARF register (7 rsp, 6 rbp), bits 4-7 LSCB_UW_DEREF's add
		      / 8 */
};
#define LSCB_UW_KIND(r)	 ((r)->kind & 15)
#define LSCB_UW_RBP(r)	 ((r)->kind >> 4 & 3)
#define LSCB_UW_REG(r)	 ((r)->reg & 15)
#define LSCB_UW_ADD(r)	 (((r)->reg >> 4) * 8)
#define LSCB_UW_MAX_ROWS (1u << 22) /* 64 MiB of rows at most; bounds the walk's search */

/* The rows' index, so that finding a row takes a few steps: the modules that have rows, sorted,
 * and for each 4 KiB page of a module, how many rows begin at or before the page's start (in
 * uw_pages, from page0: npages + 1 entries, the last at the module's end). */
#define LSCB_UW_MAX_OBJS   256
#define LSCB_UW_PAGE_SHIFT 12
struct lscb_uw_obj {
	__u64 lo, hi;
	__u32 page0, npages;
};

/* Off-CPU time (--offcpu), per (thread, kernel stack, user stack by its hash). */
struct lscb_off_key {
	__u32 tid;
	__s32 kstack;
	__u64 hash;
};

struct lscb_off_value {
	__u64 ns;
	__u32 n, pad;
	__u64 frames[LSCB_MAX_FRAMES];
};

/* A job submitted to libuv's thread pool (pool.bpf.h), with the submitting thread's stack walked
 * as js_stack walks it (sfis 0 but for a Node.js JS frame); it stands for weight jobs. */
enum { LSCB_EV_POOL_SUBMIT = 16 };

/* A new site that makes libuv handles (sites.bpf.h): a struct lscb_submit whose weight is the
 * site's id (the stacks map's id of the stack at the uv_*_init call, as handle_sites holds it),
 * with the stack walked as a submission's, JS frames and all. Sent once per site. */
enum { LSCB_EV_HANDLE_SITE = 17 };

struct lscb_submit {
	__u32 type, tid;
	__u64 t_ns;
	__u32 weight;
	__u32 n;
	__u64 ips[LSCB_MAX_FRAMES];
	__u64 sfis[LSCB_MAX_FRAMES];
	__u64 prints[LSCB_MAX_FRAMES];
};

#endif
