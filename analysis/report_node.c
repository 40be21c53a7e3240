/*
 * report_node.c — Node.js's own count of its active resources in the report: the windows'
 * `resources` (process.getActiveResourcesInfo() by type, read by the agent) replace libuv's
 * handle count when present. Node keeps every JS timer on one libuv timer, so libuv's count stays
 * flat while an app leaks thousands of Timeouts; Node's list does not.
 *
 * The type that grew most is traced to the JS function that creates it, where the JS heap's
 * allocation sites can tell: the live objects of the last JS heap snapshot whose stacks pass
 * through that type's constructor (a Timeout is made by `new Timeout` under setTimeout or
 * setInterval in node:internal/timers), summed by their owner frame (the first frame of the
 * program's own code).
 */
#include "lsc_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The JS functions that make a resource of this type (Node 20's lib/). */
static const char *const *makers(const char *type)
{
	static const char *const timeout[] = {"Timeout", "setTimeout", "setInterval", NULL};
	static const char *const immediate[] = {"Immediate", "setImmediate", NULL};
	static const char *const socket[] = {"Socket", "connect", "createConnection", NULL};
	static const char *const server[] = {"Server", "createServer", "listen", NULL};

	if (!strcmp(type, "Timeout"))
		return timeout;
	if (!strcmp(type, "Immediate"))
		return immediate;
	if (!strcmp(type, "TCPSocketWrap") || !strcmp(type, "PipeWrap"))
		return socket;
	if (!strcmp(type, "TCPServerWrap"))
		return server;
	return NULL;
}

static struct lsc_report_resource *type_of(struct lsc_report *rep, const char *name)
{
	size_t i;

	for (i = 0; i < rep->nres_types; i++)
		if (!strcmp(rep->res_types[i].type, name))
			return &rep->res_types[i];
	if (rep->nres_types == sizeof(rep->res_types) / sizeof(rep->res_types[0]))
		return NULL;
	memset(&rep->res_types[rep->nres_types], 0, sizeof(rep->res_types[0]));
	snprintf(rep->res_types[rep->nres_types].type, sizeof(rep->res_types[0].type), "%s", name);
	return &rep->res_types[rep->nres_types++];
}

static int by_growth(const void *a, const void *b)
{
	const struct lsc_report_resource *x = a, *y = b;
	int64_t gx = (int64_t)x->last - x->first, gy = (int64_t)y->last - y->first;

	return gx < gy ? 1 : gx > gy ? -1 : strcmp(x->type, y->type);
}

static int stack_passes(const struct lsc_recording *r, struct lsc_symbolizer *sym, uint32_t id,
			const char *const *names)
{
	const Loopscope__Stack *st = lsc_recording_stack(r, id);
	size_t d, k;

	for (d = 0; st && d < st->n_frames; d++) {
		struct lsc_named_frame nf;

		lsc_frame_name(r, sym, st->frames[d], d > 0, 0, &nf);
		for (k = 0; names[k]; k++)
			if (!strcmp(nf.name, names[k]))
				return 1;
	}
	return 0;
}

