// SPDX-License-Identifier: GPL-2.0
/*
 * loop.bpf.c — loopscope's eBPF programs for one target process (target_tgid):
 *  - the event loop from epoll syscalls (tp_btf sys_enter/sys_exit: about 0.14 µs on every syscall
 *    of the machine and as much again on a loop thread's, docs/performance.md; never a uprobe on
 *    a per-iteration path): ELU (time blocked in epoll waits), iterations, busy
 *    segments and the lag a 1 ms repeating timer would see, as histograms in the kernel — the
 *    same accounting as the agent's agent/loop.c;
 *  - syscalls a loop thread makes while busy: counted, and those over the threshold sent to user
 *    space with their user stack;
 *  - the libuv thread pool's queue depth and busy workers (walking the static `wq` list) and the
 *    loop's handles by type (walking `handle_queue`), read from the main loop's epoll entries;
 *    each job's queue wait and who submits jobs (pool.bpf.h, included at the end);
 *  - CPU samples (perf_event), counted per (thread, user stack, kernel stack);
 *  - GC pauses: refloop's USDT probes, or uprobes on V8's GCTracer in Node.js, with the RSS.
 * Everything is aggregated here; user space reads the totals once a window.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "loop.h"

/* x86-64 numbers. A 32-bit (ia32) task's syscalls arrive with ia32 numbers (epoll_wait 256,
 * epoll_pwait 319): its loop is not seen, except through epoll_pwait2 (441 in both tables), and
 * its blocking calls would be misnamed; no Node.js or refloop build is 32-bit. x32 numbers carry
 * bit 30 (__X32_SYSCALL_BIT) and match nothing here (the ABI is rarely configured). */
#define NR_EPOLL_WAIT	232
#define NR_EPOLL_PWAIT	281
#define NR_EPOLL_PWAIT2 441

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 target_tgid;
const volatile __u64 block_threshold_ns = 1000000;
const volatile __u64 addr_wq, addr_slow_marker, addr_slow_wq, addr_idle_threads, addr_nthreads;
const volatile __u64 addr_default_loop;
const volatile __u32 cpu_dwarf; /* --stacks dwarf: CPU samples go to user space with the stack */
const volatile __u32 cpu_fp;	/* --stacks fp: CPU samples walked by frame pointers only */
/* Node.js (bpf/v8.h): where a JS frame keeps its JSFunction and context, relative to its frame
 * pointer, and where a JSFunction keeps its SharedFunctionInfo; v8_on 0: not a V8 target. */
const volatile __u32 v8_on;
const volatile __s32 v8_fp_function = -16, v8_fp_context = -8;
const volatile __u32 v8_fn_shared = 24, v8_sfi_nos = 16, v8_sfi_sod = 32;
/* Set by the loader just before the programs attach (so .bss, not .rodata): a wait already in
 * progress then counts as idle from here, where the recording's first window begins. */
__u64 attach_ns;

/* Read by the loader (mmap'd .bss). */
struct lscb_loop loops[LSCB_MAX_LOOPS];
__u64 hist[LSCB_MAX_LOOPS][2][LSCB_HIST_BUCKETS];
__u32 nloops;
__u64 dropped_events;
/* the handles' makers are probed (sites.bpf.h; set by user space once they are attached) */
__u32 sites_on;
/* The first SIGTERM, SIGINT or SIGHUP delivered to a handler of the target's own: it begins to
 * stop (its drain). 0: not yet. */
__u64 shutdown_ns;
__u32 shutdown_sig;

struct thread_state {
	__u32 slot;
	__u32 in_poll, timeout_nz, after_empty_check;
	__u64 enter_ns, busy_start_ns, next_due_ns, last_fire_ns;
	__u64 sys_enter_ns, pool_at_ns, pool_head[2];
	__u64 sys_runq0, sys_cpu0; /* at the syscall's entry: sched_info.run_delay, sum_exec */
	__u64 sys_pcount0;
	__u64 seg_runq0, seg_cpu0; /* sched_info.run_delay, sum_exec when the busy segment began */
	__s64 sys_nr;
	__u64 gc_start_ns;
	__u32 gc_kind, timeout_ms; /* the epoll wait's timeout; 0: none known (or infinite) */
	/* --offcpu: when it left the CPU, and where */
	__u64 off_ns;
	__s32 off_kstack;
	__u32 off_n;
	__u64 off_frames[LSCB_MAX_FRAMES];
};

