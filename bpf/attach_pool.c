/*
 * attach_pool.c — libuv's thread pool in what `attach` records, beyond its queue depth: each
 * job's wait in the queue (Window.pool_wait, the main loop's windows) and the stacks that submit
 * jobs (POOL_SUBMITS samples, JS frames named as attach_js.c names them), as `run` records them.
 *
 * The kernel side is pool.bpf.h: uprobes at the two entries that queue a job (uv__work_submit,
 * uv_queue_work) stamp it and take a token bucket's worth of stacks; the walk of the queue from
 * the main loop's epoll entries sees each job leave it. Here: the probes attached by file offset
 * (from the symbols attach.c found), the rule that lets a stack be walked from a function's
 * entry, the histogram read once a window, the stacks accumulated and written at the end.
 * Without the probes (another tracer holds the offset) the waits are still measured, with the
 * submission taken in the middle of the busy segment that queued it (said in a note).
 */
#include "attach_internal.h"

struct lsc_at_pool {
	uint64_t prev[LSCB_HIST_BUCKETS], prev_ns;
	uint32_t hidx[LSC_HIST_BUCKETS];
	uint64_t hcnt[LSC_HIST_BUCKETS];
	struct acc *sub;
	size_t nsub, sub_cap;
};

static struct bpf_link *probe(struct lsc_attach *a, struct bpf_program *prog, Elf *elf,
			      uint64_t bias, const struct want *w)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo);
	uint64_t off;

	(void)bias; /* the stack at the entry is walked by the probed instruction's unwind row */
	if (!w->found || lsc__vaddr_to_offset(elf, w->vaddr, &off))
		return NULL;
	return bpf_program__attach_uprobe_opts(prog, a->o.pid, a->exe, off, &uo);
}

void lsc__at_pool_open(struct lsc_attach *a, Elf *elf, uint64_t bias, const struct want *submit,
		       const struct want *queue)
{
	struct bpf_link *l1, *l2;

	if (!a->skel->rodata->addr_wq)
		return; /* no pool to follow */
	a->pool = calloc(1, sizeof(*a->pool));
	if (!a->pool)
		return;
	/* LOOPSCOPE_TEST_NO_POOL_PROBES: as when another tracer holds them (tests, cost) */
	if (elf && !a->o.no_pool_probes && !getenv("LOOPSCOPE_TEST_NO_POOL_PROBES")) {
		l1 = probe(a, a->skel->progs.on_pool_work_submit, elf, bias, submit);
		l2 = probe(a, a->skel->progs.on_pool_queue_work, elf, bias, queue);
	} else {
		l1 = l2 = NULL;
		errno = ENOENT;
	}
	a->skel->links.on_pool_work_submit = l1;
	a->skel->links.on_pool_queue_work = l2;
	if (l1 && l2) {
		a->skel->bss->pool_probed = 1;
		return;
	}
	if (a->o.no_pool_probes)
		return; /* asked for: the caller says so */
	lsc__at_note(a,
		     "%s: libuv's uv__work_submit and uv_queue_work could not be probed (%s): "
		     "thread-pool waits are estimated from the queue alone and submitters are not "
		     "recorded",
		     a->exe,
		     errno == EINVAL ? "another tracer may hold a conflicting uprobe"
				     : strerror(errno));
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
	const uint64_t *frames;
	uint32_t n;

	if (!a->pool || !s->n || !s->weight)
		return;
	frames = lsc__at_submit_frames(a, s, named, &n);
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
		memset(&st->pool_wait, 0, sizeof(st->pool_wait));
		lsc_attach_buckets_add(&st->pool_wait, &w);
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
 * them (no wait), queued with no stamp (not measured); and the jobs whose wait the capture
 * could not know at its end: queued at the last walk of the queue, and queued after it. */
size_t lsc__at_pool_counters(struct lsc_attach *a, Loopscope__Counter *c, size_t cap)
{
	const struct loop_bpf__bss *b = a->skel->bss;
	size_t n = 0;

	if (!a->pool || cap < 7)
		return 0;
	counter(&c[n++], "pool_jobs_probed", b->pool_submitted);
	counter(&c[n++], "pool_waits_measured", b->pool_measured);
	counter(&c[n++], "pool_jobs_unseen", b->pool_unseen);
	counter(&c[n++], "pool_jobs_unstamped", b->pool_unknown);
	counter(&c[n++], "pool_stacks_dropped", b->pool_stacks_dropped);
	counter(&c[n++], "pool_jobs_queued_at_last_walk", b->pq_n);
	counter(&c[n++], "pool_jobs_after_last_walk", b->pool_after_walk);
	return n;
}
