/*
 * svg.c — flame graphs as one self-contained, interactive SVG: click a frame to zoom, "Reset
 * Zoom" to go back, "Search" (or Ctrl-F) for a regular expression with the matched share of all
 * samples, the frame under the pointer described at the bottom. Frames are coloured by the kind
 * of code (JS/JIT green, the program's native code red-orange, runtime yellow, kernel aqua),
 * their shade by a hash of the name, so the same function keeps its colour across graphs.
 *
 * Frames narrower than minwidth pixels are not drawn, as flamegraph.pl does: a profile of 40,000
 * stacks still opens smoothly in a browser. Output size is bounded by what is visible, not by
 * the input.
 */
#include "lsc_render.h"
#include "render_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FONT	12
#define FRAME_H 16
#define PAD	10
#define TOP	(FONT * 3 + 8)
#define BOTTOM	(FONT * 2 + 10)

struct svg_ctx {
	FILE *out;
	const struct lsc_flame *f;
	const struct lsc_svg_opts *o;
	const struct lsc_flame_node *nodes;
	double scale;
	int height;
	uint64_t total;
	size_t drawn, pruned;
};

void lsc__xml_escape(FILE *out, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s && n < max; s++, n++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
		}
	}
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void color(int kind, const char *name, int *r, int *g, int *b)
{
	double v = (name_hash(name) % 1000) / 1000.0, w = (name_hash(name) / 1000 % 1000) / 1000.0;

	switch (kind) {
	case LSC_CODE_JIT:
		*r = 50 + (int)(60 * v), *g = 165 + (int)(55 * w), *b = 50 + (int)(60 * v);
		break;
	case LSC_CODE_RUNTIME:
		*r = 175 + (int)(55 * v), *g = 175 + (int)(55 * v), *b = 50 + (int)(20 * w);
		break;
	case LSC_CODE_KERNEL:
		*r = 50 + (int)(60 * w), *g = 175 + (int)(55 * v), *b = 175 + (int)(55 * v);
		break;
	default:
		*r = 205 + (int)(50 * w), *g = (int)(200 * v), *b = (int)(55 * w);
	}
}

static int max_depth(const struct svg_ctx *c, uint32_t node, int depth)
{
	int best = depth;
	uint32_t ch;

	/* Iterative over siblings, recursive over depth: bounded by the deepest drawn stack. */
	for (ch = c->nodes[node].first_child; ch; ch = c->nodes[ch].next_sibling) {
		int d;

		if (c->nodes[ch].total * c->scale < c->o->minwidth)
			continue;
		d = max_depth(c, ch, depth + 1);
		if (d > best)
			best = d;
	}
	return best;
}

static void frame(struct svg_ctx *c, uint32_t node, uint64_t offset, int depth)
{
	const struct lsc_flame_node *n = &c->nodes[node];
	const char *name = lsc_flame_name(c->f, n->name);
	double x = PAD + offset * c->scale, w = n->total * c->scale, y;
	size_t chars = (size_t)((w - 6) / (FONT * 0.59)), len = strlen(name);
	unsigned line;
	const char *file = lsc_flame_file(c->f, n->name, &line);
	int r, g, b;

	y = c->o->reverse ? TOP + depth * FRAME_H : c->height - BOTTOM - (depth + 1) * FRAME_H;
	color(node ? lsc_flame_kind(c->f, n->name) : LSC_CODE_RUNTIME, name, &r, &g, &b);
	if (c->o->base) {
		/* grew: towards red; shrank: towards blue; the same: white */
		double before = c->o->base[node], delta = (double)n->total - before;
		double ratio = delta / fmax(fmax((double)n->total, before), 1);
		int fade = (int)(210 * (1 - fabs(ratio)));

		r = ratio > 0 ? 255 : fade + 45;
		b = ratio < 0 ? 255 : fade + 45;
		g = fade + 45;
	}
	fprintf(c->out, "<g class=\"f\" data-o=\"%llu\" data-v=\"%llu\" data-d=\"%d\"><title>",
		(unsigned long long)offset, (unsigned long long)n->total, depth);
	lsc__xml_escape(c->out, name, 4096);
	if (file) {
		fputs(" [", c->out);
		lsc__xml_escape(c->out, file, 1024);
		fprintf(c->out, ":%u]", line);
	}
	if (c->o->base)
		fprintf(c->out, " (new %llu %s, base %.0f, %+.0f, %+.1f%%)</title>",
			(unsigned long long)n->total, c->o->countname, c->o->base[node],
			(double)n->total - c->o->base[node],
			c->o->base[node] > 0
				? 100.0 * ((double)n->total - c->o->base[node]) / c->o->base[node]
				: 100.0);
	else
		fprintf(c->out, " (%llu %s, %.2f%%)</title>", (unsigned long long)n->total,
			c->o->countname, c->total ? 100.0 * n->total / c->total : 0.0);
	fprintf(c->out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
		"rx=\"2\" ry=\"2\"/><text x=\"%.1f\" y=\"%.1f\">",
		x, y, w, FRAME_H - 1, r, g, b, x + 3, y + FRAME_H - 4.5);
	if (chars >= 3) {
		lsc__xml_escape(c->out, name, len <= chars ? len : chars - 2);
		if (len > chars)
			fputs("..", c->out);
	}
	fputs("</text></g>\n", c->out);
	c->drawn++;
}

