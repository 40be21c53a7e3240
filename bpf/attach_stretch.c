/*
 * attach_stretch.c — where a long busy segment of a loop went, under attach as under the agent:
 * loop.bpf.c sends each busy segment of 10 ms or more as the loop polls again (struct
 * lscb_stretch), after the CPU samples taken in it; each loop thread's latest samples wait in a
 * formats/lsc_stretch.h ring, and the segment is written as the agent's "(busy loop)" event with
 * the samples within it by stack and the scheduler's figures. The report then attributes each
 * stretch from its own samples (a tick chain apart from a slow handler) rather than sharing the
 * loop's long time by the share of all its samples.
 */
#include "attach_internal.h"

#define BUSY_CALL "(busy loop)" /* the agent's name (analysis/report_calls.c LSC_BUSY_CALL) */

/* The ring of loop tid's samples; NULL for a thread that runs no loop. */
static struct lsc_stretch_ring *ring_of(struct lsc_attach *a, uint32_t tid)
{
	const struct lscb_loop *loops = a->skel->bss->loops;
	unsigned i, n = a->skel->bss->nloops;

	for (i = 0; i < n && i < LSCB_MAX_LOOPS; i++)
		if (loops[i].tid == tid) {
			if (a->stretch[i].tid != tid) {
				a->stretch[i].tid = tid;
				a->stretch[i].head = a->stretch[i].n = 0;
			}
			return &a->stretch[i];
		}
	return NULL;
}

void lsc__at_stretch_sample(struct lsc_attach *a, uint32_t tid, uint64_t t, uint32_t stack)
{
	struct lsc_stretch_ring *b = ring_of(a, tid);

	if (b)
		lsc_stretch_push(b, t, stack);
}

void lsc__at_stretch_forget(struct lsc_attach *a)
{
	memset(a->stretch, 0, sizeof(a->stretch));
}

void lsc__at_stretch(struct lsc_attach *a, const struct lscb_stretch *s)
{
	static uint32_t sst[256], scnt[256];
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event ev = LOOPSCOPE__EVENT__INIT;
	Loopscope__BlockingEvent b = LOOPSCOPE__BLOCKING_EVENT__INIT;
	struct lsc_stretch_ring *ring = ring_of(a, s->tid);
	size_t nst = 0, i;
	uint32_t best = 0;

	if (ring)
		nst = lsc_stretch_counts(ring, s->t_ns, s->t_ns + s->dur_ns, sst, scnt,
					 sizeof(sst) / sizeof(sst[0]));
	b.call = (char *)BUSY_CALL;
	b.has_duration_ns = b.has_stack_id = b.has_tid = 1;
	b.duration_ns = s->dur_ns;
	b.tid = s->tid;
	for (i = 0; i < nst; i++) /* its stack: the most frequent */
		if (scnt[i] > best)
			best = scnt[i], b.stack_id = sst[i];
	if (s->sched_known) {
		b.has_run_queue_ns = b.has_on_cpu_ns = 1;
		b.run_queue_ns = s->runq_ns < s->dur_ns ? s->runq_ns : s->dur_ns;
		b.on_cpu_ns = s->cpu_ns < s->dur_ns ? s->cpu_ns : s->dur_ns;
	}
	b.cpu_stack_ids = sst;
	b.n_cpu_stack_ids = nst;
	b.cpu_counts = scnt;
	b.n_cpu_counts = nst;
	ev.has_t_ns = 1;
	ev.t_ns = s->t_ns > a->t0 ? s->t_ns - a->t0 : 0;
	ev.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
	ev.blocking = &b;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &ev;
	a->events++;
	lsc__at_put(a, &r);
}
