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

int lsc_cli_report_page(const char *output, const char *src, struct lsc_cli_set *set)
{
	struct lsc_report *rep = calloc(1, sizeof(*rep));
	struct lsc_heap_report heap;
	struct page p;
	char title[600], note[700] = "";
	int err, have_heap, ret = LSC_EXIT_FAIL;
	size_t i;

	if (!rep)
		return lsc_fail("out of memory");
	memset(&p, 0, sizeof(p));
	err = lsc_report_build(set->r[0], set->sym[0], rep);
	if (err) {
		free(rep);
		return lsc_fail("cannot analyse recording '%s': %s", src, lsc_strerror(err));
	}
	have_heap = lsc_heap_build(set->r[0], set->sym[0], &heap) == 0;
	snprintf(title, sizeof(title), "loopscope report: %s (pid %u)",
		 rep->executable[0] ? rep->executable : "?", rep->pid);
	if (set->n > 1) {
		size_t n = (size_t)snprintf(
			note, sizeof(note),
			"One process of a set of %zu; the others (--pid):", set->n);

		for (i = 1; i < set->n && n < sizeof(note) - 16; i++)
			n += (size_t)snprintf(note + n, sizeof(note) - n, " %u",
					      set->r[i]->header ? set->r[i]->header->pid : 0);
	}
	if (rep->loops_in_recording > 1 && strlen(note) < sizeof(note) - 120)
		snprintf(note + strlen(note), sizeof(note) - strlen(note),
			 "%sThe main loop's figures; %u loops in all: report --loop all lists "
			 "them.",
			 note[0] ? " " : "", rep->loops_in_recording);
	p.in.title = title;
	p.in.note = note[0] ? note : NULL;
	p.in.rep = rep;
	p.in.rec = set->r[0];
	p.in.flame_cpu =
		flame_svg(set->r[0], set->sym[0], LOOPSCOPE__SAMPLE_KIND__CPU, "CPU", "samples");
	p.in.flame_blocking = flame_svg(set->r[0], set->sym[0], LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS,
					"Blocking calls", "ns");
	p.in.flame_offcpu =
		flame_svg(set->r[0], set->sym[0], LOOPSCOPE__SAMPLE_KIND__OFFCPU, "Off-CPU", "ns");
	p.in.heap = have_heap ? &heap : NULL;
	ret = lsc_cli_emit(output, render, &p);
	free((char *)p.in.flame_cpu);
	free((char *)p.in.flame_blocking);
	free((char *)p.in.flame_offcpu);
	if (have_heap)
		lsc_heap_free(&heap);
	free(rep);
	return ret;
}
