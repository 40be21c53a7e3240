/*
 * heap.c — `loopscope heap` and `loopscope leaks` as text, JSON (json-c), a timeline SVG, and a
 * self-contained HTML page (inline SVG and tables, no script, no network). The SVG is written
 * here rather than with a library: it is a few dozen elements of fixed layout.
 */
#include "lsc_render.h"
#include "render_internal.h"

#include <json-c/json.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIB  1048576.0
#define W    960
#define H    360
#define PADL 70
#define PADR 20
#define PADT 30
#define PADB 50

static void where(const struct lsc_heap_site *s, char *buf, size_t cap)
{
	lsc_report_owner_where(&s->stack.owner, NULL, buf, cap);
}

static const char *mode_note(const struct lsc_heap_report *h)
{
	if (!strcmp(h->heap_mode, "full"))
		return "exact (--heap full)";
	if (!strcmp(h->heap_mode, "sampled"))
		return "estimated (--heap sampled)";
	return "not recorded";
}

/* ------------------------------------------------------------------ text */

static void trend_text(FILE *out, const char *what, const struct lsc_heap_series *s,
		       const struct lsc_heap_trend *t)
{
	if (!s->n)
		return;
	fprintf(out, "  %-22s %s: %.1f -> %.1f MiB (max %.1f), %+.1f KiB/s, confidence %.2f\n",
		what, lsc_heap_verdict_name(t->verdict), t->first / MIB, t->last / MIB,
		t->max / MIB, t->rate / 1024, t->confidence);
	fprintf(out, "  %-22s %s\n", "", t->how);
}

static void site_lines(FILE *out, const struct lsc_heap_site *s, int growth)
{
	char w[800];
	size_t f;

	where(s, w, sizeof(w));
	if (growth)
		fprintf(out, "  %+10.1f KiB  %5.1f%%  live %.1f KiB in %llu%s  at %s\n",
			(double)s->growth / 1024, 100 * s->share, (double)s->stack.total / 1024,
			(unsigned long long)s->live_count,
			s->likely_leak ? "  [likely leak]"
			: s->engine    ? "  [the JS engine's own]"
				       : "",
			w);
	for (f = 0; f < s->stack.nframes && f < 4; f++) {
		char fw[800];

		lsc_report_frame_where(&s->stack.frames[f], fw, sizeof(fw));
		fprintf(out, "      %s\n", fw);
	}
}

/* Node.js: the JS heap's sites by growth. */
static void js_text(FILE *out, const struct lsc_heap_report *h)
{
	size_t i, n = 0;

	if (!h->js.snapshots)
		return;
	fprintf(out,
		"\nWho grows (JS allocation sites, by function: V8's sampling heap profiler, a sample "
		"every %.0f KiB)\n",
		(double)h->js.interval / 1024);
	fprintf(out,
		"  JS heap live by its samples: %.1f MiB at the end, %+.1f MiB from the first "
		"to the last of %u snapshots\n",
		(double)h->js.live_bytes / MIB, (double)h->js.growth / MIB, h->js.snapshots);
	for (i = 0; i < h->js.nsites && n < LSC_HEAP_TOP; i++) {
		if (h->js.sites[i].growth <= 0)
			break;
		site_lines(out, &h->js.sites[i], 1);
		n++;
	}
	if (!n)
		fprintf(out, "  none grew\n");
	else
		fprintf(out,
			"  as a flame graph: loopscope flame REC --kind js-live -o js-live.svg\n");
}