static uint64_t value_of(const struct lsc_heap_values *hv, uint32_t id)
{
	size_t lo = 0, hi = hv->n;

	while (lo < hi) { /* the values are in stack id order */
		size_t mid = (lo + hi) / 2;

		if (hv->stack_id[mid] == id)
			return hv->value[mid];
		if (hv->stack_id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static uint32_t first_js_snapshot(const struct lsc_recording *r)
{
	uint32_t lo = 0;
	size_t i;

	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind == LOOPSCOPE__SAMPLE_KIND__JS_LIVE_COUNT && s->snapshot &&
		    s->snapshot_end && (!lo || s->snapshot < lo))
			lo = s->snapshot;
	}
	return lo;
}

/*
 * Who makes the type: the owner frame whose live JS objects made through the type's makers grew
 * most from the first JS heap snapshot to the last. V8 names the frame that allocated, and an
 * optimized caller that inlined setInterval allocates the Timeout in its own frame: when no stack
 * passes through a maker, the owner whose live objects grew most in number stands in, if it grew
 * by half the type's growth at least (each resource is one JS object or more), said as such.
 */
static void creator(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		    struct lsc_report *rep, const struct lsc_report_resource *t)
{
	const char *const *names = makers(t->type);
	struct lsc_heap_values last, first = {0};
	struct {
		struct lsc_report_frame f;
		uint64_t made, grew;
	} * own;
	uint32_t lo = first_js_snapshot(r);
	size_t i, k, nown = 0, best = 0;

	if (!lo || lsc_recording_heap_snapshot(r, LOOPSCOPE__SAMPLE_KIND__JS_LIVE_COUNT, 0, &last))
		return;
	if (lsc_recording_heap_snapshot(r, LOOPSCOPE__SAMPLE_KIND__JS_LIVE_COUNT, lo, &first))
		memset(&first, 0, sizeof(first));
	own = calloc(last.n ? last.n : 1, sizeof(*own));
	for (i = 0; own && i < last.n; i++) {
		uint64_t before = value_of(&first, last.stack_id[i]);
		struct lsc_report_stack st;

		if (last.value[i] <= before)
			continue;
		lsc_report_fill_stack(r, sym, last.stack_id[i], &st);
		if (st.owner.tier > LSC_OWNER_DEPENDENCY) /* nothing of the app or its packages */
			continue;
		for (k = 0; k < nown && (strcmp(own[k].f.name, st.owner.name) ||
					 strcmp(own[k].f.file, st.owner.file) ||
					 own[k].f.line != st.owner.line);
		     k++)
			;
		if (k == nown)
			own[nown++].f = st.owner;
		own[k].grew += last.value[i] - before;
		if (names && stack_passes(r, sym, last.stack_id[i], names))
			own[k].made += last.value[i] - before;
	}
	for (k = 1; own && k < nown; k++)
		if (own[k].made > own[best].made ||
		    (own[k].made == own[best].made && own[k].grew > own[best].grew))
			best = k;
	if (own && nown &&
	    (own[best].made || 2 * own[best].grew >= (uint64_t)(t->last - t->first))) {
		rep->has_res_creator = 1;
		rep->res_creator = own[best].f;
		rep->res_creator_count = own[best].made ? own[best].made : own[best].grew;
		rep->res_creator_exact = own[best].made > 0;
	}
	free(own);
	lsc_heap_values_free(&last);
	lsc_heap_values_free(&first);
}

void lsc__report_resources(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   struct lsc_report *rep)
{
	uint32_t main_tid = lsc_recording_main_loop(r), prev = 0;
	size_t i, k, steps = 0, rises = 0, n = 0, nknown = 0;

	for (i = 0; i < r->nwindows; i++) {
		const Loopscope__Window *w = r->windows[i];
		uint32_t total = 0;

		if (w->loop_tid != main_tid || !w->resources_counted)
			continue;
		uint32_t before[32];

		for (k = 0; k < rep->nres_types; k++) {
			before[k] = rep->res_types[k].last;
			rep->res_types[k].last = 0; /* a type absent now has none */
		}
		for (k = 0; k < w->n_resources; k++) {
			struct lsc_report_resource *t;

			if (!w->resources[k]->type || !(t = type_of(rep, w->resources[k]->type)))
				continue;
			t->last = w->resources[k]->count;
			if (!n)
				t->first = t->last;
			if (t->last > t->max)
				t->max = t->last;
			total += t->last;
		}
		for (k = 0; n && k < rep->nres_types; k++) {
			struct lsc_report_resource *t = &rep->res_types[k];
			uint32_t was = k < sizeof(before) / sizeof(before[0]) ? before[k] : 0;

			/* a type new in this window was at 0 before it (before[] is only as long as
			 * the types known then: the new ones are past it) */
			if (k >= nknown)
				was = 0;
			t->changes += t->last != was;
			t->rises += t->last > was;
		}
		nknown = rep->nres_types;
		if (!n++)
			rep->handles_first = total, rep->handles_max = 0;
		else
			steps += total != prev, rises += total > prev;
		rep->handles_last = prev = total;
		if (total > rep->handles_max)
			rep->handles_max = total;
	}
	if (!n)
		return;
	rep->has_handles = rep->handles_node = 1;
	rep->handles_growing = steps ? (double)rises / (double)steps : 0;
	qsort(rep->res_types, rep->nres_types, sizeof(rep->res_types[0]), by_growth);
	if (rep->nres_types && rep->res_types[0].last > rep->res_types[0].first)
		creator(r, sym, rep, &rep->res_types[0]);
}