/* Per thread, in the task itself: a lookup on every syscall of the target costs a pointer
 * dereference, not a hash. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

static __always_inline struct thread_state *thread_get(int create)
{
	return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

static __always_inline int is_target(__u32 *tid)
{
	__u64 pt = bpf_get_current_pid_tgid();

	*tid = (__u32)pt;
	return (pt >> 32) == target_tgid;
}

/* ------------------------------------------------------------------ histograms */

static __always_inline __u32 msb64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* formats/lsc_hist.c's lsc_hist_index */
static __always_inline __u32 hist_index(__u64 v)
{
	__u32 m, shift, idx;

	if (v < (1u << LSCB_HIST_SUB_BITS))
		return (__u32)v;
	m = msb64(v);
	shift = m - (LSCB_HIST_SUB_BITS - 1);
	idx = (1u << LSCB_HIST_SUB_BITS) + (shift - 1) * LSCB_HIST_HALF +
	      (__u32)((v >> shift) - LSCB_HIST_HALF);
	return idx < LSCB_HIST_BUCKETS ? idx : LSCB_HIST_BUCKETS - 1;
}

static __always_inline void hist_add(__u32 slot, int kind, __u64 v, __u64 n)
{
	__u32 idx = hist_index(v);

	if (slot >= LSCB_MAX_LOOPS || idx >= LSCB_HIST_BUCKETS)
		return;
	hist[slot][kind & 1][idx] += n;
}

/* ------------------------------------------------------------------ the pool and the handles */

struct walk {
	__u64 node, head, skip;
	__u32 count, done;
};

static long walk_step(__u32 i, struct walk *w)
{
	__u64 next;

	if (w->node == w->head || !w->node) {
		w->done = 1;
		return 1;
	}
	if (w->node != w->skip)
		w->count++;
	/* A node a worker has just taken points at itself (QUEUE_INIT after the removal): the
	 * list moved under the walk, which is then not counted. */
	if (bpf_probe_read_user(&next, sizeof(next), (void *)w->node) || next == w->node)
		return 1;
	w->node = next;
	return 0;
}

/* Entries of a libuv queue (uv__queue / QUEUE: the next pointer first), skip left out; -1 when
 * the queue changed under the walk (it is not locked). */
static __always_inline int queue_length(__u64 head, __u64 skip)
{
	struct walk w = {.head = head, .skip = skip};

	if (!head)
		return 0;
	if (bpf_probe_read_user(&w.node, sizeof(w.node), (void *)head))
		return -1;
	bpf_loop(65536, walk_step, &w, 0);
	return w.done ? (int)w.count : -1;
}

static __always_inline void pool_track(struct thread_state *t, __u64 now, __u32 idle);

static __always_inline void pool_sample(struct lscb_loop *L, struct thread_state *t, __u64 now)
{
	__u64 head[2] = {};
	__u32 idle = 0, n = 0, depth;
	int fast, slow;

	if (!addr_wq)
		return;
	/* The queue's two ends: unchanged, nothing was queued since the last walk (jobs taken
	 * only lower the depth), so the walk waits; changed, the walk is due now, right after the
	 * callback that queued, when the depth is highest. At least every 10 ms for the busy
	 * workers. */
	if (bpf_probe_read_user(head, sizeof(head), (void *)addr_wq))
		return;
	if (head[0] == t->pool_head[0] && head[1] == t->pool_head[1] &&
	    now - t->pool_at_ns < 10000000)
		return;
	/* each job's wait (pool.bpf.h) */
	bpf_probe_read_user(&idle, sizeof(idle), (void *)addr_idle_threads);
	pool_track(t, now, idle);
	fast = queue_length(addr_wq, addr_slow_marker);
	slow = queue_length(addr_slow_wq, 0);
	if (fast < 0 || slow < 0)
		return; /* try again at the next poll */
	t->pool_at_ns = now;
	t->pool_head[0] = head[0];
	t->pool_head[1] = head[1];
	depth = (__u32)(fast + slow);
	bpf_probe_read_user(&idle, sizeof(idle), (void *)addr_idle_threads);
	bpf_probe_read_user(&n, sizeof(n), (void *)addr_nthreads);
	L->pool_depth = depth;
	if (depth > L->pool_depth_max)
		L->pool_depth_max = depth;
	if (n) /* libuv's teardown at exit sets it to 0: the pool's size is what it was */
		L->pool_threads = n;
	if (n >= idle && n - idle > L->pool_busy_max)
		L->pool_busy_max = n - idle;
	L->pool_samples++;
}

