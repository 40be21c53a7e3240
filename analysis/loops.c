/*
 * loops.c — the loops of a recording and each one's view of it (lsc_loops.h).
 */
#include "lsc_loops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* A thread whose role was not recorded (attach, an older agent): what its stacks say. Node's
 * Worker threads run node::worker::Worker::Run; its platform loop, the delayed-task
 * scheduler. 0: they do not say. */
static int role_from_stacks(const struct lsc_recording *r, uint32_t tid)
{
	size_t i, k, f, looked = 0;

	for (i = 0; i < r->nsamples && looked < 64; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind != LOOPSCOPE__SAMPLE_KIND__CPU &&
		    s->kind != LOOPSCOPE__SAMPLE_KIND__OFFCPU)
			continue;
		for (k = 0; k < s->n_stack_id && k < s->n_tid && looked < 64; k++) {
			const Loopscope__Stack *st;

			if (s->tid[k] != tid || !(st = lsc_recording_stack(r, s->stack_id[k])))
				continue;
			looked++;
			for (f = st->n_frames; f-- > 0;) { /* from the root: the thread's entry */
				const Loopscope__Symbol *sy =
					lsc_recording_symbol(r, st->frames[f]);

				if (!sy || !sy->function)
					continue;
				if (strstr(sy->function, "node::worker::Worker::Run"))
					return LOOPSCOPE__THREAD_ROLE__ROLE_WORKER;
				if (strstr(sy->function, "DelayedTaskScheduler"))
					return LOOPSCOPE__THREAD_ROLE__ROLE_PLATFORM;
			}
		}
	}
	return 0;
}

static void name_loop(const struct lsc_recording *r, struct lsc_loop_id *l, uint32_t main_tid)
{
	const Loopscope__Thread *t = lsc_recording_thread(r, l->tid);
	/* the main loop is the process's own thread's (without a header: the one the recording
	 * says is main) */
	int own = r->header && r->header->has_pid ? l->tid == r->header->pid || !l->tid
						  : l->tid == main_tid;

	l->role = t && t->has_role ? (int)t->role : 0;
	if (!l->role && !own)
		l->role = role_from_stacks(r, l->tid);
	if (!l->role)
		l->role =
			own ? LOOPSCOPE__THREAD_ROLE__ROLE_MAIN : LOOPSCOPE__THREAD_ROLE__ROLE_LOOP;
	if (l->role == LOOPSCOPE__THREAD_ROLE__ROLE_MAIN && !own)
		l->role = LOOPSCOPE__THREAD_ROLE__ROLE_LOOP; /* one main: the process's */
	l->worker_id = t && t->has_worker_id ? t->worker_id : 0;
	snprintf(l->script, sizeof(l->script), "%s", t && t->script ? t->script : "");
	l->is_main = l->tid == main_tid;
	switch (l->role) {
	case LOOPSCOPE__THREAD_ROLE__ROLE_MAIN:
		snprintf(l->name, sizeof(l->name), "main");
		snprintf(l->key, sizeof(l->key), "main");
		break;
	case LOOPSCOPE__THREAD_ROLE__ROLE_WORKER:
		if (l->worker_id)
			snprintf(l->key, sizeof(l->key), "worker:%u", l->worker_id);
		else
			snprintf(l->key, sizeof(l->key), "tid:%u", l->tid);
		if (l->worker_id && l->script[0])
			snprintf(l->name, sizeof(l->name), "worker %u (%.100s)", l->worker_id,
				 base_name(l->script));
		else if (l->worker_id)
			snprintf(l->name, sizeof(l->name), "worker %u", l->worker_id);
		else
			snprintf(l->name, sizeof(l->name), "worker (thread %u)", l->tid);
		break;
	case LOOPSCOPE__THREAD_ROLE__ROLE_PLATFORM:
		snprintf(l->name, sizeof(l->name), "Node's platform loop");
		snprintf(l->key, sizeof(l->key), "platform");
		l->hidden = 1;
		break;
	default:
		snprintf(l->name, sizeof(l->name), "loop %u", l->tid);
		snprintf(l->key, sizeof(l->key), "loop:%u", l->tid);
		break;
	}
}

