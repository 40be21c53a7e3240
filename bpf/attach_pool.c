/*
 * attach_pool.c — libuv's thread pool in what `attach` records, beyond its queue depth: each
 * job's wait in the queue (Window.pool_wait, the main loop's windows) and the stacks that submit
 * jobs (POOL_SUBMITS samples, JS frames named as attach_js.c names them), as `run` records them.
 *
 * The kernel side is pool.bpf.h: uprobes at the two entries that queue a job (uv__work_submit,
 * uv_queue_work) stamp it and take a token bucket's worth of stacks; the walk of the queue from
 * the main loop's epoll entries sees each job leave it. Here: the probes attached by file offset
 * (from the symbols attach.c found) while the pool is backlogged and detached when it has kept
 * up for a while (each tick decides), the histogram read once a window, the stacks accumulated
 * and written at the end. While the probes are off (by default, or another tracer holds the
 * offset) the waits are still measured, with the submission taken in the middle of the busy
 * segment that queued it (said in a note; the footer says how long they were on).
 */
#include "attach_internal.h"

/* The submission probes come and go with the pool's backlog (LOOPSCOPE_POOL_PROBES=always keeps
 * them): attached once the queue held as many jobs as the pool has threads, none of them idle,
 * for half of a tick (about 100 ms), detached after 30 ticks (3 s) under a fifth, so that a pool
 * saturated in bursts keeps them. Each probe costs a job the trap, about 6 µs: a loop-bound
 * server whose pool keeps up pays none of it. (refloop healthy --db-us 0 on 2 CPUs under wrk,
 * its 4 workers waiting for a CPU: up to 26 % of a tick; refloop pool-saturation's bursts: 47 %
 * to 100 % of the ticks they span; a pbkdf2 server's saturated pool: all of them.) */
#define BACKLOG_ON  0.5
#define BACKLOG_OFF 0.2
#define CALM_TICKS  30

struct lsc_at_pool {
	uint64_t prev[LSCB_HIST_BUCKETS], prev_ns;
	uint32_t hidx[LSC_HIST_BUCKETS];
	uint64_t hcnt[LSC_HIST_BUCKETS];
	struct acc *sub;
	size_t nsub, sub_cap;
	/* the probes: file offsets, whether they follow the backlog, and what they did */
	uint64_t off_submit, off_queue;
	int can_probe, always;
	uint64_t backlog_ns, tick_ns, probed_at, probed_ns, attaches, failures;
	unsigned calm; /* ticks in a row under BACKLOG_OFF */
};

/* Both probes at their file offsets, stamps valid from now; 0 or -errno. */
static int probes_on(struct lsc_attach *a)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo);
	struct lsc_at_pool *p = a->pool;
	struct bpf_link *l1, *l2 = NULL;
	int err = 0;

	l1 = bpf_program__attach_uprobe_opts(a->skel->progs.on_pool_work_submit, a->o.pid, a->exe,
					     p->off_submit, &uo);
	if (!l1)
		err = -errno;
	else if (!(l2 = bpf_program__attach_uprobe_opts(a->skel->progs.on_pool_queue_work, a->o.pid,
							a->exe, p->off_queue, &uo)))
		err = -errno;
	if (err) {
		bpf_link__destroy(l1);
		return err;
	}
	a->skel->links.on_pool_work_submit = l1;
	a->skel->links.on_pool_queue_work = l2;
	p->probed_at = lsc__at_mono_ns();
	a->skel->bss->pool_probed_since_ns = p->probed_at;
	a->skel->bss->pool_probed = 1;
	p->attaches++;
	return 0;
}

static void probes_off(struct lsc_attach *a)
{
	struct lsc_at_pool *p = a->pool;

	if (!a->skel->bss->pool_probed)
		return;
	a->skel->bss->pool_probed = 0;
	bpf_link__destroy(a->skel->links.on_pool_work_submit);
	bpf_link__destroy(a->skel->links.on_pool_queue_work);
	a->skel->links.on_pool_work_submit = a->skel->links.on_pool_queue_work = NULL;
	p->probed_ns += lsc__at_mono_ns() - p->probed_at;
}

