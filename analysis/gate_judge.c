/*
 * gate_judge.c — a budget's checks judged (lsc_gate.h): each check's metric in every run (one
 * recording, or a set of processes: the worst of its members), the median over the runs, the
 * limit (the baseline's value moved by the delta), the verdict and where to look.
 */
#include "gate_internal.h"
#include "lsc_error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A run measured: each member's figures. */
struct run_measured {
	const struct lsc_gate_run *run;
	struct measured *m;
	size_t worst; /* the member the last value came from */
};

/* The check's metric in a run: over its members, the worst (the highest against an upper
 * limit, the lowest against a lower one); *have 0 when no member has it. */
static double run_value(struct run_measured *rm, const struct lsc_gate_check *c, int *have)
{
	int upper = c->op == LSC_OP_LE || c->op == LSC_OP_LT, h;
	double v, worst = 0;
	size_t i;

	*have = 0;
	for (i = 0; i < rm->run->n; i++) {
		v = lsc__gate_value(rm->run->r[i], rm->run->sym ? rm->run->sym[i] : NULL, &rm->m[i],
				    c, &h);
		if (!h)
			continue;
		if (!*have || (upper ? v > worst : v < worst)) {
			worst = v;
			rm->worst = i;
		}
		*have = 1;
	}
	return worst;
}

/* The check's metric over the runs: their median; -1 when a run lacks it. */
static int median_of(struct lsc_gate_check *c, struct run_measured *rms, size_t n, double *out)
{
	double v[64];
	size_t i;
	int have;

	for (i = 0; i < n && i < 64; i++) {
		v[i] = run_value(&rms[i], c, &have);
		if (!have)
			return -1;
	}
	qsort(v, i, sizeof(v[0]), by_double);
	*out = i % 2 ? v[i / 2] : (v[i / 2 - 1] + v[i / 2]) / 2;
	return 0;
}

static int measure_run(const struct lsc_gate_run *run, struct run_measured *rm)
{
	size_t i;
	int e = 0;

	rm->run = run;
	rm->m = calloc(run->n + 1, sizeof(*rm->m));
	if (!rm->m)
		return -ENOMEM;
	for (i = 0; !e && i < run->n; i++)
		e = lsc__gate_measure(run->r[i], run->sym ? run->sym[i] : NULL, &rm->m[i]);
	return e;
}

static void free_run(struct run_measured *rm)
{
	size_t i;

	for (i = 0; rm->m && i < rm->run->n; i++)
		lsc__gate_measured_free(&rm->m[i]);
	free(rm->m);
	rm->m = NULL;
}

static int selects_any(const struct run_measured *rm, const struct lsc_gate_check *c)
{
	size_t i;

	for (i = 0; i < rm->run->n; i++)
		if (lsc__gate_selects_any(&rm->m[i], c))
			return 1;
	return 0;
}

/* "its loops: main, worker:1" of a run's first member, for a selector nothing matched. */
static void loop_keys(const struct run_measured *rm, char *keys, size_t cap)
{
	size_t k;

	keys[0] = 0;
	for (k = 0; k < rm->m[0].loops.n && strlen(keys) < cap - 50; k++)
		snprintf(keys + strlen(keys), cap - strlen(keys), "%s%s", k ? ", " : "",
			 rm->m[0].loops.id[k].key);
}

/* Where to look when a loop metric failed: the stack behind the worst loop's time. */
static void note_of(struct lsc_gate_check *c, const struct run_measured *rm)
{
	const struct measured *m = &rm->m[rm->worst];
	const struct lsc_report *lr = m->loops.rep[m->worst];
	char who[200] = "", w[500];

	if (rm->run->n > 1 && rm->run->r[rm->worst]->header)
		snprintf(who, sizeof(who), "pid %u%s", rm->run->r[rm->worst]->header->pid,
			 c->loop[0] ? ", " : ": ");
	if (c->loop[0])
		snprintf(who + strlen(who), sizeof(who) - strlen(who), "%.120s: ", lr->loop_name);
	if (lr->nblocking && (!strncmp(c->metric, "blocking", 8) || !strncmp(c->metric, "lag", 3) ||
			      !strncmp(c->metric, "busy", 4) || !strncmp(c->metric, "elu", 3))) {
		lsc_report_owner_where(&lr->blocking[0].owner, "under", w, sizeof(w));
		snprintf(c->note, sizeof(c->note), "%smost blocking time %s", who, w);
	} else if (who[0]) {
		snprintf(c->note, sizeof(c->note), "on %.*s", (int)strlen(who) - 2, who);
	}
}