static int loop_cmp(const void *a, const void *b)
{
	const struct lsc_loop_id *x = a, *y = b;
	static const int rank[] = {3, 0, 1, 4, 2}; /* unknown, main, worker, platform, loop */
	int rx = x->role >= 0 && x->role <= 4 ? rank[x->role] : 3;
	int ry = y->role >= 0 && y->role <= 4 ? rank[y->role] : 3;

	if (rx != ry)
		return rx < ry ? -1 : 1;
	if (x->worker_id != y->worker_id)
		return x->worker_id < y->worker_id ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Node.js without roles recorded (attach): its platform loop, when its stacks did not say, is
 * the first thread Node started after the main one that runs a loop (the delayed-task
 * scheduler starts with the platform, before V8 and long before any Worker), so the lowest tid
 * above the main thread's among the loops nothing else named. */
static void platform_by_order(const struct lsc_recording *r, struct lsc_loop_id *l, size_t n)
{
	const char *exe = r->header && r->header->executable ? r->header->executable : "";
	const char *base = strrchr(exe, '/');
	struct lsc_loop_id *low = NULL;
	size_t i;

	base = base ? base + 1 : exe;
	if (strcmp(base, "node") || !r->header->has_pid)
		return;
	for (i = 0; i < n; i++) {
		const Loopscope__Thread *t = lsc_recording_thread(r, l[i].tid);

		if (l[i].role == LOOPSCOPE__THREAD_ROLE__ROLE_PLATFORM || (t && t->has_role))
			return; /* the agent said, or the stacks did */
		if (l[i].role == LOOPSCOPE__THREAD_ROLE__ROLE_LOOP && l[i].tid > r->header->pid &&
		    (!low || l[i].tid < low->tid))
			low = &l[i];
	}
	for (i = 0; low && i < n; i++) /* a Worker started before it cannot be */
		if (l[i].role == LOOPSCOPE__THREAD_ROLE__ROLE_WORKER && l[i].tid < low->tid)
			return;
	if (low) {
		low->role = LOOPSCOPE__THREAD_ROLE__ROLE_PLATFORM;
		low->hidden = 1;
		snprintf(low->name, sizeof(low->name), "Node's platform loop");
		snprintf(low->key, sizeof(low->key), "platform");
	}
}

size_t lsc_loops_list(const struct lsc_recording *r, struct lsc_loop_id *out, size_t cap)
{
	uint32_t main_tid = lsc_recording_main_loop(r);
	size_t i, k, n = 0;

	for (i = 0; i < r->nwindows && n < cap; i++) {
		uint32_t tid = r->windows[i]->loop_tid;

		for (k = 0; k < n && out[k].tid != tid; k++)
			;
		if (k < n)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].tid = tid;
		name_loop(r, &out[n], main_tid);
		n++;
	}
	platform_by_order(r, out, n);
	qsort(out, n, sizeof(*out), loop_cmp);
	return n;
}

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long x;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	x = strtoul(s, &end, 10);
	if (*end || x > 0xffffffffUL)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int lsc_loop_matches(const struct lsc_loop_id *l, const char *sel)
{
	uint32_t v;

	if (!strcmp(sel, "*") || !strcmp(sel, "all"))
		return 1;
	if (!strcmp(sel, "main"))
		return l->role == LOOPSCOPE__THREAD_ROLE__ROLE_MAIN;
	if (!strcmp(sel, "platform"))
		return l->role == LOOPSCOPE__THREAD_ROLE__ROLE_PLATFORM;
	if (!strcmp(sel, "worker") || !strcmp(sel, "worker:*"))
		return l->role == LOOPSCOPE__THREAD_ROLE__ROLE_WORKER;
	if (!strncmp(sel, "worker:", 7)) {
		if (!sel[7])
			return -1;
		if (l->role != LOOPSCOPE__THREAD_ROLE__ROLE_WORKER)
			return 0;
		if (!parse_u32(sel + 7, &v))
			return l->worker_id == v;
		return sel[7] && l->script[0] &&
		       (!strcmp(sel + 7, l->script) || !strcmp(sel + 7, base_name(l->script)));
	}
	if (!strncmp(sel, "loop:", 5) || !strncmp(sel, "tid:", 4)) {
		if (parse_u32(sel + (sel[0] == 'l' ? 5 : 4), &v))
			return -1;
		return l->tid == v;
	}
	return -1;
}

/* ------------------------------------------------------------------ views */

/* Samples whose elements are a thread's: kept by thread; the rest serve the process. */
static int per_thread_kind(int kind)
{
	return kind == LOOPSCOPE__SAMPLE_KIND__CPU || kind == LOOPSCOPE__SAMPLE_KIND__OFFCPU ||
	       kind == LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS;
}

/* Whether tid's samples belong in the view: the loop's own; for the main loop, every thread
 * that runs no other loop too (the pool's, the main's helpers). */
static int tid_in_view(uint32_t tid, const struct lsc_loop_id *loop, const uint32_t *loops,
		       size_t nloops)
{
	size_t i;

	if (tid == loop->tid)
		return 1;
	if (!loop->is_main)
		return 0;
	for (i = 0; i < nloops; i++)
		if (loops[i] == tid)
			return 0;
	return 1;
}