/* Where each handle was made: its address -> the site id (sites.bpf.h fills it at the handle's
 * uv_*_init call; the walk below reads it for the alive handles). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __s32);
} handle_sites SEC(".maps");

struct hwalk {
	__u64 node, head;
	__u64 queued, queued_max;
	__u32 counts[LSCB_HANDLE_TYPES];
	__u32 alive[LSCB_HANDLE_TYPES];
	struct lscb_site sites[LSCB_SITES];
	__u32 nsites, sites_other;
};

/* An alive handle of type at h, counted with the others made where it was. */
static __always_inline void site_count(struct hwalk *w, __u64 h, __u32 type)
{
	__s32 *s = bpf_map_lookup_elem(&handle_sites, &h), site = s ? *s : -1;
	__u32 j;

	for (j = 0; j < LSCB_SITES; j++) {
		if (j == w->nsites) {
			w->sites[j].site = site;
			w->sites[j].type = type;
			w->sites[j].count = 1;
			w->nsites++;
			return;
		}
		if (w->sites[j].site == site && w->sites[j].type == type) {
			w->sites[j].count++;
			return;
		}
	}
	w->sites_other++;
}

static long handle_step(__u32 i, struct hwalk *w)
{
	__s32 type = 0;
	__u32 flags = 0;

	if (w->node == w->head || !w->node)
		return 1;
	/* uv_handle_t: type at +16, handle_queue at +32 (uv.h 1.44 and node's 1.46 agree) */
	bpf_probe_read_user(&type, sizeof(type), (void *)(w->node - 32 + 16));
	/* flags at +88: libuv 1.x's UV_HANDLE_ACTIVE (4) and UV_HANDLE_REF (8); read before the
	 * index is checked, so that the check holds where it is used */
	bpf_probe_read_user(&flags, sizeof(flags), (void *)(w->node - 32 + 88));
	if (type >= 0 && type < LSCB_HANDLE_TYPES) {
		w->counts[type]++;
		if ((flags & 0xc) == 0xc) {
			w->alive[type]++;
			if (sites_on)
				site_count(w, w->node - 32, (__u32)type);
		}
	}
	/* a stream (UV_NAMED_PIPE 7, UV_TCP 12, UV_TTY 14): its write_queue_size, the first
	 * field after uv_handle_t's 96 bytes: what libuv holds for a slow reader */
	if (type == 7 || type == 12 || type == 14) {
		__u64 q = 0;

		bpf_probe_read_user(&q, sizeof(q), (void *)(w->node - 32 + 96));
		w->queued += q;
		if (q > w->queued_max)
			w->queued_max = q;
	}
	if (bpf_probe_read_user(&w->node, sizeof(w->node), (void *)w->node))
		return 1;
	return 0;
}

/*
 * The main loop's handles, walked every 100 ms at an epoll entry, and at one where the loop is
 * about to wait (timeout not 0): a loop that goes quiet keeps the state it went quiet with, not
 * its state up to 100 ms before (ten clients connected, then nothing: eleven TCP handles, not
 * eight). Never sooner than 20 ms after the last walk, nor than 100 times the last walk's own
 * time: at most 1 % of the loop thread however many handles it has.
 */
#define HANDLES_EVERY_NS 100000000ULL
#define HANDLES_GAP_NS	 20000000ULL