int lsc_gate_judge_runs(struct lsc_gate *g, const struct lsc_gate_run *runs, size_t n,
			const struct lsc_gate_run *base, char *err, size_t errlen)
{
	struct run_measured *rms = calloc(n + 1, sizeof(*rms));
	size_t i;
	int e = 0;

	if (!rms)
		return -ENOMEM;
	for (i = 0; !e && i < n; i++)
		e = measure_run(&runs[i], &rms[i]);
	if (!e && base)
		e = measure_run(base, &rms[n]);
	for (i = 0; !e && i < g->n; i++) {
		struct lsc_gate_check *c = &g->checks[i];
		const struct metric *m = lsc__gate_metric_of(c->metric);
		double lim;

		if (c->loop[0] && !selects_any(&rms[0], c)) {
			char keys[200];

			loop_keys(&rms[0], keys, sizeof(keys));
			snprintf(err, errlen,
				 "line %u: '%s': no loop of the recording is [%s]; its loops: %s",
				 c->line, c->text, c->loop, keys[0] ? keys : "none");
			e = LSC_ENODATA;
			break;
		}
		if (median_of(c, rms, n, &c->measured)) {
			snprintf(err, errlen, "line %u: '%s': the recording has no %s; it needs %s",
				 c->line, c->text, c->metric, m->needs);
			e = LSC_ENODATA;
			break;
		}
		lim = c->limit;
		if (c->relative) {
			int have;

			c->baseline = run_value(&rms[n], c, &have);
			if (!have) {
				snprintf(err, errlen,
					 "line %u: '%s': the baseline has no %s; it needs %s",
					 c->line, c->text, c->metric, m->needs);
				e = LSC_ENODATA;
				break;
			}
			lim = c->baseline + (c->delta_percent ? c->baseline * c->limit : c->limit);
			/* "baseline - 2ms" against a baseline of 1 ms: a limit no time can meet,
			 * or one every time meets; either way not what was meant */
			if (lim < 0 && lsc__gate_never_negative(m)) {
				char b[64], l[64];

				lsc_gate_format(c->metric, c->baseline, b, sizeof(b));
				lsc_gate_format(c->metric, lim, l, sizeof(l));
				snprintf(
					err, errlen,
					"%s:%u: impossible limit: %s with this baseline (%s), below "
					"zero, which %s never is: '%s'",
					g->file, c->line, l, b, c->metric, c->text);
				e = LSC_EBADBUDGET;
				break;
			}
		}
		/* the tolerance forgives: it moves the limit away from the measured side */
		c->effective = c->op == LSC_OP_LE || c->op == LSC_OP_LT ? lim + c->tolerance
									: lim - c->tolerance;
		switch (c->op) {
		case LSC_OP_LE:
			c->pass = c->measured <= c->effective;
			break;
		case LSC_OP_LT:
			c->pass = c->measured < c->effective;
			break;
		case LSC_OP_GE:
			c->pass = c->measured >= c->effective;
			break;
		default:
			c->pass = c->measured > c->effective;
		}
		if (!c->pass && lsc__gate_loop_metric(m)) {
			run_value(&rms[0], c,
				  &(int){0}); /* which member and loop of the first run */
			note_of(c, &rms[0]);
		}
	}
	for (i = 0; i < n; i++)
		free_run(&rms[i]);
	if (base)
		free_run(&rms[n]);
	free(rms);
	return e;
}

int lsc_gate_judge(struct lsc_gate *g, const struct lsc_recording *const *recs, size_t n,
		   const struct lsc_recording *base, struct lsc_symbolizer *const *syms,
		   struct lsc_symbolizer *base_sym, char *err, size_t errlen)
{
	struct lsc_gate_run *runs = calloc(n + 1, sizeof(*runs));
	struct lsc_gate_run b = {&base, base_sym ? &base_sym : NULL, 1};
	size_t i;
	int e;

	if (!runs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		runs[i].r = &recs[i];
		runs[i].sym = syms ? &syms[i] : NULL;
		runs[i].n = 1;
	}
	e = lsc_gate_judge_runs(g, runs, n, base ? &b : NULL, err, errlen);
	free(runs);
	return e;
}