void lsc__at_pool_open(struct lsc_attach *a, Elf *elf, uint64_t bias, const struct want *submit,
		       const struct want *queue)
{
	const char *mode = getenv("LOOPSCOPE_POOL_PROBES");
	struct lsc_at_pool *p;
	int err = -ENOENT;

	(void)bias; /* the stack at the entry is walked by the probed instruction's unwind row */
	if (!a->skel->rodata->addr_wq)
		return; /* no pool to follow */
	p = a->pool = calloc(1, sizeof(*a->pool));
	if (!p)
		return;
	p->always = mode && !strcmp(mode, "always");
	/* LOOPSCOPE_TEST_NO_POOL_PROBES: as when another tracer holds them (tests, cost) */
	if (elf && !getenv("LOOPSCOPE_TEST_NO_POOL_PROBES") && submit->found && queue->found &&
	    !lsc__vaddr_to_offset(elf, submit->vaddr, &p->off_submit) &&
	    !lsc__vaddr_to_offset(elf, queue->vaddr, &p->off_queue)) {
		p->can_probe = 1;
		/* by default not tried now: an attach and detach at the start, only to learn
		 * whether they can be, upset Node's tcp test (bpf.test_attach's tcp phase: its
		 * child's connections unseen), for reasons not found; a failure later is counted */
		err = p->always ? probes_on(a) : 0;
	}
	if (err || !p->can_probe) {
		p->can_probe = 0;
		lsc__at_note(a,
			     "%s: libuv's uv__work_submit and uv_queue_work could not be probed "
			     "(%s): thread-pool waits are estimated from the queue alone and "
			     "submitters are not recorded",
			     a->exe,
			     err == -EINVAL ? "another tracer may hold a conflicting uprobe"
					    : strerror(err ? -err : ENOENT));
		return;
	}
	if (p->always)
		return;
	p->tick_ns = lsc__at_mono_ns();
	lsc__at_note(
		a, "the thread pool's submission probes (about 6 us a job) are attached only "
		   "while its queue holds a job per thread with no worker idle: the waits of jobs "
		   "submitted otherwise are estimated from the queue, and the submitters are "
		   "those of the backlog (footer: pool_probes_attached, pool_probed_ms, "
		   "pool_probe_failures; LOOPSCOPE_POOL_PROBES=always keeps them on)");
}

/* Each tick: the share of the time since the last decision that the queue was backlogged. */
void lsc__at_pool_tick(struct lsc_attach *a, uint64_t now)
{
	struct lsc_at_pool *p = a->pool;
	uint64_t b, dt;
	double share;

	if (!p || !p->can_probe || p->always)
		return;
	dt = now - p->tick_ns;
	if (dt < 50000000) /* at least 50 ms between decisions */
		return;
	b = a->skel->bss->pool_backlog_ns;
	share = (double)(b - p->backlog_ns) / (double)dt;
	p->backlog_ns = b;
	p->tick_ns = now;
	if (!a->skel->bss->pool_probed) {
		if (share >= BACKLOG_ON && probes_on(a)) /* again at the next backlogged tick */
			p->failures++;
		return;
	}
	p->calm = share < BACKLOG_OFF ? p->calm + 1 : 0;
	if (p->calm >= CALM_TICKS) {
		probes_off(a);
		p->calm = 0;
	}
}

void lsc__at_pool_close(struct lsc_attach *a)
{
	if (!a->pool)
		return;
	free(a->pool->sub);
	free(a->pool);
	a->pool = NULL;
}