static __always_inline void handles_sample(struct lscb_loop *L, __u64 now, int will_wait)
{
	struct hwalk w = {};
	__u32 i, v[2] = {};
	__u64 since = now - L->handles_at_ns, gap = 100 * L->handles_walk_ns;

	if (gap < HANDLES_GAP_NS)
		gap = HANDLES_GAP_NS;
	if (!addr_default_loop || since < gap || (since < HANDLES_EVERY_NS && !will_wait))
		return;
	L->handles_at_ns = now;
	/* uv_loop_t: active_handles +8, handle_queue +16, active_reqs.count +32 */
	bpf_probe_read_user(&v[0], sizeof(v[0]), (void *)(addr_default_loop + 8));
	bpf_probe_read_user(&v[1], sizeof(v[1]), (void *)(addr_default_loop + 32));
	w.head = addr_default_loop + 16;
	if (bpf_probe_read_user(&w.node, sizeof(w.node), (void *)w.head))
		return;
	bpf_loop(65536, handle_step, &w, 0);
	L->handles_walk_ns = bpf_ktime_get_ns() - now;
	L->active_handles = v[0];
	L->active_reqs = v[1];
	for (i = 0; i < LSCB_HANDLE_TYPES; i++) {
		L->handles[i] = w.counts[i];
		L->alive[i] = w.alive[i];
	}
	L->write_queued = w.queued;
	L->write_queued_max = w.queued_max;
	for (i = 0; i < LSCB_SITES; i++)
		L->sites[i] = w.sites[i];
	L->nsites = w.nsites;
	L->sites_other = w.sites_other;
	L->handles_known = 1;
}

#include "stack.bpf.h"

/* ------------------------------------------------------------------ the loop */

/* A target task's loop state, making it a loop when it is not yet one: a slot of its own, the
 * busy segment and the 1 ms timer started at now. NULL when no slot is left. */
static __always_inline struct thread_state *loop_task(struct task_struct *task, __u32 tid,
						      __u64 now)
{
	struct thread_state *t = bpf_task_storage_get(&threads, task, 0, 0);
	__u32 slot;

	/* slot: a loop's index; LSCB_MAX_LOOPS, a thread seen for GC only so far; one more, a
	 * loop that found no slot left */
	if (t && t->slot < LSCB_MAX_LOOPS)
		return t;
	if (t && t->slot == LSCB_MAX_LOOPS + 1)
		return NULL;
	t = bpf_task_storage_get(&threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t)
		return NULL;
	slot = __sync_fetch_and_add(&nloops, 1);
	if (slot >= LSCB_MAX_LOOPS) {
		t->slot = LSCB_MAX_LOOPS + 1;
		return NULL;
	}
	loops[slot].first_ns = now;
	loops[slot].tid = tid;
	t->slot = slot;
	t->busy_start_ns = now;
	t->next_due_ns = now + LSCB_LAG_PERIOD_NS;
	t->last_fire_ns = now;
	t->sys_nr = -1;
	return t;
}

static __always_inline struct thread_state *loop_thread(__u32 tid, __u64 now)
{
	return loop_task(bpf_get_current_task_btf(), tid, now);
}

static __always_inline void fire(struct thread_state *t, __u64 now)
{
	hist_add(t->slot, LSCB_HIST_LAG, now - t->last_fire_ns, 1);
	t->last_fire_ns = now;
	t->next_due_ns = now + LSCB_LAG_PERIOD_NS;
}

/* A long busy segment ended: its run-queue delay into the loop's sum, and the segment to user
 * space (struct lscb_stretch). */
