/*
 * gate_measure.c — a recording measured for a budget (gate_internal.h): each loop's report and
 * the heap's, then any metric of a check from them; diff's measurer.
 */
#include "gate_internal.h"
#include "lsc_error.h"
#include "lsc_flame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether stack id passes through a frame named like fn, every frame of it (not only the first
 * few a report shows), each stack named once: memo (nstacks + 1 entries, the last for ids
 * without a stack) is 0 unknown, 1 no, 2 yes. */
static int through(const struct lsc_recording *r, struct lsc_symbolizer *sym, uint32_t id,
		   const char *fn, uint8_t *memo)
{
	size_t at = lsc_recording_stack_index(r, id), f;
	const Loopscope__Stack *st = at < r->nstacks ? r->stacks[at] : NULL;
	int in = 0;

	if (memo && memo[at])
		return memo[at] == 2;
	for (f = 0; st && f < st->n_frames && !in; f++) {
		struct lsc_named_frame nf;

		lsc_frame_name(r, sym, st->frames[f], f > 0, f < st->kernel_frames, &nf);
		in = strstr(nf.name, fn) != NULL;
	}
	if (memo)
		memo[at] = in ? 2 : 1;
	return in;
}

/* Blocking time or count under fn, or the share of CPU samples under fn. */
static double under(const struct lsc_recording *r, struct lsc_symbolizer *sym, const char *metric,
		    const char *fn, int *have)
{
	uint8_t *memo = calloc(r->nstacks + 1, 1);
	size_t i, k;
	double total = 0, hit = 0;
	int cpu = !strcmp(metric, "cpu.share");

	*have = !cpu;
	for (i = 0; cpu && i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind != LOOPSCOPE__SAMPLE_KIND__CPU)
			continue;
		for (k = 0; k < s->n_stack_id && k < s->n_value; k++) {
			total += (double)s->value[k];
			if (through(r, sym, s->stack_id[k], fn, memo))
				hit += (double)s->value[k];
		}
	}
	for (i = 0; !cpu && i < r->nevents; i++) {
		const Loopscope__BlockingEvent *b = r->events[i]->blocking;

		/* call is optional: a call without a name is still a blocking call */
		if (r->events[i]->body_case != LOOPSCOPE__EVENT__BODY_BLOCKING ||
		    (b->call && !strcmp(b->call, "(busy loop)")))
			continue;
		if (through(r, sym, b->stack_id, fn, memo))
			hit += !strcmp(metric, "blocking.count") ? 1 : (double)b->duration_ns;
	}
	free(memo);
	if (cpu) {
		*have = total > 0;
		return total > 0 ? hit / total : 0;
	}
	return hit;
}

/* handles.max(TYPE), handles.growth(TYPE): one type of Node's resources ("Timeout"); 0 when
 * Node counted resources but never this type. */
static double resource_type(const struct lsc_report *p, const char *n, const char *type, int *have)
{
	size_t i;

	*have = p->handles_node;
	for (i = 0; i < p->nres_types; i++)
		if (!strcmp(p->res_types[i].type, type))
			return !strcmp(n, "handles.max") ? p->res_types[i].max
							 : (double)p->res_types[i].last -
								   (double)p->res_types[i].first;
	return 0;
}

/* A loop metric of one loop: its report p, its view r. */
static double loop_value(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			 const struct lsc_report *p, const struct lsc_gate_check *c, int *have)
{
	const char *n = c->metric;

	*have = p->has_loop;
	if (!strcmp(n, "elu.mean"))
		return p->elu_mean;
	if (!strcmp(n, "elu.max"))
		return p->elu_max;
	if (!strcmp(n, "lag.p50"))
		return (double)p->lag_p50;
	if (!strcmp(n, "lag.p99"))
		return (double)p->lag_p99;
	if (!strcmp(n, "lag.max"))
		return (double)p->lag_max;
	if (!strcmp(n, "busy.p99"))
		return (double)p->busy_p99;
	if (!strcmp(n, "busy.max"))
		return (double)p->busy_max;
	if (!strncmp(n, "blocking.", 9) && c->function[0])
		return under(r, sym, n, c->function, have);
	if (!strcmp(n, "blocking.count"))
		return (double)p->blocking_count;
	if (!strcmp(n, "blocking.total"))
		return (double)p->blocking_total_ns;
	if (!strcmp(n, "cpu.share"))
		return under(r, sym, n, c->function, have);
	if (!strcmp(n, "starvation.max")) /* the longest tick or microtask chain */
		return (double)p->starve_max_ns;
	if (!strcmp(n, "starvation.total"))
		return (double)p->starve_ns;
	*have = p->gc_count > 0;
	if (!strcmp(n, "gc.pause_total"))
		return (double)p->gc_pause_total;
	if (!strcmp(n, "gc.pause_max"))
		return (double)p->gc_pause_max;
	if (!strcmp(n, "gc.worst_second"))
		return (double)p->gc_worst_second;
	*have = 0;
	return 0;
}

/* The loops a check is about: its selector's, or the main loop. A recording without loop
 * windows has one report, of all of it. */
static int check_loop(const struct measured *m, size_t i, const struct lsc_gate_check *c)
{
	if (!m->loops.id[i].key[0])
		return 1;
	return lsc_loop_matches(&m->loops.id[i], c->loop[0] ? c->loop : "main") == 1;
}

/* A loop metric over the loops the check selects: the worst of them (the highest against an
 * upper limit, the lowest against a lower one); *have 0 when none has it. */