/* A submission's stack (leaf first: the libuv entry, then its caller), weight jobs. */
void lsc__at_pool_sample(struct lsc_attach *a, const struct lscb_submit *s)
{
	uint64_t named[LSCB_MAX_FRAMES + 1];
	const uint64_t *ips = (const uint64_t *)s->ips, *frames = ips;
	uint32_t n = s->n < LSCB_MAX_FRAMES ? s->n : LSCB_MAX_FRAMES;

	if (!a->pool || !n || !s->weight)
		return;
	if (a->js) {
		n = lsc__at_js_name(a, ips, (const uint64_t *)s->sfis, (const uint64_t *)s->prints,
				    n, named);
		frames = named;
	}
	lsc__at_accumulate(&a->pool->sub, &a->pool->nsub, &a->pool->sub_cap,
			   lsc__at_intern(a, frames, n, 0), s->tid, s->weight);
}

/* The main loop's window: the waits measured since the last one (h holds the proto), and the
 * queue's mean length. */
void lsc__at_pool_window(struct lsc_attach *a, Loopscope__Window *pw, Loopscope__Histogram *h,
			 struct lsc_attach_status *st)
{
	static struct lsc_hist w;
	struct lsc_at_pool *p = a->pool;
	uint64_t wait_ns;
	uint32_t k;

	if (!p)
		return;
	lsc_hist_init(&w);
	for (k = 0; k < LSCB_HIST_BUCKETS; k++) {
		uint64_t c = a->skel->bss->pool_wait_hist[k], d = c - p->prev[k];

		if (!d)
			continue;
		p->prev[k] = c;
		lsc_hist_add_n(&w, lsc_hist_bucket_low(k), d);
	}
	/* the queue's mean length over the window: the time jobs spent in it, over its length
	 * (each job's wait counted in the window it was taken in) */
	wait_ns = a->skel->bss->pool_wait_ns - p->prev_ns;
	p->prev_ns += wait_ns;
	if (pw->length_ns) {
		pw->has_pool_depth_mean = 1;
		pw->pool_depth_mean = (double)wait_ns / (double)pw->length_ns;
	}
	if (st) {
		st->pool_waits = w.total;
		st->pool_wait_p99_ns = lsc_hist_quantile(&w, 0.99);
		st->pool_wait_max_ns = w.total ? w.max : 0;
	}
	if (!w.total)
		return;
	lsc_hist_to_proto(&w, h, p->hidx, p->hcnt);
	pw->pool_wait = h;
}

/* At the end: the submitting stacks, as the agent writes them. */
void lsc__at_pool_stop(struct lsc_attach *a)
{
	if (!a->pool)
		return;
	if (a->pool->can_probe && !a->pool->always) /* the footer says how long they were on */
		probes_off(a);
	lsc__at_put_samples(a, LOOPSCOPE__SAMPLE_KIND__POOL_SUBMITS, a->pool->sub, a->pool->nsub,
			    0);
	a->pool->nsub = 0;
}

static void counter(Loopscope__Counter *c, const char *name, uint64_t v)
{
	loopscope__counter__init(c);
	c->name = (char *)name;
	c->has_value = 1;
	c->value = v;
}

/* The footer's counters: jobs the probes saw, whose wait was measured, taken before a walk saw
 * them (no wait), queued with no stamp (not measured). */
size_t lsc__at_pool_counters(struct lsc_attach *a, Loopscope__Counter *c, size_t cap)
{
	const struct loop_bpf__bss *b = a->skel->bss;
	size_t n = 0;

	if (!a->pool || cap < 8)
		return 0;
	counter(&c[n++], "pool_jobs_probed", b->pool_submitted);
	counter(&c[n++], "pool_waits_measured", b->pool_measured);
	counter(&c[n++], "pool_jobs_unseen", b->pool_unseen);
	counter(&c[n++], "pool_jobs_unstamped", b->pool_unknown);
	counter(&c[n++], "pool_stacks_dropped", b->pool_stacks_dropped);
	if (a->pool->can_probe && !a->pool->always) { /* the probes followed the backlog */
		counter(&c[n++], "pool_probes_attached", a->pool->attaches);
		counter(&c[n++], "pool_probed_ms", a->pool->probed_ns / 1000000);
		counter(&c[n++], "pool_probe_failures", a->pool->failures);
	}
	return n;
}
