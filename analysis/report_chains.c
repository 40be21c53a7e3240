/*
 * report_chains.c — starvation by a tick or microtask chain (docs/report.md "tick-starvation"):
 * a long busy stretch that ran inside the queue's runner, the same function of the program's
 * re-queued again and again (process.nextTick(spin) from spin; `while (...) await null`), holds
 * timers and I/O back for as long as the chain runs. Told from the CPU samples taken in the
 * stretch (the agent's stretches carry theirs; attach's CPU samples of the loop thread stand for
 * its long segments): most of them under the runner, most of those under one function of the
 * program, the first of the program's frames above the runner, the function the runner called.
 *
 * The runners, by name: Node's process.nextTick queue (processTicksAndRejections), V8's
 * microtask queue (MicrotaskQueue::RunMicrotasks, Builtins_RunMicrotasks), refloop's one
 * runner of both (drain_ticks_and_microtasks). The leaf-most runner on a stack says which queue
 * (a nextTick callback awaiting is a microtask chain). A stack is classified once per report
 * (a small table by stack id).
 */
#include "lsc_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int prefix; /* a C++ name: its start */
	int kind;   /* enum lsc_chain_kind */
} runners[] = {
	{"processTicksAndRejections", 0, LSC_CHAIN_TICK},
	{"v8::internal::MicrotaskQueue::RunMicrotasks", 1, LSC_CHAIN_MICROTASK},
	{"Builtins_RunMicrotasks", 0, LSC_CHAIN_MICROTASK},
	{"drain_ticks_and_microtasks", 0, LSC_CHAIN_EITHER},
};

static int runner_kind(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(runners) / sizeof(runners[0]); i++)
		if (runners[i].prefix ? !strncmp(name, runners[i].name, strlen(runners[i].name))
				      : !strcmp(name, runners[i].name))
			return runners[i].kind;
	return -1;
}

struct chain_stack {
	uint32_t id;
	int kind;  /* -1: not under a runner */
	int fn;	   /* index into the functions, or -1: no program frame above the runner */
	int taken; /* a slot of the table */
};

struct chain_fn {
	struct lsc_report_frame frame;
	uint64_t samples;
};

struct lsc_chains {
	const struct lsc_recording *r;
	struct lsc_symbolizer *sym;
	struct chain_stack *tab; /* open addressing by stack id */
	size_t cap, used;
	struct chain_fn fn[64];
	size_t nfn;
	uint64_t kind_samples[3];
};

int lsc__chains_new(const struct lsc_recording *r, struct lsc_symbolizer *sym,
		    struct lsc_chains **out)
{
	struct lsc_chains *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->r = r;
	c->sym = sym;
	c->cap = 1024;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void lsc__chains_free(struct lsc_chains *c)
{
	if (c)
		free(c->tab);
	free(c);
}

/* The function of the program the runner called on this stack, by its frame. */
static int fn_index(struct lsc_chains *c, const struct lsc_report_frame *f)
{
	size_t i;

	for (i = 0; i < c->nfn; i++)
		if (!strcmp(c->fn[i].frame.name, f->name) && !strcmp(c->fn[i].frame.file, f->file))
			return (int)i;
	if (c->nfn == sizeof(c->fn) / sizeof(c->fn[0]))
		return -1;
	c->fn[c->nfn].frame = *f;
	c->fn[c->nfn].samples = 0;
	return (int)c->nfn++;
}

static void classify(struct lsc_chains *c, uint32_t id, struct chain_stack *out)
{
	const Loopscope__Stack *st = lsc_recording_stack(c->r, id);
	struct lsc_named_frame nf;
	size_t d, n = st ? st->n_frames : 0, runner = n;

	out->kind = -1;
	out->fn = -1;
	/* the leaf-most runner */
	for (d = 0; d < n && runner == n; d++) {
		int k;

		lsc_frame_name(c->r, c->sym, st->frames[d], d > 0, d < st->kernel_frames, &nf);
		k = runner_kind(nf.name);
		if (k >= 0) {
			runner = d;
			out->kind = k;
		}
	}
	if (runner == n)
		return;
	/* the program's frame nearest above it: the function it called */
	for (d = runner; d-- > 0;) {
		struct lsc_report_frame fr;

		lsc_frame_name(c->r, c->sym, st->frames[d], d > 0, d < st->kernel_frames, &nf);
		if (lsc_owner_tier(&nf) > LSC_OWNER_DEPENDENCY)
			continue;
		memset(&fr, 0, sizeof(fr));
		snprintf(fr.name, sizeof(fr.name), "%s", nf.name);
		snprintf(fr.file, sizeof(fr.file), "%s", nf.file ? nf.file : "");
		fr.line = nf.line;
		fr.kind = nf.kind;
		fr.tier = (int)lsc_owner_tier(&nf);
		out->fn = fn_index(c, &fr);
		return;
	}
}

static struct chain_stack *lookup(struct lsc_chains *c, uint32_t id)
{
	size_t k;

