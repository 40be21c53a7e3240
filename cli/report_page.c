/*
 * report_page.c — `loopscope report REC -o report.html`: gathers what the page shows for one
 * process (its report, its flame graphs as SVG documents, its heap report) and writes the page
 * (render/report_html.c), whole or not at all. A set's other processes and a process's other
 * loops are named under the title, with the option that shows each.
 */
#include "cli.h"
#include "lsc_heap.h"
#include "lsc_render.h"
#include "lsc_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The flame graph of one kind as an SVG document (malloc'ed), or NULL when it has no samples. */
static char *flame_svg(const struct lsc_recording *r, struct lsc_symbolizer *sym, int kind,
		       const char *title, const char *countname)
{
	struct lsc_svg_opts o = {
		.width = 1200, .minwidth = 0.1, .title = title, .countname = countname};
	struct lsc_flame *f = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (lsc_flame_from_recording(r, kind, 0, sym, &f))
		return NULL;
	m = open_memstream(&buf, &len);
	if (m && lsc_render_svg(m, f, &o)) {
		fclose(m);
		free(buf);
		buf = NULL;
		m = NULL;
	}
	if (m)
		fclose(m);
	lsc_flame_free(f);
	return buf;
}

struct page {
	struct lsc_report_html_in in;
};

static int render(FILE *f, const void *ctx)
{
	return lsc_render_report_html(f, &((const struct page *)ctx)->in);
}

/* The process's report by loop (the text report's own); its main loop's, or NULL (said). */
static struct lsc_report_loops *by_loop(const char *src, const struct lsc_recording *r,
					struct lsc_symbolizer *sym)
{
	struct lsc_report_loops *l = calloc(1, sizeof(*l));
	int err = l ? lsc_report_build_loops(r, sym, NULL, l) : -ENOMEM;

	if (!err && !l->n) { /* no loop: the process's report as the text report makes it */
		l->rep[0] = calloc(1, sizeof(*l->rep[0]));
		err = l->rep[0] ? lsc_report_build(r, sym, l->rep[0]) : -ENOMEM;
		l->n = 1;
		l->main = 0;
	}
	if (err) {
		if (l)
			lsc_report_loops_free(l);
		free(l);
		lsc_fail("cannot analyse recording '%s': %s", src, lsc_strerror(err));
		return NULL;
	}
	return l;
}

static void free_loops(struct lsc_report_loops *l)
{
	if (l)
		lsc_report_loops_free(l);
	free(l);
}

int lsc_cli_report_page(const char *output, const char *src, struct lsc_cli_set *set,
			const struct lsc_snap_summary *snapshots)
{
	struct lsc_report_loops *l = by_loop(src, set->r[0], set->sym[0]);
	const struct lsc_report *others[LSC_MAX_LOOPS], *rep;
	struct lsc_heap_report heap;
	struct lsc_report_html_proc *procs = NULL;
	struct page p;
	char title[600], note[700] = "";
	int have_heap, ret = LSC_EXIT_FAIL;
	size_t i, n = 0;

	if (!l)
		return LSC_EXIT_FAIL;
	memset(&p, 0, sizeof(p));
	rep = l->rep[l->main < l->n ? l->main : 0];
	for (i = 0; i < l->n; i++)
		if (l->rep[i] != rep && !l->id[i].hidden)
			others[n++] = l->rep[i];
	have_heap = lsc_heap_build(set->r[0], set->sym[0], &heap) == 0;
	snprintf(title, sizeof(title), "loopscope report: %s (pid %u)",
		 rep->executable[0] ? rep->executable : "?", rep->pid);
	if (set->n > 1 && !(procs = calloc(set->n, sizeof(*procs)))) {
		free_loops(l);
		return lsc_fail("out of memory");
	}
	/* a set: a row per process, from its main loop's report */
	for (i = 0; set->n > 1 && i < set->n; i++) {
		struct lsc_report_loops *m = i ? calloc(1, sizeof(*m)) : l;
		const struct lsc_report *one;

		procs[i].pid = set->r[i]->header ? set->r[i]->header->pid : 0;
		if (!m ||
		    (i && (lsc_report_build_loops(set->r[i], set->sym[i], NULL, m) || !m->n))) {
			if (i)
				free_loops(m);
			continue;
		}
		one = m->rep[m->main < m->n ? m->main : 0];
		procs[i].executable = strdup(one->executable);
		procs[i].elu = one->elu_mean;
		procs[i].lag_p99_ns = one->lag_p99;
		procs[i].finding = one->nfindings ? strdup(one->findings[0].title) : NULL;
		if (i)
			free_loops(m);
	}
	if (set->n > 1)
		snprintf(note, sizeof(note), "One process of a set of %zu (the table below).",
			 set->n);
	p.in.title = title;
	p.in.note = note[0] ? note : NULL;
	p.in.rep = rep;
	p.in.rec = set->r[0];
	p.in.loops = others;
	p.in.nloops = n;
	p.in.flame_cpu =
		flame_svg(set->r[0], set->sym[0], LOOPSCOPE__SAMPLE_KIND__CPU, "CPU", "samples");
	p.in.flame_blocking = flame_svg(set->r[0], set->sym[0], LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS,
					"Blocking calls", "ns");
	p.in.flame_offcpu =
		flame_svg(set->r[0], set->sym[0], LOOPSCOPE__SAMPLE_KIND__OFFCPU, "Off-CPU", "ns");
	p.in.heap = have_heap ? &heap : NULL;
	p.in.snapshots = snapshots;
	p.in.procs = procs;
	p.in.nprocs = procs ? set->n : 0;
	ret = lsc_cli_emit(output, render, &p);
	free((char *)p.in.flame_cpu);
	free((char *)p.in.flame_blocking);
	free((char *)p.in.flame_offcpu);
	if (have_heap)
		lsc_heap_free(&heap);
	for (i = 0; procs && i < set->n; i++) {
		free((char *)procs[i].executable);
		free((char *)procs[i].finding);
	}
	free(procs);
	free_loops(l);
	return ret;
}