static __always_inline void long_segment(struct lscb_loop *L, struct thread_state *t, __u32 tid,
					 __u64 busy)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 rd = task->sched_info.run_delay, cpu = task->se.sum_exec_runtime;
	struct lscb_stretch *s;

	if (rd >= t->seg_runq0)
		L->long_busy_runq_ns += rd - t->seg_runq0 < busy ? rd - t->seg_runq0 : busy;
	s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	if (!s) {
		__sync_fetch_and_add(&dropped_events, 1);
		return;
	}
	s->type = LSCB_EV_STRETCH;
	s->tid = tid;
	s->t_ns = t->busy_start_ns;
	s->dur_ns = busy;
	s->sched_known = rd >= t->seg_runq0 && cpu >= t->seg_cpu0 && t->seg_cpu0;
	s->runq_ns = rd >= t->seg_runq0 ? rd - t->seg_runq0 : 0;
	s->cpu_ns = cpu >= t->seg_cpu0 ? cpu - t->seg_cpu0 : 0;
	s->pad = 0;
	bpf_ringbuf_submit(s, BPF_RB_NO_WAKEUP);
}

static __always_inline void poll_enter(__u32 tid, struct thread_state *t, __u64 now, int timeout)
{
	__u64 busy = now > t->busy_start_ns ? now - t->busy_start_ns : 0;
	int pair = t->after_empty_check && busy < LSCB_MERGE_GAP_NS;
	__u32 slot = t->slot;
	struct lscb_loop *L;

	if (slot >= LSCB_MAX_LOOPS)
		return;
	L = &loops[slot];
	L->last_ns = now;
	t->enter_ns = now;
	t->in_poll = 1;
	t->timeout_nz = timeout != 0;
	t->timeout_ms = timeout > 0 ? (__u32)timeout : 0;
	t->after_empty_check = 0;
	if (!pair) {
		L->iterations++;
		hist_add(slot, LSCB_HIST_BUSY, busy, 1);
		if (busy >= LSCB_LONG_BUSY_NS) /* how much of a long one it waited for a CPU */
			long_segment(L, t, tid, busy);
		if (t->next_due_ns <= now)
			fire(t, now);
	}
	if (timeout != 0) {
		L->wait_enter_ns = now;
		L->in_wait = 1;
	}
	if (tid == target_tgid) {
		pool_sample(L, t, now);
		handles_sample(L, now, timeout != 0);
	}
}

/* The wait ended for task (current at a syscall's exit; the task switched in, under the
 * switch probes). */
static __always_inline void poll_exit(struct thread_state *t, __u64 now, long ret,
				      struct task_struct *task)
{
	__u32 slot = t->slot;
	struct lscb_loop *L;
	__u64 n, wake;

	if (slot >= LSCB_MAX_LOOPS)
		return;
	L = &loops[slot];
	L->last_ns = now;
	t->in_poll = 0;
	t->busy_start_ns = now;
	t->seg_runq0 = task->sched_info.run_delay;
	t->seg_cpu0 = task->se.sum_exec_runtime;
	if (!t->timeout_nz) {
		t->after_empty_check = ret == 0;
		return;
	}
	L->in_wait = 0;
	if (now > t->enter_ns)
		L->idle_ns += now - t->enter_ns;
	/* Waiting in epoll, the timer would have woken the loop on time, once per period, up to
	 * when the wait was to end. One that returned after its timeout (runnable, not running: a
	 * busy machine) leaves the timer due from then on: it runs at the next poll boundary,
	 * late (agent/loop.c the same). */
	wake = now;
	if (t->timeout_ms && t->enter_ns + (__u64)t->timeout_ms * 1000000ULL < now)
		wake = t->enter_ns + (__u64)t->timeout_ms * 1000000ULL;
	if (t->next_due_ns <= wake) {
		n = (wake - t->next_due_ns) / LSCB_LAG_PERIOD_NS + 1;
		hist_add(slot, LSCB_HIST_LAG, LSCB_LAG_PERIOD_NS, n);
		t->last_fire_ns = t->next_due_ns + (n - 1) * LSCB_LAG_PERIOD_NS;
		t->next_due_ns = t->last_fire_ns + LSCB_LAG_PERIOD_NS;
	}
}

static __always_inline int epoll_timeout(struct pt_regs *regs, long id)
{
	struct __kernel_timespec ts = {};
	void *p;

	if (id != NR_EPOLL_PWAIT2)
		return (int)regs->r10;
	p = (void *)regs->r10;
	if (!p)
		return -1;
	if (bpf_probe_read_user(&ts, sizeof(ts), p))
		return -1;
	return ts.tv_sec || ts.tv_nsec ? 1 : 0;
}

