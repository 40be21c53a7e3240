/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pool.bpf.h — part of loop.bpf.c (included at its end): how long each job waits in libuv's
 * thread-pool queue, and who submits the jobs.
 *
 *  - Submission: a uprobe at the entry of uv__work_submit (fs, DNS, random) and of uv_queue_work
 *    (crypto, zlib, user work: libuv inlines uv__work_submit into it), the only two code paths
 *    that append a job to the queue `wq`. It stamps the job's queue node with the time, counts
 *    it, and takes the submitting thread's stack (JS frames included, as uw_stack reads them)
 *    for a token bucket's worth of jobs: every job up to a burst of 64, then one a millisecond,
 *    the jobs in between counted into the next stack (the agent's rule, agent/pool.c).
 *  - Pickup: no probe on the workers. The queue is FIFO; pool_track keeps a copy of its order
 *    (node, stamp), updated from the main loop's epoll entries when the queue's ends changed
 *    (pool_sample): the nodes gone from the front since the last walk were taken by workers,
 *    each at once if a worker was idle at that walk, else when a worker finished its job —
 *    which wakes the loop — so within the busy segment that ends at this walk (its middle is
 *    taken). The nodes new at the back are appended with their stamps. Work per walk is the
 *    number of jobs that came or went, not the queue's length.
 *  - A job submitted and taken between two walks never waited behind another: counted as no
 *    wait. Jobs queued before attach (no stamp) are not measured. Slow-I/O jobs (DNS) wait in
 *    their own queue and are counted as submitted, not measured.
 */

#define POOL_RING	  (1u << 16) /* queued jobs followed, at most */
#define POOL_STACK_GAP	  1000000ULL /* ns of credit a submission stack costs a thread */
#define POOL_STACK_BURST  64	     /* stacks a thread may take at once */
#define POOL_WORK_REQ_WQ  112 /* uv_work_t: work_req at 88, and its wq at 24 (uv.h 1.44, 1.46) */
#define POOL_WORK_WQ	  24  /* struct uv__work: work, done, loop, then wq */
#define POOL_KIND_SLOW_IO 2   /* enum uv__work_kind */

/* Set by the loader: the submission probes are attached (stamps and counts are complete). */
__u32 pool_probed;
/* Read by the loader (main loop only): the wait histogram and counters, cumulative. */
__u64 pool_wait_hist[LSCB_HIST_BUCKETS];
__u64 pool_submitted;	   /* jobs the probes saw queued (not slow I/O) */
__u64 pool_measured;	   /* jobs whose wait went into the histogram from the walk */
__u64 pool_wait_ns;	   /* their waits summed: the queue's length integrated over time */
__u64 pool_unseen;	   /* jobs taken before a walk saw them: counted as no wait */
__u64 pool_unknown;	   /* queued with no stamp (before attach; libuv's exit messages) */
__u64 pool_stacks_dropped; /* submission stacks the ring buffer had no room for */
__u64 pool_after_walk;	   /* jobs the probes saw queued since the last walk */

struct pool_item {
	__u64 node, at; /* at: the submission; 0: unknown */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, POOL_RING);
	__type(key, __u32);
	__type(value, struct pool_item);
} pool_ring SEC(".maps");

/* Queue node -> submission time, from the probe until a walk finds the node queued. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, POOL_RING);
	__type(key, __u64);
	__type(value, __u64);
} pool_stamps SEC(".maps");

/* The copy of the queue's order (the main loop's thread alone writes it): ring entries from
 * pq_head, pq_n of them; idle workers at the last walk, and its time; jobs appended with the
 * probe's stamp. */
__u32 pq_head, pq_n, pq_idle, pq_walked;
__u64 pq_walk_ns, pq_stamped;