int lsc_render_heap_text(FILE *out, const struct lsc_heap_report *h)
{
	size_t i, n = 0;

	fprintf(out, "loopscope heap: %.1f s, native heap %s, %u snapshots\n\nGrowth\n",
		h->duration_s, mode_note(h), h->snapshots);
	if (!h->native.n && !h->managed.n)
		fprintf(out,
			"  no heap timeline (capture with --heap sampled or full, or a runtime "
			"with GC events)\n");
	trend_text(out, "native (malloc)", &h->native, &h->native_trend);
	trend_text(out, h->managed_is_rss ? "RSS at GC ends" : "managed, after GC", &h->managed,
		   &h->managed_trend);
	if (h->rss.n)
		fprintf(out, "  %-22s %.1f -> %.1f MiB\n", "RSS", h->rss.p[0].bytes / MIB,
			h->rss.p[h->rss.n - 1].bytes / MIB);
	if (h->gc.n) {
		double total = 0, max = 0;

		for (i = 0; i < h->gc.n; i++) {
			total += h->gc.p[i].bytes;
			max = fmax(max, h->gc.p[i].bytes);
		}
		fprintf(out, "  %-22s %zu pauses, %.1f ms in all, max %.1f ms\n", "GC", h->gc.n,
			total / 1e6, max / 1e6);
	}
	js_text(out, h);
	fprintf(out, "\nWho grows (native allocation sites, first to last snapshot)\n");
	for (i = 0; i < h->nsites && n < LSC_HEAP_TOP; i++) {
		if (h->sites[i].growth <= 0)
			break;
		site_lines(out, &h->sites[i], 1);
		n++;
	}
	if (!n)
		fprintf(out, "  none grew\n");
	else
		fprintf(out, "  as a flame graph: loopscope flame REC --kind live -o live.svg (or "
			     "--kind alloc)\n");
	if (h->ntypes) {
		fprintf(out, "\nWho grows (managed types, live after the first and last GC)\n");
		for (i = 0; i < h->ntypes; i++)
			fprintf(out, "  %+10.1f KiB  %-32s %.1f -> %.1f KiB\n",
				(double)h->types[i].growth / 1024, h->types[i].name,
				(double)h->types[i].first / 1024, (double)h->types[i].last / 1024);
	}
	fprintf(out, "\nTemporary allocations (freed before their thread allocated again)\n");
	for (i = 0; i < h->ntemp; i++) {
		char w[800];

		where(&h->temp[i], w, sizeof(w));
		fprintf(out, "  %10llu of %llu allocations  at %s\n",
			(unsigned long long)h->temp[i].temp_count,
			(unsigned long long)h->temp[i].alloc_count, w);
	}
	if (!h->ntemp)
		fprintf(out, "  none recorded\n");
	if (h->v8_snapshots)
		lsc_render_snap_summary_text(out, h->v8_snapshots);
	return ferror(out) ? -EIO : 0;
}

/* ------------------------------------------------------------------ JSON */

static json_object *trend_json(const struct lsc_heap_series *s, const struct lsc_heap_trend *t)
{
	json_object *o = json_object_new_object(), *pts = json_object_new_array();
	size_t i;

	json_object_object_add(o, "verdict",
			       json_object_new_string(lsc_heap_verdict_name(t->verdict)));
	json_object_object_add(o, "rate_bytes_per_s", json_object_new_double(t->rate));
	json_object_object_add(o, "confidence", json_object_new_double(t->confidence));
	json_object_object_add(o, "first_bytes", json_object_new_double(t->first));
	json_object_object_add(o, "last_bytes", json_object_new_double(t->last));
	json_object_object_add(o, "how", json_object_new_string(t->how));
	for (i = 0; i < s->n; i++) {
		json_object *p = json_object_new_array();

		json_object_array_add(p, json_object_new_double(s->p[i].t));
		json_object_array_add(p, json_object_new_double(s->p[i].bytes));
		json_object_array_add(pts, p);
	}
	json_object_object_add(o, "points", pts);
	return o;
}