static void frames(struct svg_ctx *c, uint32_t node, uint64_t offset, int depth)
{
	uint32_t ch;

	frame(c, node, offset, depth);
	/* Children from the left edge, in name order; the node's own weight is the gap after. */
	for (ch = c->nodes[node].first_child; ch; ch = c->nodes[ch].next_sibling) {
		if (c->nodes[ch].total * c->scale >= c->o->minwidth)
			frames(c, ch, offset, depth + 1);
		else
			c->pruned++;
		offset += c->nodes[ch].total;
	}
}

static const char script[] =
	"<script type=\"text/ecmascript\"><![CDATA[\n"
	"'use strict';\n"
	"var W, PAD = 10, FONTW = 12 * 0.59, MINW, TOTAL, frames = [], details, matched, zoomed = null, re = null;\n"
	"function attr(e, n) { return e.getAttribute(n); }\n"
	"function nameOf(g) { var t = g.querySelector('title').textContent; var i = t.lastIndexOf(' ('); t = i > 0 ? t.substring(0, i) : t; i = t.lastIndexOf(' ['); return i > 0 && t.endsWith(']') ? t.substring(0, i) : t; }\n"
	"function label(f, w) { var n = Math.floor((w - 6) / FONTW); var s = f.name; if (n < 3) return ''; return s.length > n ? s.substring(0, n - 2) + '..' : s; }\n"
	"function place(f, x, w) { f.rect.setAttribute('x', x.toFixed(1)); f.rect.setAttribute('width', w.toFixed(1)); f.text.setAttribute('x', (x + 3).toFixed(1)); f.text.textContent = label(f, w); }\n"
	"function init() {\n"
	"  var root = document.querySelector('svg'); W = +attr(root, 'width'); MINW = +attr(root, 'data-minwidth'); TOTAL = +attr(root, 'data-total');\n"
	"  details = document.getElementById('details'); matched = document.getElementById('matched');\n"
	"  var gs = document.querySelectorAll('g.f');\n"
	"  for (var i = 0; i < gs.length; i++) { var g = gs[i]; var f = { g: g, o: +attr(g, 'data-o'), v: +attr(g, 'data-v'), d: +attr(g, 'data-d'), rect: g.querySelector('rect'), text: g.querySelector('text') };\n"
	"    f.name = nameOf(g); f.fill = attr(f.rect, 'fill'); g.f = f; frames.push(f);\n"
	"    g.addEventListener('click', function (e) { zoom(this.f); });\n"
	"    g.addEventListener('mouseover', function (e) { details.textContent = this.querySelector('title').textContent; });\n"
	"    g.addEventListener('mouseout', function (e) { details.textContent = ' '; }); }\n"
	"  document.getElementById('unzoom').addEventListener('click', unzoom);\n"
	"  document.getElementById('search').addEventListener('click', function () { re ? clearSearch() : askSearch(); });\n"
	"  window.addEventListener('keydown', function (e) { if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); askSearch(); } });\n"
	"  if (attr(root, 'data-root') === 'bottom') window.scrollTo(0, +attr(root, 'height'));\n"
	"}\n"
	"function zoom(z) {\n"
	"  var scale = (W - 2 * PAD) / z.v; zoomed = z; document.getElementById('unzoom').style.opacity = 1;\n"
	"  frames.forEach(function (f) {\n"
	"    if (f.d >= z.d && f.o >= z.o && f.o + f.v <= z.o + z.v) { var w = f.v * scale; if (w < MINW) { f.g.style.display = 'none'; return; }\n"
	"      f.g.style.display = ''; f.g.style.opacity = 1; place(f, PAD + (f.o - z.o) * scale, w); }\n"
	"    else if (f.d < z.d && f.o <= z.o && f.o + f.v >= z.o + z.v) { f.g.style.display = ''; f.g.style.opacity = 0.5; place(f, PAD, W - 2 * PAD); }\n"
	"    else f.g.style.display = 'none'; });\n"
	"  if (re) search(re);\n"
	"}\n"
	"function unzoom() { var scale = (W - 2 * PAD) / TOTAL; zoomed = null; document.getElementById('unzoom').style.opacity = 0;\n"
	"  frames.forEach(function (f) { f.g.style.display = ''; f.g.style.opacity = 1; place(f, PAD + f.o * scale, f.v * scale); }); if (re) search(re); }\n"
	"function askSearch() { var s = prompt('Search for (regular expression):', ''); if (s === null || s === '') return; try { search(new RegExp(s)); } catch (e) { alert('not a regular expression: ' + e.message); } }\n"
	"function search(r) {\n"
	"  re = r; var hits = [];\n"
	"  frames.forEach(function (f) { var m = r.test(f.name); f.rect.setAttribute('fill', m ? 'rgb(230,0,230)' : f.fill); if (m) hits.push(f); });\n"
	"  hits.sort(function (a, b) { return a.o - b.o || b.v - a.v; });\n"
	"  var sum = 0, end = -1; hits.forEach(function (f) { if (f.o >= end) { sum += f.v; end = f.o + f.v; } });\n"
	"  matched.textContent = 'Matched: ' + (TOTAL ? (100 * sum / TOTAL).toFixed(1) : '0') + '%'; document.getElementById('search').textContent = 'Clear';\n"
	"}\n"
	"function clearSearch() { re = null; frames.forEach(function (f) { f.rect.setAttribute('fill', f.fill); }); matched.textContent = ' '; document.getElementById('search').textContent = 'Search'; }\n"
	"window.addEventListener('load', init);\n"
	"]]></script>\n";