static __always_inline void pool_wait(__u64 took, __u64 at)
{
	__u32 idx;

	if (!at) {
		pool_unknown++;
		return;
	}
	took = took > at ? took - at : 0;
	idx = hist_index(took);
	if (idx < LSCB_HIST_BUCKETS)
		pool_wait_hist[idx]++;
	pool_measured++;
	pool_wait_ns += took;
}

struct pool_pop {
	__u64 first, now, lo;
	__u32 idle, popped, all;
};

/* Front entries no longer at the queue's front were taken since the last walk. A node at the
 * front that the probe stamped again was taken, completed and submitted anew at the same
 * address (its request memory reused): that too is a pickup. */
static long pool_pop_step(__u32 i, struct pool_pop *p)
{
	__u32 k = pq_head & (POOL_RING - 1);
	struct pool_item *it;
	__u64 took;

	if (!pq_n)
		return 1;
	it = bpf_map_lookup_elem(&pool_ring, &k);
	if (!it)
		return 1;
	if (!p->all && it->node == p->first &&
	    !(pool_probed && bpf_map_lookup_elem(&pool_stamps, &it->node)))
		return 1;
	/* at once by a worker idle at the last walk; else when a worker finished a job, which
	 * woke the loop: within the busy segment that ends now */
	took = p->popped < p->idle ? pq_walk_ns : p->lo + (p->now - p->lo) / 2;
	pool_wait(took, it->at);
	pq_head++;
	pq_n--;
	p->popped++;
	return 0;
}

struct pool_add {
	__u64 node, head, marker, lo, now;
	__u32 done;
};

/* The nodes after the copy's last one are new: appended with their stamps. */
static long pool_add_step(__u32 i, struct pool_add *a)
{
	__u64 next = 0, at = 0, *st;
	struct pool_item *it;
	__u32 k;

	/* a node a worker has just taken points at itself: the queue moved under the walk */
	if (bpf_probe_read_user(&next, sizeof(next), (void *)a->node) || !next || next == a->node)
		return 1;
	if (next == a->head) {
		a->done = 1;
		return 1;
	}
	a->node = next;
	if (next == a->marker)
		return 0;
	if (pq_n >= POOL_RING)
		return 1;
	st = bpf_map_lookup_elem(&pool_stamps, &next);
	if (st) {
		at = *st < a->now ? *st : a->now;
		bpf_map_delete_elem(&pool_stamps, &next);
		pq_stamped++;
	} else if (!pool_probed && pq_walked) {
		/* no probes: submitted in the busy segment that ends now */
		at = a->lo + (a->now - a->lo) / 2;
	}
	k = (pq_head + pq_n) & (POOL_RING - 1);
	it = bpf_map_lookup_elem(&pool_ring, &k);
	if (!it)
		return 1;
	it->node = next;
	it->at = at;
	pq_n++;
	return 0;
}

/* From the main loop's epoll entry, when the queue's ends changed: pickups and submissions since
 * the last walk (t: the main loop's thread, now: this poll's entry). */