	if ((c->used + 1) * 2 > c->cap) { /* grow: rehash */
		struct chain_stack *old = c->tab, *nt = calloc(c->cap * 2, sizeof(*nt));
		size_t i, oldcap = c->cap;

		if (!nt)
			return NULL;
		c->tab = nt;
		c->cap *= 2;
		for (i = 0; i < oldcap; i++)
			if (old[i].taken) {
				for (k = old[i].id * 2654435761u & (c->cap - 1); c->tab[k].taken;
				     k = (k + 1) & (c->cap - 1))
					;
				c->tab[k] = old[i];
			}
		free(old);
	}
	for (k = id * 2654435761u & (c->cap - 1); c->tab[k].taken; k = (k + 1) & (c->cap - 1))
		if (c->tab[k].id == id)
			return &c->tab[k];
	c->tab[k].taken = 1;
	c->tab[k].id = id;
	c->used++;
	classify(c, id, &c->tab[k]);
	return &c->tab[k];
}

int lsc__chains_judge(struct lsc_chains *c, const uint32_t *ids, const uint32_t *counts, size_t n,
		      struct lsc_chain_verdict *v)
{
	uint64_t total = 0, under = 0, per[64] = {0}, kinds[3] = {0};
	size_t i;
	int best = -1, kind = 0;

	memset(v, 0, sizeof(*v));
	v->fn = -1;
	for (i = 0; i < n; i++) {
		struct chain_stack *s = lookup(c, ids[i]);

		if (!s)
			return -ENOMEM;
		total += counts[i];
		if (s->kind < 0)
			continue;
		under += counts[i];
		kinds[s->kind] += counts[i];
		if (s->fn >= 0)
			per[s->fn] += counts[i];
	}
	for (i = 0; i < c->nfn; i++)
		if (per[i] && (best < 0 || per[i] > per[best]))
			best = (int)i;
	for (i = 1; i < 3; i++)
		if (kinds[i] > kinds[kind])
			kind = (int)i;
	v->samples = total;
	v->under_runner = under;
	/* a chain: most samples under the runner, most of those under one function */
	if (total >= 2 && under * 2 > total && best >= 0 && per[best] * 2 > under) {
		v->chain = 1;
		v->fn = best;
		v->fn_samples = per[best];
		v->kind = kind;
	}
	return 0;
}

void lsc__chains_add(struct lsc_chains *c, const struct lsc_chain_verdict *v)
{
	if (!v->chain)
		return;
	c->fn[v->fn].samples += v->fn_samples;
	c->kind_samples[v->kind] += v->fn_samples;
}

void lsc__chains_finish(const struct lsc_chains *c, struct lsc_report *rep)
{
	uint64_t all = 0;
	size_t i, best = 0;
	int k;

	for (i = 0; i < c->nfn; i++) {
		all += c->fn[i].samples;
		if (c->fn[i].samples > c->fn[best].samples)
			best = i;
	}
	if (!all)
		return;
	rep->has_starve_fn = 1;
	rep->starve_fn = c->fn[best].frame;
	rep->starve_fn_share = (double)c->fn[best].samples / (double)all;
	rep->starve_kind = LSC_CHAIN_TICK;
	for (k = 1; k < 3; k++)
		if (c->kind_samples[k] > c->kind_samples[rep->starve_kind])
			rep->starve_kind = k;
}