static json_object *site_json(const struct lsc_heap_site *s)
{
	json_object *o = json_object_new_object(), *fr = json_object_new_array();
	size_t f;

	json_object_object_add(o, "live_bytes", json_object_new_uint64(s->stack.total));
	json_object_object_add(o, "live_count", json_object_new_uint64(s->live_count));
	json_object_object_add(o, "growth_bytes", json_object_new_int64(s->growth));
	json_object_object_add(o, "share", json_object_new_double(s->share));
	json_object_object_add(o, "alloc_bytes", json_object_new_uint64(s->alloc_bytes));
	json_object_object_add(o, "alloc_count", json_object_new_uint64(s->alloc_count));
	json_object_object_add(o, "temp_count", json_object_new_uint64(s->temp_count));
	json_object_object_add(o, "likely_leak", json_object_new_boolean(s->likely_leak));
	if (s->engine)
		json_object_object_add(o, "engine", json_object_new_boolean(1));
	if (s->stacks > 1)
		json_object_object_add(o, "stacks", json_object_new_uint64(s->stacks));
	json_object_object_add(o, "at", lsc__frame_json(&s->stack.owner));
	for (f = 0; f < s->stack.nframes; f++)
		json_object_array_add(fr, lsc__frame_json(&s->stack.frames[f]));
	json_object_object_add(o, "frames", fr);
	return o;
}

static size_t *by_live_order(const struct lsc_heap_site *sites, size_t n);

/* Node.js's JS heap: totals and sites, by growth (heap) or by live bytes (leaks). */
static json_object *js_json(const struct lsc_heap_report *h, int growth)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t i;

	json_object_object_add(o, "source",
			       json_object_new_string("V8's sampling heap profiler (estimates)"));
	json_object_object_add(o, "sample_interval_bytes", json_object_new_uint64(h->js.interval));
	json_object_object_add(o, "snapshots", json_object_new_uint64(h->js.snapshots));
	json_object_object_add(o, "live_bytes", json_object_new_uint64(h->js.live_bytes));
	json_object_object_add(o, "live_count", json_object_new_uint64(h->js.live_count));
	json_object_object_add(o, "growth_bytes", json_object_new_int64(h->js.growth));
	size_t *order = growth ? NULL : by_live_order(h->js.sites, h->js.nsites);

	for (i = 0; i < h->js.nsites && (growth || order); i++) {
		const struct lsc_heap_site *s = &h->js.sites[growth ? i : order[i]];

		if (growth && (s->growth <= 0 || i >= LSC_HEAP_TOP))
			break;
		if (s->stack.total || growth)
			json_object_array_add(a, site_json(s));
	}
	free(order);
	json_object_object_add(o, growth ? "growth_sites" : "sites", a);
	return o;
}

static int emit(FILE *out, json_object *root)
{
	const char *s = json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	int err = fputs(s, out) < 0 || fputc('\n', out) == EOF ? -EIO : 0;

	json_object_put(root);
	return err;
}

int lsc_render_heap_json(FILE *out, const struct lsc_heap_report *h)
{
	json_object *root = json_object_new_object(), *a = json_object_new_array(), *t;
	size_t i;

	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_GLOBAL);
	json_object_object_add(root, "heap_mode", json_object_new_string(h->heap_mode));
	json_object_object_add(root, "duration_s", json_object_new_double(h->duration_s));
	json_object_object_add(root, "snapshots", json_object_new_uint64(h->snapshots));
	json_object_object_add(root, "native", trend_json(&h->native, &h->native_trend));
	json_object_object_add(root, "managed", trend_json(&h->managed, &h->managed_trend));
	json_object_object_add(root, "managed_is_rss_at_gc",
			       json_object_new_boolean(h->managed_is_rss));
	for (i = 0; i < h->nsites && i < LSC_HEAP_TOP && h->sites[i].growth > 0; i++)
		json_object_array_add(a, site_json(&h->sites[i]));
	json_object_object_add(root, "growth_sites", a);
	if (h->js.snapshots)
		json_object_object_add(root, "js", js_json(h, 1));
	a = json_object_new_array();
	for (i = 0; i < h->ntypes; i++) {
		t = json_object_new_object();
		json_object_object_add(t, "type", json_object_new_string(h->types[i].name));
		json_object_object_add(t, "growth_bytes",
				       json_object_new_int64(h->types[i].growth));
		json_object_object_add(t, "first_bytes", json_object_new_uint64(h->types[i].first));
		json_object_object_add(t, "last_bytes", json_object_new_uint64(h->types[i].last));
		json_object_array_add(a, t);
	}
	json_object_object_add(root, "growth_types", a);
	a = json_object_new_array();
	for (i = 0; i < h->ntemp; i++)
		json_object_array_add(a, site_json(&h->temp[i]));
	json_object_object_add(root, "temporary", a);
	if (h->v8_snapshots && h->v8_snapshots->n)
		json_object_object_add(root, "heap_snapshots",
				       lsc__snap_summary_json(h->v8_snapshots));
	return emit(out, root);
}

