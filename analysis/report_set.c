/*
 * report_set.c — the report of a set of processes (lsc_report_set.h).
 */
#include "lsc_report_set.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void command_of(const struct lsc_recording *r, char *buf, size_t cap)
{
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 0; r->header && i < r->header->n_argv && off < cap - 1; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? " " : "",
					r->header->argv[i]);
	if (!buf[0] && r->header && r->header->executable)
		snprintf(buf, cap, "%s", r->header->executable);
}

int lsc_report_loops_severity(const struct lsc_report_loops *l)
{
	int s = -1, k;
	size_t i;

	for (i = 0; l && i < l->n; i++)
		if ((k = lsc_report_severity(l->rep[i], 0)) > s)
			s = k;
	return s;
}

/* Whether process a is worse than b: its worst loop's (lsc_report_worse). */
static int process_worse(const struct lsc_report_loops *a, const struct lsc_report_loops *b)
{
	if (!a || !a->n)
		return 0;
	if (!b || !b->n)
		return 1;
	return lsc_report_worse(a->rep[a->lead], b->rep[b->lead]);
}

/* Processes running one program (the same command) under one parent are a group: a cluster's
 * workers, the children one fork() call site makes. */
static void group(struct lsc_report_set *s)
{
	size_t i, k;
	unsigned next = 0;

	for (i = 0; i < s->n; i++) {
		for (k = 0; k < i; k++)
			if (s->p[k].parent_pid == s->p[i].parent_pid &&
			    !strcmp(s->p[k].command, s->p[i].command))
				break;
		s->p[i].group = k < i ? s->p[k].group : next++;
	}
}

/* A finding's title without the loop's name a report with several loops puts before it. */
static const char *bare_title(const struct lsc_report *r, const struct lsc_finding *f)
{
	size_t n = strlen(r->loop_name);

	if (n && !strncmp(f->title, r->loop_name, n) && !strncmp(f->title + n, ": ", 2))
		return f->title + n + 2;
	return f->title;
}

static int same_finding(const struct lsc_finding *a, const struct lsc_finding *b)
{
	return !strcmp(a->id, b->id) && a->has_frame == b->has_frame &&
	       (!a->has_frame ||
		(!strcmp(a->frame.name, b->frame.name) && !strcmp(a->frame.file, b->frame.file)));
}

static void share(struct lsc_report_set *s)
{
	size_t i, j, k, m;

	for (i = 0; i < s->n; i++) {
		const struct lsc_report_loops *l = s->p[i].loops;

		for (j = 0; l && j < l->n; j++) {
			const struct lsc_report *r = l->rep[j];

			for (k = 0; k < r->nfindings; k++) {
				const struct lsc_finding *f = &r->findings[k];
				struct lsc_set_finding *sf = NULL;

				for (m = 0; m < s->nshared; m++)
					if (s->shared[m].group == s->p[i].group &&
					    same_finding(&s->shared[m].f, f))
						sf = &s->shared[m];
				if (sf) {
					if (sf->example_pid != s->p[i].pid)
						sf->procs++; /* one per process, whatever its loops
							      */
					sf->example_pid = s->p[i].pid;
					continue;
				}
				if (s->nshared == LSC_SET_SHARED)
					continue;
				sf = &s->shared[s->nshared++];
				sf->f = *f;
				snprintf(sf->f.title, sizeof(sf->f.title), "%s", bare_title(r, f));
				sf->procs = 1;
				sf->group = s->p[i].group;
				sf->example_pid = s->p[i].pid;
			}
		}
	}
	for (m = 0; m < s->nshared; m++)
		for (i = 0; i < s->n; i++)
			s->shared[m].of += s->p[i].group == s->shared[m].group;
}

static void children(struct lsc_report_set *s, const struct lsc_recording *const *recs)
{
	size_t i, k;

	for (i = 1; i < s->n; i++) {
		const struct lsc_report_loops *l = s->p[i].loops;
		const struct lsc_report *m;

		if (s->p[i].parent_pid != s->p[0].pid)
			continue;
		s->children++;
		if (!l || l->main >= l->n)
			continue;
		m = l->rep[l->main];
		s->children_busy_s += m->elu_mean * (double)m->duration_ns / 1e9;
		s->children_wall_s += (double)m->duration_ns / 1e9;
		for (k = 0; k < recs[i]->nsamples; k++) {
			const Loopscope__Samples *x = recs[i]->samples[k];
			size_t v;

			for (v = 0; x->kind == LOOPSCOPE__SAMPLE_KIND__CPU && v < x->n_value; v++)
				s->children_cpu += x->value[v];
		}
	}
}

static void missing(struct lsc_report_set *s, const struct lsc_recording *first)
{
	size_t i;

	for (i = 0; i < first->nprocesses; i++) {
		const Loopscope__Process *p = first->processes[i];

		if (p->recorded)
			continue;
		if (!p->node || s->nmissing == LSC_SET_NOT_RECORD) {
			s->missing_other++;
			continue;
		}
		s->missing[s->nmissing].pid = p->pid;
		snprintf(s->missing[s->nmissing].command, sizeof(s->missing[0].command), "%s",
			 p->n_argv && p->argv[0] ? p->argv[0]
			 : p->executable	 ? p->executable
						 : "?");
		snprintf(s->missing[s->nmissing].why, sizeof(s->missing[0].why), "%s",
			 p->why ? p->why : "no recording");
		s->nmissing++;
	}
}

int lsc_report_build_set(const struct lsc_recording *const *recs, size_t n,
			 struct lsc_symbolizer *const *syms, const char *sel,
			 struct lsc_report_set *out)
{
	size_t i;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n && i < LSC_SET_MAX && !err; i++) {
		struct lsc_report_process *p = &out->p[out->n++];

		p->pid = recs[i]->header ? recs[i]->header->pid : 0;
		p->parent_pid = recs[i]->header ? recs[i]->header->parent_pid : 0;
		command_of(recs[i], p->command, sizeof(p->command));
		p->loops = calloc(1, sizeof(*p->loops));
		if (!p->loops) {
			err = -ENOMEM;
			break;
		}
		err = lsc_report_build_loops(recs[i], syms ? syms[i] : NULL, sel, p->loops);
		if (err == LSC_ENOSUCHLOOP) { /* a process without the loop asked for */
			free(p->loops);
			p->loops = NULL;
			err = 0;
		}
	}
	if (err) {
		lsc_report_set_free(out);
		return err;
	}
	for (i = 1; i < out->n; i++)
		if (process_worse(out->p[i].loops, out->p[out->lead].loops))
			out->lead = i;
	group(out);
	share(out);
	children(out, recs);
	missing(out, recs[0]);
	return 0;
}

void lsc_report_set_free(struct lsc_report_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->p[i].loops) {
			lsc_report_loops_free(s->p[i].loops);
			free(s->p[i].loops);
		}
	memset(s, 0, sizeof(*s));
}
