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
 *    the jobs in between counted into the next stack (the agent's rule, agent/pool.c). The
 *    loader attaches these probes only while the queue is backlogged (pool_backlog_ns, from
 *    loop.bpf.c's pool_sample): the trap costs a job about 6 µs whatever the program does.
 *  - Pickup: no probe on the workers. The queue is FIFO; pool_track keeps a copy of its order
 *    (node, stamp), updated from the main loop's epoll entries unless the queue was and is
 *    empty (pool_sample): a walk from the queue's head finds the copy's entries in order at
 *    its front, and the nodes after them are new (appended with their stamps); the copy's
 *    entries before the queue's front were taken by workers, each at once if a worker was idle
 *    at that walk, else when a worker finished its job — which wakes the loop — so within the
 *    busy segment that ends at this walk (its middle is taken). The walk never starts from a
 *    node of the copy: a node a worker took may sit in the loop's list of finished jobs, whose
 *    pointers never lead back to the queue. Each node must point back at the one before it,
 *    else the queue moved under the walk (it is not locked), which looks again.
 *  - A job's memory is often freed by its callback and queued anew at the same address: the
 *    copy's front may be a new job. Told by the probe's new stamp, or by the workers' wake-ups
 *    of the loop (an 8-byte write each, uv_async_send) since the last walk beyond the jobs then
 *    running: that many of the copy's first jobs were taken. A wake-up libuv saves (the loop
 *    had not read the last one) tells nothing: then two jobs are taken as one, longer wait.
 *  - A job submitted and taken between two walks never waited behind another: counted as no
 *    wait when the probes saw it, not at all when they were off. A stamp older than the last
 *    whole walk was left by such a job: dropped. Jobs queued before attach (no stamp) are not
 *    measured. Slow-I/O jobs (DNS) wait in
 *    their own queue and are counted as submitted, not measured.
 */

#define POOL_RING	  (1u << 16) /* queued jobs followed, at most */
#define POOL_STACK_GAP	  1000000ULL /* ns of credit a submission stack costs a thread */
#define POOL_STACK_BURST  64	     /* stacks a thread may take at once */
#define POOL_WORK_REQ_WQ  112 /* uv_work_t: work_req at 88, and its wq at 24 (uv.h 1.44, 1.46) */
#define POOL_WORK_WQ	  24  /* struct uv__work: work, done, loop, then wq */
#define POOL_KIND_SLOW_IO 2   /* enum uv__work_kind */

/* Set by the loader: the submission probes are attached (stamps and counts are complete), since
 * that time. They come and go with the pool's backlog (attach_pool.c): */
__u32 pool_probed;
__u64 pool_probed_since_ns;
/* Read by the loader (main loop only): the wait histogram and counters, cumulative. */
__u64 pool_wait_hist[LSCB_HIST_BUCKETS];
__u64 pool_submitted;	   /* jobs the probes saw queued (not slow I/O) */
__u64 pool_measured;	   /* jobs whose wait went into the histogram from the walk */
__u64 pool_wait_ns;	   /* their waits summed: the queue's length integrated over time */
__u64 pool_unseen;	   /* jobs taken before a walk saw them: counted as no wait */
__u64 pool_unknown;	   /* queued with no stamp (before attach; libuv's exit messages) */
__u64 pool_stacks_dropped; /* submission stacks the ring buffer had no room for */

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
__u32 pq_head, pq_n, pq_idle, pq_busy, pq_walked;
/* The walk's counts (in .bss, not its context on the stack, where the verifier would follow
 * each value through the loop): the copy's entries found in place so far, from its front; the
 * copy's entries when the walk began (those after them are new); the queue's nodes, the
 * slow-I/O marker left out. */
__u32 pw_matched, pw_copied, pw_fast;
__u64 pq_walk_ns, pq_done_ns, pq_stamped, pq_wakes;

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
	__u32 idle, popped, all, taken;
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
	if (!p->all && p->popped >= p->taken && it->node == p->first &&
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

struct pool_walk {
	__u64 node, prev, head, marker, lo, now, first;
	__u32 done;  /* the walk came back to the queue's head */
	__u32 stale; /* the copy is not the queue's front: its first node is a reused address */
};

/* One step of the walk from the queue's head: the copy's entries must be the queue's first
 * nodes, in order (FIFO); the nodes after them are new, appended with their stamps. The walk
 * starts at the head, never at a node of the copy's: one a worker took may already sit in
 * another list (the loop's queue of finished jobs: its pointers never lead back to `wq`, and a
 * walk from there went round it until the ring was full, a flood of jobs that never were). */
static long pool_walk_step(__u32 i, struct pool_walk *w)
{
	__u64 link[2] = {}, next, at = 0, *st;
	struct pool_item *it;
	__u32 k;

	/* The node's next and prev: a node a worker has just taken points at itself, one it took
	 * a moment earlier no longer points back at the node before it (its neighbours were
	 * relinked): the queue moved under the walk. */
	if (bpf_probe_read_user(link, sizeof(link), (void *)w->node))
		return 1;
	next = link[0];
	if (!next || (next == w->node && next != w->head) || (w->prev && link[1] != w->prev))
		return 1;
	w->prev = w->node;
	if (next == w->head) {
		w->done = 1;
		w->stale = pw_matched < pw_copied; /* shorter than the copy (a job cancelled) */
		return 1;
	}
	w->node = next;
	if (next == w->marker)
		return 0;
	/* the front the pickups were judged by is gone: the queue moved under the walk */
	if (!pw_fast++ && next != w->first)
		return 1;
	if (pw_matched < pw_copied) {
		k = (pq_head + pw_matched) & (POOL_RING - 1);
		it = bpf_map_lookup_elem(&pool_ring, &k);
		if (!it || it->node != next) {
			w->stale = 1;
			return 1;
		}
		pw_matched++;
		return 0;
	}
	if (pq_n >= POOL_RING)
		return 1;
	st = bpf_map_lookup_elem(&pool_stamps, &next);
	if (st && *st < pq_done_ns) {
		/* older than the last whole walk, which would have seen its job: a job taken
		 * unseen left it (counted then), and this one at its address came unprobed */
		bpf_map_delete_elem(&pool_stamps, &next);
		st = NULL;
	}
	if (st) {
		at = *st < w->now ? *st : w->now;
		bpf_map_delete_elem(&pool_stamps, &next);
		pq_stamped++;
	} else if (pq_walked && (!pool_probed || pool_probed_since_ns > pq_walk_ns)) {
		/* not probed since before the last walk: submitted in the busy segment that ends
		 * now (with the probes on, a node they did not stamp is libuv's exit message) */
		at = w->lo + (w->now - w->lo) / 2;
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

/* One look at the queue: the pickups judged from its front, then the walk from its head (again
 * from the head when the copy's front turned out to be a reused address). 1: the walk reached
 * the head; 0: the queue moved under it. */
/* The walk from the queue's head, the copy as it is now */
static __always_inline void pool_walk_queue(struct pool_walk *w)
{
	w->node = addr_wq;
	w->prev = 0;
	w->done = w->stale = 0;
	pw_matched = pw_fast = 0;
	pw_copied = pq_n;
	bpf_loop(POOL_RING, pool_walk_step, w, 0);
}

static __always_inline int pool_look(struct pool_pop *p, struct pool_walk *w)
{
	__u64 first = 0;

	if (bpf_probe_read_user(&first, sizeof(first), (void *)addr_wq))
		return 0;
	if (!first) { /* the pool not started yet (libuv starts it at the first job): empty */
		pw_fast = 0;
		return 1;
	}
	if (first == addr_slow_marker &&
	    bpf_probe_read_user(&first, sizeof(first), (void *)addr_slow_marker))
		return 0;
	p->first = w->first = first;
	bpf_loop(POOL_RING, pool_pop_step, p, 0);
	pool_walk_queue(w);
	if (!w->stale)
		return w->done;
	/* the copy's front matched a new job at a reused address: all of it was taken */
	p->all = 1;
	bpf_loop(POOL_RING, pool_pop_step, p, 0);
	pool_walk_queue(w);
	return w->done && !w->stale;
}

/* From the main loop's epoll entry: pickups and submissions since the last walk (t: the main
 * loop's thread, now: this poll's entry; idle and n: the pool's idle and all threads). Returns
 * the queue's length (the slow-I/O marker left out), or -1 when the queue kept moving under the
 * walk (it is not locked; a worker taking a job while the walk passes is common on a busy
 * server, so it looks up to three times): then again at the next poll. */
static __always_inline int pool_track(struct thread_state *t, __u64 now, __u32 idle, __u32 n)
{
	struct pool_pop p = {.now = now};
	struct pool_walk w = {.head = addr_wq, .marker = addr_slow_marker, .now = now};
	struct pool_item *it;
	__u64 lo, wakes;
	int done = 0;
	__u32 k;

	lo = t->busy_start_ns > pq_walk_ns ? t->busy_start_ns : pq_walk_ns;
	if (lo > now)
		lo = now;
	p.lo = w.lo = lo;
	p.idle = pq_idle;
	/* Workers that finished a job since the last walk, beyond those then running, took the
	 * copy's first jobs since (FIFO): taken, even when the front holds their address again
	 * (a job freed by its callback and its memory queued anew). A wake-up saved because the
	 * loop had not yet read the last one counts none: the estimate is low, never high. */
	wakes = pool_wakes;
	if (pq_walked && wakes - pq_wakes > pq_busy)
		p.taken = (__u32)(wakes - pq_wakes - pq_busy);
	/* The copy's last node stamped again: every job in the copy was taken (FIFO). */
	if (pq_n && pool_probed) {
		k = (pq_head + pq_n - 1) & (POOL_RING - 1);
		it = bpf_map_lookup_elem(&pool_ring, &k);
		if (it && bpf_map_lookup_elem(&pool_stamps, &it->node))
			p.all = 1;
	}
	for (int r = 0; r < 3 && !done; r++)
		done = pool_look(&p, &w);
	/* Every job the probes counted is now in the copy or was taken unseen (a walk that
	 * reached the queue's end); another thread's submission in flight is counted later. */
	if (done) {
		__u64 seen = pq_stamped + pool_unseen;

		if (pool_submitted > seen) {
			__u64 d = pool_submitted - seen;

			pool_wait_hist[0] += d;
			pool_unseen += d;
		}
	}
	pq_walk_ns = now;
	pq_idle = idle;
	pq_busy = n > idle ? n - idle : 0;
	pq_wakes = wakes;
	pq_walked = 1;
	if (done)
		pq_done_ns = now;
	return done ? (int)pw_fast : -1;
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