/* ------------------------------------------------------------------ the timeline */

static double ymax_of(const struct lsc_heap_report *h)
{
	double m = MIB;
	size_t i;

	for (i = 0; i < h->native.n; i++)
		m = fmax(m, h->native.p[i].bytes);
	for (i = 0; i < h->managed.n; i++)
		m = fmax(m, h->managed.p[i].bytes);
	for (i = 0; i < h->rss.n; i++)
		m = fmax(m, h->rss.p[i].bytes);
	return m * 1.05;
}

static void polyline(FILE *out, const struct lsc_heap_series *s, double tmax, double ymax,
		     const char *color, const char *label, int dots)
{
	size_t i;

	if (!s->n)
		return;
	fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
	for (i = 0; i < s->n; i++)
		fprintf(out, "%.1f,%.1f ", PADL + s->p[i].t / tmax * (W - PADL - PADR),
			H - PADB - s->p[i].bytes / ymax * (H - PADT - PADB));
	fprintf(out, "\"><title>%s</title></polyline>\n", label);
	for (i = 0; dots && i < s->n; i++)
		fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
			PADL + s->p[i].t / tmax * (W - PADL - PADR),
			H - PADB - s->p[i].bytes / ymax * (H - PADT - PADB), color);
}

/* The timeline as an <svg> element (for a file of its own or inline in the page). */
static int timeline_svg(FILE *out, const struct lsc_heap_report *h, int standalone)
{
	double tmax = h->duration_s > 0 ? h->duration_s : 1, ymax = ymax_of(h);
	int k;
	size_t i;

	if (standalone)
		fputs("<?xml version=\"1.0\" standalone=\"no\"?>\n", out);
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
		W, H, W, H, W, H);
	for (k = 0; k <= 4; k++) {
		double y = H - PADB - k * (H - PADT - PADB) / 4.0;

		fprintf(out,
			"<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f MiB</text>\n",
			PADL, W - PADR, y, y, PADL - 6, y + 4, ymax * k / 4 / MIB);
	}
	for (k = 0; k <= 5; k++)
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.1f s</text>\n",
			PADL + k * (W - PADL - PADR) / 5.0, H - PADB + 18, tmax * k / 5);
	/* GC pauses: a tick on the time axis each, taller for longer pauses */
	for (i = 0; i < h->gc.n; i++) {
		double x = PADL + h->gc.p[i].t / tmax * (W - PADL - PADR);
		double len = fmin(30, 4 + h->gc.p[i].bytes / 1e6);

		fprintf(out,
			"<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\" stroke=\"#c33\"><title>GC "
			"%.1f ms</title></line>\n",
			x, x, H - PADB, H - PADB - len, h->gc.p[i].bytes / 1e6);
	}
	polyline(out, &h->rss, tmax, ymax, "#999", "RSS", 0);
	polyline(out, &h->native, tmax, ymax, "#2a6fdb", "native live bytes", 0);
	polyline(out, &h->managed, tmax, ymax, "#2a9d4b", "managed heap live after GC", 1);
	fprintf(out,
		"<g font-size=\"12\"><rect x=\"%d\" y=\"8\" width=\"12\" height=\"4\" fill=\"#2a6fdb\"/>"
		"<text x=\"%d\" y=\"14\">native live</text>"
		"<rect x=\"%d\" y=\"8\" width=\"12\" height=\"4\" fill=\"#2a9d4b\"/>"
		"<text x=\"%d\" y=\"14\">managed after GC</text>"
		"<rect x=\"%d\" y=\"8\" width=\"12\" height=\"4\" fill=\"#999\"/>"
		"<text x=\"%d\" y=\"14\">RSS</text>"
		"<rect x=\"%d\" y=\"6\" width=\"2\" height=\"10\" fill=\"#c33\"/>"
		"<text x=\"%d\" y=\"14\">GC pause</text></g>\n</svg>\n",
		PADL, PADL + 16, PADL + 110, PADL + 126, PADL + 260, PADL + 276, PADL + 320,
		PADL + 326);
	return ferror(out) ? -EIO : 0;
}