/* The current task's scheduler figures: run-queue delay (complete while it runs), time on CPU
 * (sum_exec_runtime: updated at switches and ticks) and the times it got a CPU. */
static __always_inline void sched_now(__u64 *runq, __u64 *cpu, __u64 *pcount)
{
	struct task_struct *task = bpf_get_current_task_btf();

	*runq = task->sched_info.run_delay;
	*cpu = task->se.sum_exec_runtime;
	*pcount = task->sched_info.pcount;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(on_signal, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	__u32 tid;

	if (!is_target(&tid) || shutdown_ns || (sig != 1 && sig != 2 && sig != 15))
		return 0;
	/* a handler of its own: not SIG_DFL (0), not SIG_IGN (1) */
	if ((unsigned long)ka->sa.sa_handler <= 1)
		return 0;
	shutdown_sig = (__u32)sig;
	shutdown_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct thread_state *t;
	__u64 now;
	__u32 tid;

	if (!is_target(&tid))
		return 0;
	if (id == NR_EPOLL_WAIT || id == NR_EPOLL_PWAIT || id == NR_EPOLL_PWAIT2) {
		now = bpf_ktime_get_ns();
		t = loop_thread(tid, now);
		if (t)
			poll_enter(tid, t, now, epoll_timeout(regs, id));
		return 0;
	}
	/* the target's other threads (the pool's) stop here, before reading the clock */
	t = thread_get(0);
	if (!t || t->slot >= LSCB_MAX_LOOPS || t->in_poll)
		return 0;
	t->sys_enter_ns = bpf_ktime_get_ns();
	t->sys_nr = id;
	sched_now(&t->sys_runq0, &t->sys_cpu0, &t->sys_pcount0);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct thread_state *t;
	struct lscb_event *e;
	struct lscb_loop *L;
	__u64 now, dur;
	__u32 tid, slot;

	if (!is_target(&tid))
		return 0;
	t = thread_get(0);
	if ((!t || t->slot >= LSCB_MAX_LOOPS)) {
		long nr = regs->orig_ax;

		/* A loop that was waiting in epoll when attach began, seen first as it returns:
		 * its wait is idle time since attach. */
		if (nr != NR_EPOLL_WAIT && nr != NR_EPOLL_PWAIT && nr != NR_EPOLL_PWAIT2)
			return 0;
		t = loop_thread(tid, attach_ns);
		if (!t || t->slot >= LSCB_MAX_LOOPS)
			return 0;
		t->in_poll = 1;
		t->timeout_nz = 1;
		t->timeout_ms = 0;
		t->enter_ns = attach_ns;
	}
	now = bpf_ktime_get_ns();
	if (t->in_poll) {
		poll_exit(t, now, ret, bpf_get_current_task_btf());
		return 0;
	}
	if (t->sys_nr < 0 || !t->sys_enter_ns)
		return 0;
	slot = t->slot;
	if (slot >= LSCB_MAX_LOOPS)
		return 0;
	L = &loops[slot];
	dur = now - t->sys_enter_ns;
	L->syscalls++;
	L->syscall_ns += dur;
	if (dur >= block_threshold_ns) {
		L->blocking++;
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			__sync_fetch_and_add(&dropped_events, 1);
		} else {
			e->type = LSCB_EV_BLOCKING;
			e->tid = tid;
			e->t_ns = t->sys_enter_ns;
			e->dur_ns = dur;
			e->result = ret;
			e->nr = (__u32)t->sys_nr;
			e->heap_before = e->heap_after = e->rss_bytes = 0;
			{
				__u64 runq, cpu, pcount;

				sched_now(&runq, &cpu, &pcount);
				e->sched_known = runq >= t->sys_runq0 && cpu >= t->sys_cpu0 &&
						 pcount >= t->sys_pcount0;
				e->runq_ns = runq - t->sys_runq0;
				e->switches = (__u32)(pcount - t->sys_pcount0);
				/* never off the CPU: on it all along (sum_exec lags a tick) */
				e->cpu_ns = e->switches ? cpu - t->sys_cpu0 : dur;
			}
			e->nframes = uw_stack(regs, e->frames, e->sfis, e->prints, 1, 1);
			copy_stack(regs, e);
			bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		}
	}
	t->sys_nr = -1;
	t->sys_enter_ns = 0;
	return 0;
}

