/*
 * report_loops.c — the report of a recording with several loops: one report per loop, each
 * built from the loop's view (lsc_loops.h), and the one to lead with (docs/report.md "Loops").
 */
#include "lsc_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lsc_report_severity(const struct lsc_report *r, int of_code)
{
	int s = -1;
	size_t i;

	for (i = 0; i < r->nfindings; i++)
		if (r->findings[i].severity > s &&
		    (!of_code || strcmp(r->findings[i].id, "cpu-contention")))
			s = r->findings[i].severity;
	return s;
}

/* Whether a is worse than b: a more severe finding about its code (a busy machine's finding is
 * every loop's), then any finding, then a busier loop. */
int lsc_report_worse(const struct lsc_report *a, const struct lsc_report *b)
{
	int sa = lsc_report_severity(a, 1), sb = lsc_report_severity(b, 1);

	if (sa != sb)
		return sa > sb;
	sa = lsc_report_severity(a, 0);
	sb = lsc_report_severity(b, 0);
	if (sa != sb)
		return sa > sb;
	return a->elu_mean > b->elu_mean + 0.05;
}

static void name_findings(struct lsc_report *rep, const char *name)
{
	size_t i;

	for (i = 0; i < rep->nfindings; i++) {
		struct lsc_finding *f = &rep->findings[i];
		char t[sizeof(f->title)];

		snprintf(t, sizeof(t), "%s: %s", name, f->title);
		memcpy(f->title, t, sizeof(t));
	}
}

int lsc_report_build_loops(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   const char *sel, struct lsc_report_loops *out)
{
	struct lsc_loop_id *all = calloc(LSC_MAX_LOOPS, sizeof(*all));
	size_t n, i, visible = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!all)
		return -ENOMEM;
	n = lsc_loops_list(r, all, LSC_MAX_LOOPS);
	if (sel && lsc_loop_matches(&all[0], sel) < 0) {
		free(all);
		return LSC_EBADLOOP;
	}
	for (i = 0; i < n; i++)
		visible += !all[i].hidden;
	out->main = LSC_MAX_LOOPS;
	for (i = 0; i < n && !err; i++) {
		struct lsc_recording *v = NULL;
		struct lsc_report *rep;
		size_t k = out->n;

		if (sel ? lsc_loop_matches(&all[i], sel) != 1 : all[i].hidden) {
			out->hidden += !sel && all[i].hidden;
			continue;
		}
		rep = calloc(1, sizeof(*rep));
		if (!rep || (err = lsc_recording_loop_view(r, &all[i], &v)) != 0) {
			free(rep);
			err = err ? err : -ENOMEM;
			break;
		}
		err = lsc_report_build(v, sym, rep);
		lsc_recording_view_free(v);
		if (err) {
			free(rep);
			break;
		}
		out->id[k] = all[i];
		out->rep[k] = rep;
		snprintf(rep->loop_name, sizeof(rep->loop_name), "%s", all[i].name);
		snprintf(rep->loop_key, sizeof(rep->loop_key), "%s", all[i].key);
		rep->loop_role = all[i].role;
		rep->loops_in_recording = (unsigned)visible;
		if (visible > 1)
			name_findings(rep, all[i].name);
		if (all[i].is_main)
			out->main = k;
		if (k && lsc_report_worse(rep, out->rep[out->lead]))
			out->lead = k;
		out->n++;
	}
	free(all);
	if (!err && !out->n && n)
		err = sel ? LSC_ENOSUCHLOOP : 0;
	if (!err && !out->n) { /* no loop at all: the whole recording */
		out->rep[0] = calloc(1, sizeof(*out->rep[0]));
		if (!out->rep[0])
			err = -ENOMEM;
		else if (!(err = lsc_report_build(r, sym, out->rep[0])))
			out->n = 1;
	}
	if (err)
		lsc_report_loops_free(out);
	return err;
}

void lsc_report_loops_free(struct lsc_report_loops *l)
{
	size_t i;

	for (i = 0; i < LSC_MAX_LOOPS; i++)
		free(l->rep[i]);
	memset(l, 0, sizeof(*l));
}