int lsc_render_heap_svg(FILE *out, const struct lsc_heap_report *h)
{
	return timeline_svg(out, h, 1);
}

static void html_text(FILE *out, const char *s)
{
	lsc__xml_escape(out, s, 100000);
}

/* What was still live at the end (the leaks command's list, its first ten of each heap). */
static int live_table(FILE *out, const struct lsc_heap_report *h, int level)
{
	const struct {
		const char *what, *unit;
		const struct lsc_heap_site *sites;
		size_t n;
	} heaps[] = {{"JS heap (V8's samples: estimates)", "objects", h->js.sites,
		      h->js.snapshots ? h->js.nsites : 0},
		     {"native heap", "allocations", h->sites, h->snapshots ? h->nsites : 0}};
	size_t k, i;

	fprintf(out, "<h%d>Live at the end</h%d>\n", level, level);
	for (k = 0; k < 2; k++) {
		size_t *order;

		if (!heaps[k].n)
			continue;
		order = by_live_order(heaps[k].sites, heaps[k].n);
		if (!order)
			return -ENOMEM;
		fprintf(out,
			"<p>%s:</p><div class=\"scroll\"><table class=\"live\"><tr><th>live</th>"
			"<th>%s</th><th>where</th></tr>\n",
			heaps[k].what, heaps[k].unit);
		for (i = 0; i < heaps[k].n && i < 10; i++) {
			const struct lsc_heap_site *s = &heaps[k].sites[order[i]];
			char w[800];

			if (!s->stack.total)
				break;
			where(s, w, sizeof(w));
			fprintf(out,
				"<tr><td class=\"num\">%.1f KiB</td><td class=\"num\">%llu</td>"
				"<td%s>",
				(double)s->stack.total / 1024, (unsigned long long)s->live_count,
				s->likely_leak ? " class=\"leak\"" : "");
			html_text(out, w);
			fputs(s->likely_leak ? " (likely leak)</td></tr>\n" : "</td></tr>\n", out);
		}
		fputs("</table></div>\n", out);
		free(order);
	}
	return 0;
}