int lsc_render_svg(FILE *out, const struct lsc_flame *f, const struct lsc_svg_opts *opts)
{
	struct lsc_svg_opts o = *opts;
	struct svg_ctx c = {.out = out, .f = f, .o = &o};
	size_t n;
	int depth;

	if (o.width <= 2 * PAD)
		o.width = 1200;
	if (o.minwidth < 0)
		o.minwidth = 0.1;
	if (!o.countname)
		o.countname = "samples";
	if (!o.title)
		o.title = o.reverse ? "Icicle Graph" : "Flame Graph";
	c.nodes = lsc_flame_nodes(f, &n);
	c.total = c.nodes[0].total;
	if (!c.total)
		return LSC_ENODATA;
	c.scale = (double)(o.width - 2 * PAD) / (double)c.total;
	depth = max_depth(&c, 0, 0);
	c.height = TOP + (depth + 1) * FRAME_H + BOTTOM;

	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\" data-total=\"%llu\" data-minwidth=\"%g\" "
		"data-root=\"%s\">\n"
		"<style>text { font-family: Verdana, sans-serif; font-size: %dpx; fill: rgb(0,0,0); } "
		"g.f:hover rect { stroke: black; stroke-width: 0.5; cursor: pointer; } "
		"#title { font-size: %dpx; } .button { cursor: pointer; }</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"rgb(248,248,248)\"/>\n"
		"<text id=\"title\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
		o.width, c.height, o.width, c.height, (unsigned long long)c.total, o.minwidth,
		o.reverse ? "top" : "bottom", FONT, FONT + 5, o.width / 2, FONT * 2);
	lsc__xml_escape(out, o.title, 1024);
	fputs("</text>\n", out);
	if (o.subtitle) {
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"gray\">",
			o.width / 2, FONT * 3 + 2);
		lsc__xml_escape(out, o.subtitle, 1024);
		fputs("</text>\n", out);
	}
	fprintf(out,
		"<text id=\"unzoom\" class=\"button\" x=\"%d\" y=\"%d\" style=\"opacity:0\">Reset "
		"Zoom</text>\n<text id=\"search\" class=\"button\" x=\"%d\" y=\"%d\" "
		"text-anchor=\"end\">Search</text>\n<text id=\"details\" x=\"%d\" y=\"%d\"> "
		"</text>\n<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n",
		PAD, FONT * 2, o.width - PAD, FONT * 2, PAD, c.height - FONT / 2 - 4, o.width - PAD,
		c.height - FONT / 2 - 4);
	fputs(script, out);
	fputs("<g id=\"frames\">\n", out);
	frames(&c, 0, 0, 0);
	fputs("</g>\n</svg>\n", out);
	return ferror(out) ? -EIO : 0;
}