/* ------------------------------------------------------------------ CPU samples */

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	/* the user registers: the sample's own when it hit user code, else those saved at the
	 * kernel's entry */
	struct pt_regs *regs = &ctx->regs;
	struct lscb_jsample *j;
	__u32 tid;

	if (!is_target(&tid))
		return 0;
	if ((BPF_CORE_READ(regs, cs) & 3) != 3)
		regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (cpu_dwarf) {
		struct lscb_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

		if (!e) {
			__sync_fetch_and_add(&dropped_events, 1);
			return 0;
		}
		e->type = LSCB_EV_CPU;
		e->tid = tid;
		e->t_ns = bpf_ktime_get_ns();
		e->dur_ns = e->heap_before = e->heap_after = e->rss_bytes = 0;
		e->result = bpf_get_stackid(ctx, &stacks, 0); /* the kernel stack */
		e->nr = 0;
		e->nframes = 0;
		copy_stack(regs, e);
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	j = bpf_ringbuf_reserve(&events, sizeof(*j), 0);
	if (!j) {
		__sync_fetch_and_add(&dropped_events, 1);
		return 0;
	}
	j->type = LSCB_EV_JSCPU;
	j->tid = tid;
	j->t_ns = bpf_ktime_get_ns();
	j->kstack = bpf_get_stackid(ctx, &stacks, 0);
	j->n = uw_stack(regs, j->ips, j->sfis, j->prints, 1, !cpu_fp);
	bpf_ringbuf_submit(j, BPF_RB_NO_WAKEUP);
	return 0;
}

/* ------------------------------------------------------------------ off-CPU time */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct lscb_off_key);
	__type(value, struct lscb_off_value);
} offcpu SEC(".maps");

/* An empty value to start an entry from (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lscb_off_value);
} off_scratch SEC(".maps");

static __always_inline struct thread_state *task_state(struct task_struct *task, int create)
{
	struct thread_state *t = bpf_task_storage_get(&threads, task, 0, 0);

	if (t || !create)
		return t;
	t = bpf_task_storage_get(&threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (t) {
		t->slot = LSCB_MAX_LOOPS; /* not a loop (unless it polls later: loop_thread) */
		t->sys_nr = -1;
	}
	return t;
}

/*
 * A target thread leaves the CPU: note when, and its stacks (it is still current here; the user
 * stack is walked as for blocking syscalls, from libc's unwind rule for the syscall it sleeps
 * in). Another comes back: the time it was away goes to the stacks it left with.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct lscb_off_value *v;
	struct thread_state *t;
	struct lscb_off_key k = {};
	__u32 zero = 0, i, n;
	__u64 now, d, h;

	if (prev->tgid == target_tgid && (t = task_state(prev, 1))) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);

		t->off_ns = bpf_ktime_get_ns();
		/* past this program and its trampoline: __schedule is the leaf */
		t->off_kstack = bpf_get_stackid(ctx, &stacks, 2 & BPF_F_SKIP_FIELD_MASK);
		t->off_n = regs ? uw_stack(regs, t->off_frames, NULL, NULL, 0, 1) : 0;
	}
	if (next->tgid != target_tgid || !(t = task_state(next, 0)) || !t->off_ns)
		return 0;
	now = bpf_ktime_get_ns();
	d = now - t->off_ns;
	t->off_ns = 0;
	n = t->off_n < LSCB_MAX_FRAMES ? t->off_n : LSCB_MAX_FRAMES;
	h = 0x9e3779b97f4a7c15ULL ^ n;
	for (i = 0; i < LSCB_MAX_FRAMES && i < n; i++)
		h = (h ^ t->off_frames[i]) * 0xff51afd7ed558ccdULL;
	k.tid = next->pid;
	k.kstack = t->off_kstack;
	k.hash = h;
	v = bpf_map_lookup_elem(&offcpu, &k);
	if (v) {
		__sync_fetch_and_add(&v->ns, d);
		return 0;
	}
	v = bpf_map_lookup_elem(&off_scratch, &zero);
	if (!v)
		return 0;
	v->ns = d;
	v->n = n;
	for (i = 0; i < LSCB_MAX_FRAMES; i++)
		v->frames[i] = i < n ? t->off_frames[i] : 0;
	bpf_map_update_elem(&offcpu, &k, v, BPF_NOEXIST);
	return 0;
}