int lsc_render_heap_section(FILE *out, const struct lsc_heap_report *h, int level)
{
	const struct {
		const char *what;
		const struct lsc_heap_series *s;
		const struct lsc_heap_trend *t;
	} heaps[] = {{"native (malloc)", &h->native, &h->native_trend},
		     {h->managed_is_rss ? "RSS at GC ends" : "managed, after GC", &h->managed,
		      &h->managed_trend}};
	size_t i, k;

	fprintf(out, "<p>%.1f s; native heap %s; %u snapshots.</p>\n<h%d>Growth</h%d>\n",
		h->duration_s, mode_note(h), h->snapshots, level, level);
	for (i = 0; i < 2; i++) {
		if (!heaps[i].s->n)
			continue;
		fprintf(out,
			"<p><b>%s</b>: <span class=\"%s\">%s</span>, %+.1f KiB/s, confidence "
			"%.2f. ",
			heaps[i].what, heaps[i].t->verdict == LSC_GROWTH_LEAK ? "leak" : "",
			lsc_heap_verdict_name(heaps[i].t->verdict), heaps[i].t->rate / 1024,
			heaps[i].t->confidence);
		html_text(out, heaps[i].t->how);
		fputs("</p>\n", out);
	}
	timeline_svg(out, h, 0);
	fprintf(out,
		"<h%d>Who grows</h%d>\n<div class=\"scroll\"><table id=\"growth\"><tr><th>growth"
		"</th><th>share</th><th>live at the end</th><th>allocations live</th><th>where</th>"
		"<th>stack</th></tr>\n",
		level, level);
	for (i = 0; i < h->nsites && i < LSC_HEAP_TOP && h->sites[i].growth > 0; i++) {
		const struct lsc_heap_site *s = &h->sites[i];
		char w[800];

		where(s, w, sizeof(w));
		fprintf(out,
			"<tr><td class=\"num\">%+.1f KiB</td><td class=\"num\">%.1f%%</td><td "
			"class=\"num\">%.1f KiB</td><td class=\"num\">%llu</td><td%s>",
			(double)s->growth / 1024, 100 * s->share, (double)s->stack.total / 1024,
			(unsigned long long)s->live_count, s->likely_leak ? " class=\"leak\"" : "");
		html_text(out, w);
		fputs(s->likely_leak ? " (likely leak)</td><td>" : "</td><td>", out);
		for (k = 0; k < s->stack.nframes && k < 6; k++) {
			char fw[800];

			lsc_report_frame_where(&s->stack.frames[k], fw, sizeof(fw));
			html_text(out, fw);
			fputs("<br>", out);
		}
		fputs("</td></tr>\n", out);
	}
	fputs("</table></div>\n<p>The same as a flame graph: <code>loopscope flame REC --kind live "
	      "-o live.svg</code> (or <code>--kind alloc</code>).</p>\n",
	      out);
	if (h->ntypes) {
		fprintf(out,
			"<h%d>Managed types</h%d>\n<div class=\"scroll\"><table id=\"types\"><tr>"
			"<th>type</th><th>growth</th><th>after the first GC</th><th>after the last "
			"GC</th></tr>\n",
			level, level);
		for (i = 0; i < h->ntypes; i++) {
			fputs("<tr><td>", out);
			html_text(out, h->types[i].name);
			fprintf(out,
				"</td><td class=\"num\">%+.1f KiB</td><td class=\"num\">%.1f KiB</td>"
				"<td class=\"num\">%.1f KiB</td></tr>\n",
				(double)h->types[i].growth / 1024, (double)h->types[i].first / 1024,
				(double)h->types[i].last / 1024);
		}
		fputs("</table></div>\n", out);
	}
	if (live_table(out, h, level))
		return -ENOMEM;
	fprintf(out,
		"<h%d>Temporary allocations</h%d>\n<div class=\"scroll\"><table id=\"temporary\">"
		"<tr><th>temporary</th><th>allocations</th><th>where</th></tr>\n",
		level, level);
	for (i = 0; i < h->ntemp; i++) {
		char w[800];

		where(&h->temp[i], w, sizeof(w));
		fprintf(out, "<tr><td class=\"num\">%llu</td><td class=\"num\">%llu</td><td>",
			(unsigned long long)h->temp[i].temp_count,
			(unsigned long long)h->temp[i].alloc_count);
		html_text(out, w);
		fputs("</td></tr>\n", out);
	}
	fputs("</table></div>\n", out);
	return ferror(out) ? -EIO : 0;
}

/* The tables' and the page's look, shared with the report's page. */
const char lsc__html_css[] =
	"body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}"
	"table{border-collapse:collapse;margin:8px 0 24px}td,th{border:1px solid #ccc;"
	"padding:4px 8px;text-align:left;font-size:13px;vertical-align:top}th{background:#f3f3f3}"
	".leak{color:#b00;font-weight:bold}.num{text-align:right}.scroll{overflow-x:auto}"
	"svg{max-width:100%;height:auto}";

int lsc_render_heap_html(FILE *out, const struct lsc_heap_report *h, const char *title)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", out);
	html_text(out, title);
	fprintf(out, "</title><style>%s</style></head><body>\n<h1>", lsc__html_css);
	html_text(out, title);
	fputs("</h1>\n", out);
	lsc_render_heap_section(out, h, 2);
	lsc__snap_summary_html(out, h->v8_snapshots, 2);
	fputs("</body></html>\n", out);
	return ferror(out) ? -EIO : 0;
}

/* ------------------------------------------------------------------ leaks */

static const struct lsc_heap_site *sort_sites;