static __always_inline void pool_track(struct thread_state *t, __u64 now, __u32 idle)
{
	struct pool_pop p = {.now = now};
	struct pool_add a = {.head = addr_wq, .marker = addr_slow_marker, .now = now};
	struct pool_item *it;
	__u64 first = 0, lo;
	__u32 k;

	lo = t->busy_start_ns > pq_walk_ns ? t->busy_start_ns : pq_walk_ns;
	if (lo > now)
		lo = now;
	if (bpf_probe_read_user(&first, sizeof(first), (void *)addr_wq) || !first)
		return;
	if (first == addr_slow_marker &&
	    (bpf_probe_read_user(&first, sizeof(first), (void *)addr_slow_marker) || !first))
		return;
	p.first = first;
	p.lo = lo;
	p.idle = pq_idle;
	/* The copy's last node stamped again: every job in the copy was taken (FIFO). */
	if (pq_n && pool_probed) {
		k = (pq_head + pq_n - 1) & (POOL_RING - 1);
		it = bpf_map_lookup_elem(&pool_ring, &k);
		if (it && bpf_map_lookup_elem(&pool_stamps, &it->node))
			p.all = 1;
	}
	bpf_loop(POOL_RING, pool_pop_step, &p, 0);
	/* appended after the copy's last node, or from the queue's head when it is empty */
	a.node = addr_wq;
	if (pq_n) {
		k = (pq_head + pq_n - 1) & (POOL_RING - 1);
		it = bpf_map_lookup_elem(&pool_ring, &k);
		if (!it)
			return;
		a.node = it->node;
	}
	a.lo = lo;
	bpf_loop(POOL_RING, pool_add_step, &a, 0);
	/* Every job the probes counted is now in the copy or was taken unseen (a walk that
	 * reached the queue's end); another thread's submission in flight is counted later. */
	if (a.done && pool_probed) {
		__u64 seen = pq_stamped + pool_unseen;

		if (pool_submitted > seen) {
			__u64 d = pool_submitted - seen;

			pool_wait_hist[0] += d;
			pool_unseen += d;
		}
	}
	pq_walk_ns = now;
	pq_idle = idle;
	pq_walked = 1;
	pool_after_walk = 0;
}

/* ------------------------------------------------------------------ the submitters */

struct pool_thread {
	__u64 credit, last_ns;
	__u32 unsampled, pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pool_thread);
} pool_threads SEC(".maps");

static __always_inline int pool_submit(struct pt_regs *ctx, __u64 node, int slow)
{
	struct pool_thread *pt;
	struct lscb_submit *e;
	__u64 now;
	__u32 tid;

	if (!is_target(&tid))
		return 0;
	now = bpf_ktime_get_ns();
	if (!slow) {
		bpf_map_update_elem(&pool_stamps, &node, &now, BPF_ANY);
		__sync_fetch_and_add(&pool_submitted, 1);
		__sync_fetch_and_add(&pool_after_walk, 1);
	}
	pt = bpf_task_storage_get(&pool_threads, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!pt)
		return 0;
	pt->unsampled++;
	pt->credit += now - pt->last_ns;
	pt->last_ns = now;
	if (pt->credit > POOL_STACK_BURST * POOL_STACK_GAP)
		pt->credit = POOL_STACK_BURST * POOL_STACK_GAP;
	if (pt->credit < POOL_STACK_GAP)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&pool_stacks_dropped, 1);
		return 0;
	}
	pt->credit -= POOL_STACK_GAP;
	e->type = LSCB_EV_POOL_SUBMIT;
	e->tid = tid;
	e->t_ns = now;
	e->weight = pt->unsampled;
	pt->unsampled = 0;
	/* at the function's entry, stopped at the uprobe's int3: the walk takes the probed
	 * instruction's unwind row (stack.bpf.h) */
	e->n = uw_stack(ctx, e->ips, e->sfis, e->prints, 1, 1);
	if (!v8_on) { /* not written by the walk: zeroed, not the ring's old bytes */
		volatile __u64 *sf = e->sfis,
			       *pr = e->prints; /* (not a memset call: none in BPF) */

		for (int i = 0; i < LSCB_MAX_FRAMES; i++)
			sf[i] = pr[i] = 0;
	}
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

/* uv__work_submit(loop, w, kind, work, done) */
SEC("uprobe")
int BPF_KPROBE(on_pool_work_submit, void *loop, void *w, int kind)
{
	return pool_submit(ctx, (__u64)w + POOL_WORK_WQ, kind == POOL_KIND_SLOW_IO);
}

/* uv_queue_work(loop, req, work_cb, after_work_cb): no job without a work_cb */
SEC("uprobe")
int BPF_KPROBE(on_pool_queue_work, void *loop, void *req, void *work_cb)
{
	if (!work_cb)
		return 0;
	return pool_submit(ctx, (__u64)req + POOL_WORK_REQ_WQ, 0);
}
