/*
 * heap_js.c — Node.js's JS heap by allocation site (lsc_heap.h's struct lsc_heap_js), from the
 * agent's JS_LIVE_* snapshots of V8's sampling heap profile.
 *
 * V8 keeps one stack per path of JS functions; a person asks which function of theirs holds the
 * memory. Sites are merged by owner: the first frame of the program's own code on the stack
 * (lsc_report_fill_stack's rule: not node:internal, not V8's), so a Timeout allocated inside
 * node:internal/timers for a setInterval is the app's function that called setInterval; the
 * heaviest stack stays as the example. V8 names the function whose frame allocated (its start
 * line): code it inlined allocates in the caller's frame.
 *
 * The native sites that are the engine's own (no JS frame, the first frames in V8's code:
 * a scavenger copying strings out of the JS heap, a compiler) are marked when the JS heap was
 * recorded: the JS sites say who holds that memory, and they are not called leaks themselves.
 */
#include "heap_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NAME_ALL 20000 /* JS sites named (all of them, in any real program) */

static int same_owner(const struct lsc_report_frame *a, const struct lsc_report_frame *b)
{
	return a->line == b->line && !strcmp(a->name, b->name) && !strcmp(a->file, b->file);
}

static int by_growth(const void *a, const void *b)
{
	const struct lsc_heap_site *x = a, *y = b;

	if (x->growth != y->growth)
		return x->growth < y->growth ? 1 : -1;
	return x->stack.total < y->stack.total ? 1 : x->stack.total > y->stack.total ? -1 : 0;
}

/* Sites by owner: sums, the heaviest stack kept as the example; likely a leak when one of its
 * stacks that holds a quarter of the owner's growth or more grew steadily. Quadratic in owners,
 * which are few. */
static size_t merge_by_owner(struct lsc_heap_site *s, size_t n, double total_growth)
{
	size_t *group = malloc((n ? n : 1) * sizeof(*group)), i, k, m = 0;
	struct lsc_heap_site *sum = calloc(n ? n : 1, sizeof(*sum));

	if (!group || !sum) {
		free(group);
		free(sum);
		return n; /* unmerged: still right, only longer */
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < m && !same_owner(&sum[k].stack.owner, &s[i].stack.owner); k++)
			;
		group[i] = k;
		if (k == m) {
			sum[m] = s[i];
			sum[m].growth = 0, sum[m].stack.total = 0, sum[m].live_count = 0;
			sum[m].stacks = 0, sum[m].likely_leak = 0;
			m++;
		} else if (s[i].stack.total > sum[k].stack.total) {
			struct lsc_heap_site t = s[i]; /* the heavier stack is the example */

			t.growth = sum[k].growth, t.stack.total = sum[k].stack.total;
			t.live_count = sum[k].live_count, t.stacks = sum[k].stacks;
			sum[k] = t;
		}
		sum[k].growth += s[i].growth;
		sum[k].stack.total += s[i].stack.total;
		sum[k].live_count += s[i].live_count;
		sum[k].stacks++;
	}
	for (i = 0; i < n; i++)
		sum[group[i]].likely_leak |=
			s[i].likely_leak && s[i].growth * 4 >= sum[group[i]].growth;
	for (k = 0; k < m; k++) {
		sum[k].share = total_growth > 0 && sum[k].growth > 0
				       ? (double)sum[k].growth / total_growth
				       : 0;
		/* V8's pseudo-functions ("(V8 API)", "(IDLE)") hold what no JS function made */
		sum[k].likely_leak &= sum[k].growth >= 65536 && sum[k].share >= 0.01 &&
				      sum[k].stack.owner.tier < LSC_OWNER_RUNTIME;
	}
	memcpy(s, sum, m * sizeof(*s));
	free(group);
	free(sum);
	qsort(s, m, sizeof(*s), by_growth);
	return m;
}

/* V8's own code: the engine, not the program (its names, demangled). */
static int engine_frame(const char *name)
{
	return !strncmp(name, "v8::", 4) || !strncmp(name, "Builtins_", 9) ||
	       !strncmp(name, "cppgc::", 7) || !strncmp(name, "heap::base::", 12);
}

static void mark_engine(struct lsc_heap_report *h)
{
	size_t i, f;

	for (i = 0; i < h->nsites; i++) {
		struct lsc_heap_site *s = &h->sites[i];
		int engine = 0, js = 0;

		for (f = 0; f < s->stack.nframes; f++)
			js |= s->stack.frames[f].kind == LSC_CODE_JIT;
		for (f = 0; f < s->stack.nframes && f < 8 && !engine; f++)
			engine = engine_frame(s->stack.frames[f].name);
		s->engine = engine && !js;
		if (s->engine)
			s->likely_leak = 0;
	}
}

int lsc__heap_js(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		 struct lsc_heap_report *h)
{
	struct lsc_heap_site_set o = {0};
	double total_growth = 0;
	size_t i, unresolved = 0;
	int err;

	err = lsc__heap_family_sites(r, sym, &lsc__js_heap, NAME_ALL, &o, &unresolved);
	if (err || !o.snapshots) {
		free(o.sites);
		return err;
	}
	h->js.snapshots = o.snapshots;
	h->js.first_s = o.first_s;
	h->js.last_s = o.last_s;
	h->js.live_bytes = o.live_bytes;
	h->js.live_count = o.live_count;
	h->js.interval = r->header ? r->header->js_heap_sample_interval : 0;
	for (i = 0; i < o.nsites; i++) {
		h->js.growth += o.sites[i].growth;
		if (o.sites[i].growth > 0)
			total_growth += (double)o.sites[i].growth;
	}
	h->js.sites = o.sites;
	h->js.nsites = merge_by_owner(o.sites, o.nsites, total_growth);
	mark_engine(h);
	return 0;
}

int lsc__report_js_top(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		       struct lsc_report *rep)
{
	struct lsc_heap_report h;
	int err;

	memset(&h, 0, sizeof(h));
	err = lsc__heap_js(r, sym, &h);
	if (!err && h.js.nsites && h.js.sites[0].growth > 0) {
		rep->has_js_top = 1;
		rep->js_top = h.js.sites[0].stack.owner;
		rep->js_top_growth = h.js.sites[0].growth;
		rep->js_top_share = h.js.sites[0].share;
	}
	free(h.js.sites);
	return err;
}