static double loops_value(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			  struct measured *m, const struct lsc_gate_check *c, int *have)
{
	int upper = c->op == LSC_OP_LE || c->op == LSC_OP_LT, h;
	double v, worst = 0;
	size_t i;

	*have = 0;
	for (i = 0; i < m->loops.n; i++) {
		const struct lsc_recording *view = r;

		if (!check_loop(m, i, c))
			continue;
		if (c->function[0] && m->loops.id[i].key[0]) {
			if (!m->view[i] && lsc_recording_loop_view(r, &m->loops.id[i], &m->view[i]))
				continue;
			view = m->view[i];
		}
		v = loop_value(view, sym, m->loops.rep[i], c, &h);
		if (!h)
			continue;
		if (!*have || (upper ? v > worst : v < worst)) {
			worst = v;
			m->worst = i;
		}
		*have = 1;
	}
	return worst;
}

int lsc__gate_selects_any(const struct measured *m, const struct lsc_gate_check *c)
{
	size_t i;

	for (i = 0; i < m->loops.n; i++)
		if (check_loop(m, i, c))
			return 1;
	return 0;
}

double lsc__gate_value(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		       struct measured *m, const struct lsc_gate_check *c, int *have)
{
	const struct lsc_report *p = m->main;
	const char *n = c->metric;
	const struct metric *mt = lsc__gate_metric_of(n);

	if (mt && lsc__gate_loop_metric(mt))
		return loops_value(r, sym, m, c, have);
	*have = p->has_pool;
	if (!strcmp(n, "pool.depth_max"))
		return p->pool_depth_max;
	if (!strcmp(n, "pool.wait_p99")) {
		*have = p->has_pool && p->pool_wait_p99 > 0;
		return (double)p->pool_wait_p99;
	}
	if (!strcmp(n, "backpressure.queued_max")) { /* the most queued at a window's end */
		*have = p->has_write_queue || p->has_js_write;
		return (double)p->write_peak;
	}
	if (!strcmp(n, "shutdown.hang")) { /* from the stop request to the end; 0: none */
		*have = p->has_loop;
		return p->has_shutdown_at && p->duration_ns > p->shutdown_at_ns
			       ? (double)(p->duration_ns - p->shutdown_at_ns)
			       : 0;
	}
	*have = m->heap_ok;
	if (!strcmp(n, "heap.native_rate")) {
		*have = m->heap_ok && m->heap.native.n >= 2;
		return m->heap.native_trend.rate;
	}
	if (!strcmp(n, "heap.managed_rate")) {
		*have = m->heap_ok && m->heap.managed.n >= 2 && !m->heap.managed_is_rss;
		return m->heap.managed_trend.rate;
	}
	if (!strcmp(n, "heap.js_growth")) { /* the JS heap's live bytes, first to last reading */
		*have = m->heap_ok && m->heap.js.snapshots >= 2;
		return (double)m->heap.js.growth;
	}
	if (!strcmp(n, "heap.leaked")) {
		*have = m->heap_ok && m->heap.snapshots > 0;
		return (double)m->heap.live_bytes;
	}
	*have = p->has_handles;
	if (!strncmp(n, "handles.", 8) && c->function[0]) /* by type: Node's own count */
		return resource_type(p, n, c->function, have);
	if (!strcmp(n, "handles.max"))
		return p->handles_max;
	if (!strcmp(n, "handles.growth"))
		return (double)p->handles_last - (double)p->handles_first;
	*have = 0;
	return 0;
}

int lsc__gate_measure(const struct lsc_recording *r, struct lsc_symbolizer *sym, struct measured *m)
{
	int err = lsc_report_build_loops(r, sym, "all", &m->loops);

	if (err)
		return err;
	m->main = m->loops.rep[m->loops.main < m->loops.n ? m->loops.main : 0];
	m->heap_ok = lsc_heap_build(r, sym, &m->heap) == 0;
	return 0;
}

void lsc__gate_measured_free(struct measured *m)
{
	size_t i;

	for (i = 0; i < LSC_MAX_LOOPS; i++)
		lsc_recording_view_free(m->view[i]);
	lsc_report_loops_free(&m->loops);
	if (m->heap_ok)
		lsc_heap_free(&m->heap);
	memset(m, 0, sizeof(*m));
}

struct lsc_gate_measurer {
	const struct lsc_recording *r;
	struct lsc_symbolizer *sym;
	struct measured m;
};

int lsc_gate_measurer_new(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			  struct lsc_gate_measurer **out)
{
	struct lsc_gate_measurer *g = calloc(1, sizeof(*g));
	int err;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->r = r;
	g->sym = sym;
	err = lsc__gate_measure(r, sym, &g->m);
	if (err) {
		free(g);
		return err;
	}
	*out = g;
	return 0;
}

int lsc_gate_measure(struct lsc_gate_measurer *g, const char *metric, const char *function,
		     const char *loop, double *v)
{
	struct lsc_gate_check c;
	int have;

	memset(&c, 0, sizeof(c));
	c.op = LSC_OP_LE;
	snprintf(c.metric, sizeof(c.metric), "%s", metric);
	snprintf(c.function, sizeof(c.function), "%s", function ? function : "");
	snprintf(c.loop, sizeof(c.loop), "%s", loop ? loop : "");
	*v = lsc__gate_value(g->r, g->sym, &g->m, &c, &have);
	return have;
}

void lsc_gate_measurer_free(struct lsc_gate_measurer *g)
{
	if (!g)
		return;
	lsc__gate_measured_free(&g->m);
	free(g);
}
