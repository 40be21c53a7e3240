/*
 * report_set.c — a set of processes' report as text and JSON (analysis/lsc_report_set.h): a
 * row per process, the findings processes share, what did not record, then the worst process's
 * report as `report` prints one.
 */
#include "lsc_render.h"
#include "render_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

static const char *sev_name[] = {"info", "warning", "critical"};

/* "1 of 2 children of pid 100 (node app.js)", "pid 100 (node app.js)" */
static void who(const struct lsc_report_set *s, const struct lsc_set_finding *f, char *buf,
		size_t cap)
{
	const struct lsc_report_process *p = NULL;
	size_t i;

	for (i = 0; i < s->n && !p; i++)
		if (s->p[i].group == f->group)
			p = &s->p[i];
	if (f->of == 1)
		snprintf(buf, cap, "pid %u (%.120s)", p->pid, p->command);
	else
		snprintf(buf, cap, "%u of %u children of pid %u running %.120s", f->procs, f->of,
			 p->parent_pid, p->command);
}

static int set_text(FILE *o, const struct lsc_report_set *s)
{
	const struct lsc_report_loops *lead = s->p[s->lead].loops;
	size_t i;

	if (s->n == 1 && !s->nmissing)
		return lead ? lsc_render_report_loops_text(o, lead) : 0;
	fprintf(o, "loopscope report: a set of %zu processes\n\nProcesses\n", s->n);
	for (i = 0; i < s->n; i++) {
		const struct lsc_report_loops *l = s->p[i].loops;
		const struct lsc_report *m = l && l->main < l->n ? l->rep[l->main] : NULL;
		int sev = lsc_report_loops_severity(l);
		char rel[64] = "the recording named";

		if (i)
			snprintf(rel, sizeof(rel), "child of %u", s->p[i].parent_pid);
		fprintf(o, "  pid %-7u %-22s %-.60s\n", s->p[i].pid, rel, s->p[i].command);
		if (m)
			fprintf(o,
				"            main ELU %.2f, lag p99 %.1f ms, %zu loop%s, %.1f s: %s\n",
				m->elu_mean, m->lag_p99 / 1e6, l->n, l->n == 1 ? "" : "s",
				m->duration_ns / 1e9, sev < 0 ? "no finding" : sev_name[sev]);
		else
			fputs("            no loop the selector matches\n", o);
	}
	if (s->children)
		fprintf(o,
			"  its %u children in all: %.2f s of their main loops busy over %.2f s "
			"(ELU %.2f), %llu CPU samples\n",
			s->children, s->children_busy_s, s->children_wall_s,
			s->children_wall_s > 0 ? s->children_busy_s / s->children_wall_s : 0,
			(unsigned long long)s->children_cpu);
	for (i = 0; i < s->nmissing; i++)
		fprintf(o, "  not recorded: pid %u (%.80s): %s\n", s->missing[i].pid,
			s->missing[i].command, s->missing[i].why);
	if (s->missing_other)
		fprintf(o, "  not recorded: %zu other descendants that are not Node.js\n",
			s->missing_other);
	fputs("\nAcross processes\n", o);
	if (!s->nshared)
		fputs("  no problem found by the default rules in any process\n", o);
	for (i = 0; i < s->nshared; i++) {
		const struct lsc_set_finding *f = &s->shared[i];
		char w[400];

		who(s, f, w, sizeof(w));
		fprintf(o, "  [%s] %s: %s\n         %s\n", sev_name[f->f.severity], w, f->f.title,
			f->f.evidence);
	}
	fprintf(o, "\nShowing pid %u, the worst; --pid PID for another\n\n", s->p[s->lead].pid);
	if (lead)
		return lsc_render_report_loops_text(o, lead);
	return ferror(o) ? -EIO : 0;
}

int lsc_render_report_set_text(FILE *o, const struct lsc_report_set *s)
{
	int e = set_text(o, s);

	if (!e && s->snapshots)
		e = lsc_render_snap_summary_text(o, s->snapshots);
	return e;
}

static json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

int lsc_render_report_set_json(FILE *out, const struct lsc_report_set *s)
{
	static const char *sev[] = {"info", "warning", "critical"};
	const struct lsc_report_loops *lead = s->p[s->lead].loops;
	json_object *root, *a, *o;
	size_t i;

	root = lead ? lsc__report_loops_json(lead) : json_object_new_object();
	if (s->snapshots && s->snapshots->n)
		json_object_object_add(root, "heap_snapshots",
				       lsc__snap_summary_json(s->snapshots));
	if (s->n == 1 && !s->nmissing)
		return lsc__emit_json(out, root);
	a = json_object_new_array();
	for (i = 0; i < s->n; i++) {
		const struct lsc_report_loops *l = s->p[i].loops;
		const struct lsc_report *m = l && l->main < l->n ? l->rep[l->main] : NULL;
		int w = lsc_report_loops_severity(l);

		o = json_object_new_object();
		json_object_object_add(o, "pid", u64(s->p[i].pid));
		json_object_object_add(o, "parent_pid", u64(s->p[i].parent_pid));
		json_object_object_add(o, "command", json_object_new_string(s->p[i].command));
		json_object_object_add(o, "group", u64(s->p[i].group));
		json_object_object_add(o, "loops", u64(l ? l->n : 0));
		if (m) {
			json_object_object_add(o, "elu_mean", json_object_new_double(m->elu_mean));
			json_object_object_add(o, "lag_p99_ns", u64(m->lag_p99));
			json_object_object_add(o, "duration_ns", u64(m->duration_ns));
		}
		json_object_object_add(o, "worst", json_object_new_string(w < 0 ? "none" : sev[w]));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "processes", a);
	json_object_object_add(root, "lead_pid", u64(s->p[s->lead].pid));
	o = json_object_new_object();
	json_object_object_add(o, "count", u64(s->children));
	json_object_object_add(o, "busy_s", json_object_new_double(s->children_busy_s));
	json_object_object_add(o, "wall_s", json_object_new_double(s->children_wall_s));
	json_object_object_add(o, "cpu_samples", u64(s->children_cpu));
	json_object_object_add(root, "children", o);
	a = json_object_new_array();
	for (i = 0; i < s->nshared; i++) {
		const struct lsc_set_finding *f = &s->shared[i];

		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(f->f.id));
		json_object_object_add(o, "severity", json_object_new_string(sev[f->f.severity]));
		json_object_object_add(o, "title", json_object_new_string(f->f.title));
		json_object_object_add(o, "evidence", json_object_new_string(f->f.evidence));
		json_object_object_add(o, "processes", u64(f->procs));
		json_object_object_add(o, "of", u64(f->of));
		json_object_object_add(o, "group", u64(f->group));
		json_object_object_add(o, "frame",
				       f->f.has_frame ? lsc__frame_json(&f->f.frame) : NULL);
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "across", a);
	a = json_object_new_array();
	for (i = 0; i < s->nmissing; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "pid", u64(s->missing[i].pid));
		json_object_object_add(o, "command", json_object_new_string(s->missing[i].command));
		json_object_object_add(o, "why", json_object_new_string(s->missing[i].why));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "not_recorded", a);
	json_object_object_add(root, "not_recorded_other", u64(s->missing_other));
	return lsc__emit_json(out, root);
}