static int by_live_desc(const void *a, const void *b)
{
	uint64_t x = sort_sites[*(const size_t *)a].stack.total,
		 y = sort_sites[*(const size_t *)b].stack.total;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The sites' indexes, most live bytes first (the caller frees). */
static size_t *by_live_order(const struct lsc_heap_site *sites, size_t n)
{
	size_t *o = malloc((n ? n : 1) * sizeof(*o)), i;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++)
		o[i] = i;
	sort_sites = sites;
	qsort(o, n, sizeof(*o), by_live_desc);
	return o;
}

/* One heap's sites still live, most first, down to min_bytes (50 at most). */
static void leak_list(FILE *out, const struct lsc_heap_site *sites, size_t nsites,
		      uint64_t min_bytes, const char *unit, size_t *order)
{
	size_t i, n = 0;

	for (i = 0; i < nsites; i++) {
		const struct lsc_heap_site *s = &sites[order[i]];
		char w[800];

		if (s->stack.total < min_bytes || !s->stack.total)
			break;
		where(s, w, sizeof(w));
		fprintf(out, "%12llu bytes in %8llu %s%s  at %s\n",
			(unsigned long long)s->stack.total, (unsigned long long)s->live_count, unit,
			s->likely_leak ? "  [likely leak]"
			: s->engine    ? "  [the JS engine's own]"
				       : "",
			w);
		site_lines(out, s, 0);
		if (++n == 50)
			break;
	}
	if (!n)
		fprintf(out, "nothing live of %llu bytes or more\n", (unsigned long long)min_bytes);
}

int lsc_render_leaks_text(FILE *out, const struct lsc_heap_report *h, uint64_t min_bytes,
			  const char *when)
{
	size_t *order = by_live_order(h->sites, h->nsites), *js = NULL;

	if (!order || (h->js.snapshots && !(js = by_live_order(h->js.sites, h->js.nsites)))) {
		free(order);
		return -ENOMEM;
	}
	fprintf(out, "loopscope leaks: what was still live at %s\n", when);
	if (h->unresolved_frames)
		fprintf(out, "  (%zu frames could not be named: no symbols for them here)\n",
			h->unresolved_frames);
	if (js) {
		fprintf(out,
			"\nJS heap: %.1f MiB in %llu objects (V8's sampling heap profiler: estimates, "
			"a sample every %.0f KiB), by function\n",
			(double)h->js.live_bytes / MIB, (unsigned long long)h->js.live_count,
			(double)h->js.interval / 1024);
		leak_list(out, h->js.sites, h->js.nsites, min_bytes, "objects", js);
	}
	if (h->snapshots || !js) {
		fprintf(out, "\nNative heap: %.1f MiB in %llu allocations (%s)\n",
			(double)h->live_bytes / MIB, (unsigned long long)h->live_count,
			mode_note(h));
		leak_list(out, h->sites, h->nsites, min_bytes, "allocations", order);
	}
	free(order);
	free(js);
	return ferror(out) ? -EIO : 0;
}

int lsc_render_leaks_json(FILE *out, const struct lsc_heap_report *h, uint64_t min_bytes,
			  const char *when)
{
	json_object *root = json_object_new_object(), *a = json_object_new_array();
	size_t i, *order = by_live_order(h->sites, h->nsites);

	if (!order) {
		json_object_put(root);
		json_object_put(a);
		return -ENOMEM;
	}
	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_GLOBAL);
	json_object_object_add(root, "heap_mode", json_object_new_string(h->heap_mode));
	json_object_object_add(root, "at", json_object_new_string(when));
	json_object_object_add(root, "live_bytes", json_object_new_uint64(h->live_bytes));
	json_object_object_add(root, "live_count", json_object_new_uint64(h->live_count));
	json_object_object_add(root, "unresolved_frames",
			       json_object_new_uint64(h->unresolved_frames));
	for (i = 0; i < h->nsites; i++)
		if (h->sites[order[i]].stack.total && h->sites[order[i]].stack.total >= min_bytes)
			json_object_array_add(a, site_json(&h->sites[order[i]]));
	free(order);
	json_object_object_add(root, "sites", a);
	if (h->js.snapshots)
		json_object_object_add(root, "js", js_json(h, 0));
	return emit(out, root);
}