/* ------------------------------------------------------------------ GC */

static __always_inline __u64 rss_now(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__s64 pages = 0, c;
	int i;

	if (!mm)
		return 0;
	for (i = 0; i < 4; i++) {
		if (i == 2) /* MM_SWAPENTS: not resident */
			continue;
		c = BPF_CORE_READ(mm, rss_stat[i].count);
		pages += c > 0 ? c : 0;
	}
	return (__u64)pages * 4096;
}

static __always_inline void gc_event(__u32 tid, __u64 start, __u64 pause, __u32 kind, __u64 before,
				     __u64 after)
{
	struct lscb_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&dropped_events, 1);
		return;
	}
	e->type = LSCB_EV_GC;
	e->tid = tid;
	e->t_ns = start;
	e->dur_ns = pause;
	e->result = 0;
	e->nr = kind;
	e->nframes = 0;
	e->heap_before = before;
	e->heap_after = after;
	e->rss_bytes = rss_now();
	e->stack_len = 0;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* refloop: gc__end(heap_before, live_after, pause_ns) */
SEC("usdt")
int BPF_USDT(on_refloop_gc_end, __u64 before, __u64 after, __u64 pause)
{
	__u32 tid;
	__u64 now;

	if (!is_target(&tid))
		return 0;
	now = bpf_ktime_get_ns();
	gc_event(tid, now - pause, pause, 5 /* FULL */, before, after);
	return 0;
}

static __always_inline struct thread_state *gc_thread(__u32 tid)
{
	return task_state(bpf_get_current_task_btf(), 1);
}

/* V8: Heap::PerformGarbageCollection(GarbageCollector collector, ...): 0 scavenger,
 * 1 mark-compactor, 2 minor mark-compactor. */
SEC("uprobe") /* BPF_KPROBE reads a uprobe's arguments too (libbpf 1.1 has no BPF_UPROBE) */
int BPF_KPROBE(on_v8_perform_gc, void *heap, int collector)
{
	struct thread_state *t;
	__u32 tid;

	if (!is_target(&tid) || !(t = gc_thread(tid)))
		return 0;
	t->gc_kind = collector == 1 ? 2 /* MARK_COMPACT */ : 1 /* SCAVENGE */;
	return 0;
}

SEC("uprobe") /* BPF_KPROBE reads a uprobe's arguments too (libbpf 1.1 has no BPF_UPROBE) */
int BPF_KPROBE(on_v8_pause_start)
{
	struct thread_state *t;
	__u32 tid;

	if (!is_target(&tid) || !(t = gc_thread(tid)))
		return 0;
	t->gc_start_ns = bpf_ktime_get_ns();
	t->gc_kind = 0;
	return 0;
}

SEC("uprobe") /* BPF_KPROBE reads a uprobe's arguments too (libbpf 1.1 has no BPF_UPROBE) */
int BPF_KPROBE(on_v8_pause_stop)
{
	struct thread_state *t;
	__u64 now;
	__u32 tid;

	if (!is_target(&tid) || !(t = thread_get(0)) || !t->gc_start_ns)
		return 0;
	now = bpf_ktime_get_ns();
	gc_event(tid, t->gc_start_ns, now - t->gc_start_ns, t->gc_kind, 0, 0);
	t->gc_start_ns = 0;
	return 0;
}

#include "pool.bpf.h"
#include "sites.bpf.h"
#include "switch.bpf.h"