/* A sample without a thread (an older writer's) is the main loop's. */
static int in_view(const Loopscope__Samples *s, size_t i, const struct lsc_loop_id *loop,
		   const uint32_t *loops, size_t nloops)
{
	return i < s->n_tid ? tid_in_view(s->tid[i], loop, loops, nloops) : loop->is_main;
}

struct view {
	struct lsc_recording r;
	Loopscope__Samples **made; /* filtered batches, owned */
	size_t nmade;
};

static int filter_samples(struct view *v, const Loopscope__Samples *s,
			  const struct lsc_loop_id *loop, const uint32_t *loops, size_t nloops)
{
	Loopscope__Samples *c;
	size_t i, n = 0;

	for (i = 0; i < s->n_stack_id && i < s->n_value; i++)
		n += in_view(s, i, loop, loops, nloops);
	if (!n)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	v->made[v->nmade++] = c;
	*c = *s;
	c->stack_id = malloc(n * sizeof(*c->stack_id));
	c->value = malloc(n * sizeof(*c->value));
	c->tid = malloc(n * sizeof(*c->tid));
	if (!c->stack_id || !c->value || !c->tid)
		return -ENOMEM;
	c->n_stack_id = c->n_value = c->n_tid = 0;
	for (i = 0; i < s->n_stack_id && i < s->n_value; i++) {
		if (!in_view(s, i, loop, loops, nloops))
			continue;
		c->stack_id[c->n_stack_id++] = s->stack_id[i];
		c->value[c->n_value++] = s->value[i];
		c->tid[c->n_tid++] = i < s->n_tid ? s->tid[i] : 0;
	}
	v->r.samples[v->r.nsamples++] = c;
	return 0;
}

static int event_in_view(const Loopscope__Event *e, const struct lsc_loop_id *loop,
			 const uint32_t *loops, size_t nloops)
{
	switch (e->body_case) {
	case LOOPSCOPE__EVENT__BODY_BLOCKING: /* a thread that runs no loop: the main's view */
		return tid_in_view(e->blocking->tid, loop, loops, nloops);
	case LOOPSCOPE__EVENT__BODY_GC:
		return e->gc->has_tid ? e->gc->tid == loop->tid : loop->is_main;
	default: /* the crash, the shutdown: the process's, every loop's */
		return 1;
	}
}

int lsc_recording_loop_view(const struct lsc_recording *r, const struct lsc_loop_id *loop,
			    struct lsc_recording **out)
{
	struct view *v = calloc(1, sizeof(*v));
	uint32_t loops[LSC_MAX_LOOPS];
	size_t i, k, nloops = 0;
	int err = 0;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	v->r = *r;
	v->r.records_ = NULL;
	v->r.nrecords_ = 0;
	v->r.mappings = NULL; /* borrowed below: the free must not free them */
	v->r.windows = calloc(r->nwindows + 1, sizeof(*v->r.windows));
	v->r.events = calloc(r->nevents + 1, sizeof(*v->r.events));
	v->r.samples = calloc(r->nsamples + 1, sizeof(*v->r.samples));
	v->made = calloc(r->nsamples + 1, sizeof(*v->made));
	if (!v->r.windows || !v->r.events || !v->r.samples || !v->made) {
		err = -ENOMEM;
		goto out;
	}
	v->r.mappings = r->mappings;
	for (i = 0; i < r->nwindows; i++) {
		uint32_t tid = r->windows[i]->loop_tid;

		for (k = 0; k < nloops && loops[k] != tid; k++)
			;
		if (k == nloops && nloops < LSC_MAX_LOOPS)
			loops[nloops++] = tid;
	}
	v->r.nwindows = v->r.nevents = v->r.nsamples = 0;
	for (i = 0; i < r->nwindows; i++)
		if (r->windows[i]->loop_tid == loop->tid)
			v->r.windows[v->r.nwindows++] = r->windows[i];
	for (i = 0; i < r->nevents; i++)
		if (event_in_view(r->events[i], loop, loops, nloops))
			v->r.events[v->r.nevents++] = r->events[i];
	for (i = 0; i < r->nsamples && !err; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (per_thread_kind((int)s->kind))
			err = filter_samples(v, s, loop, loops, nloops);
		else if (loop->is_main) /* the heaps, the pool's submissions: the process's */
			v->r.samples[v->r.nsamples++] = s;
	}
out:
	if (err) {
		lsc_recording_view_free(&v->r);
		return err;
	}
	*out = &v->r;
	return 0;
}

void lsc_recording_view_free(struct lsc_recording *rv)
{
	struct view *v = (struct view *)rv; /* r is its first member */
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->nmade; i++) {
		free(v->made[i]->stack_id);
		free(v->made[i]->value);
		free(v->made[i]->tid);
		free(v->made[i]);
	}
	free(v->made);
	free(v->r.windows);
	free(v->r.events);
	free(v->r.samples);
	free(v);
}
