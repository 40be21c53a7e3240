/*
 * report_html.c — `loopscope report REC -o report.html`: one self-contained page (no network, no
 * external script) that tells the whole story of a recording. The diagnosis first, each finding
 * with its evidence and owner frame, linking to the part of the page that shows it; then
 * timelines on one time axis, a window a point (the loops' utilization, lag, blocking time, GC
 * pauses, memory, the thread pool, handles), the windows a finding is about shaded; the CPU,
 * blocking and off-CPU flame graphs, interactive (each in an iframe of its own: the SVG's script
 * and ids stay its own; it opens scrolled to its root itself); and the heap section `heap -o`
 * makes. Charts are drawn here, as SVG, by hand: a few polylines on shared axes do not need a
 * charting library, and the page must not fetch one.
 */
#include "lsc_loops.h"
#include "lsc_render.h"
#include "render_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CW    1000 /* a chart's width and height, in its viewBox's units */
#define CH    110
#define LEFT  58
#define RIGHT 12
#define TOP   8
#define BOT   18

static void text(FILE *out, const char *s)
{
	lsc__xml_escape(out, s, 100000);
}

/* ------------------------------------------------------------------ the windows' series */

struct series {
	const char *name, *color;
	double *y; /* one value a window; NAN: none */
};

struct timeline {
	size_t n;	 /* the main loop's windows */
	double *t0, *t1; /* their start and end, seconds */
	double tmax;	 /* the axis' end */
	const Loopscope__Window **w;
};

static int is_main(const Loopscope__Window *w, uint32_t main_tid)
{
	return !w->has_loop_tid || !w->loop_tid || w->loop_tid == main_tid;
}

/* The windows of one loop (tid 0: the main loop's). */
static int timeline_of(const struct lsc_recording *r, const struct lsc_report *rep, uint32_t tid,
		       struct timeline *tl)
{
	uint32_t main_tid = lsc_recording_main_loop(r);
	size_t i;

	memset(tl, 0, sizeof(*tl));
	tl->w = calloc(r->nwindows + 1, sizeof(*tl->w));
	tl->t0 = calloc(r->nwindows + 1, sizeof(double));
	tl->t1 = calloc(r->nwindows + 1, sizeof(double));
	if (!tl->w || !tl->t0 || !tl->t1)
		return -ENOMEM;
	for (i = 0; i < r->nwindows; i++) {
		const Loopscope__Window *w = r->windows[i];

		if (tid ? !w->has_loop_tid || w->loop_tid != tid : !is_main(w, main_tid))
			continue;
		tl->w[tl->n] = w;
		tl->t0[tl->n] = (double)w->start_ns / 1e9;
		tl->t1[tl->n] = (double)(w->start_ns + w->length_ns) / 1e9;
		if (tl->t1[tl->n] > tl->tmax)
			tl->tmax = tl->t1[tl->n];
		tl->n++;
	}
	if ((double)rep->duration_ns / 1e9 > tl->tmax)
		tl->tmax = (double)rep->duration_ns / 1e9;
	if (tl->tmax <= 0)
		tl->tmax = 1;
	return 0;
}

static void timeline_free(struct timeline *tl)
{
	free(tl->w);
	free(tl->t0);
	free(tl->t1);
}

static double *column(const struct timeline *tl)
{
	double *y = malloc((tl->n + 1) * sizeof(*y));
	size_t i;

	for (i = 0; y && i <= tl->n; i++)
		y[i] = NAN;
	return y;
}

/* Events of the main loop (blocking calls, GC pauses) summed into the windows, ms. */
static void events_into(const struct lsc_recording *r, const struct timeline *tl, int gc,
			double *ms)
{
	uint32_t main_tid = lsc_recording_main_loop(r);
	size_t i, k;

	for (k = 0; k < tl->n; k++)
		ms[k] = 0;
	for (i = 0; i < r->nevents; i++) {
		const Loopscope__Event *e = r->events[i];
		uint64_t d;
		uint32_t tid;
		double t = (double)e->t_ns / 1e9;

		if (gc && e->body_case == LOOPSCOPE__EVENT__BODY_GC) {
			d = e->gc->pause_ns;
			tid = e->gc->tid;
		} else if (!gc && e->body_case == LOOPSCOPE__EVENT__BODY_BLOCKING) {
			d = e->blocking->duration_ns;
			tid = e->blocking->tid;
		} else {
			continue;
		}
		if (tid && main_tid && tid != main_tid)
			continue;
		for (k = 0; k < tl->n; k++)
			if (t >= tl->t0[k] && t < tl->t1[k]) {
				ms[k] += (double)d / 1e6;
				break;
			}
	}
}

/* ------------------------------------------------------------------ a chart */

static double nice_max(double v)
{
	double p, m;

	if (!(v > 0))
		return 1;
	p = pow(10, floor(log10(v)));
	for (m = 1; m * p < v; m = m < 2 ? 2 : m < 5 ? 5 : 10)
		;
	return m * p;
}

static double px(const struct timeline *tl, double t)
{
	return LEFT + (CW - LEFT - RIGHT) * t / tl->tmax;
}

/* One chart: its series over the windows, the windows where shade[k] is set shaded. */
static void chart(FILE *out, const char *id, const char *title, const char *unit,
		  const struct timeline *tl, const struct series *s, size_t ns,
		  const unsigned char *shade, double ymax)
{
	double top = 0, tick;
	size_t i, k;
	int tk;

	for (i = 0; i < ns; i++)
		for (k = 0; s[i].y && k < tl->n; k++)
			if (!isnan(s[i].y[k]) && s[i].y[k] > top)
				top = s[i].y[k];
	ymax = ymax > 0 ? ymax : nice_max(top);
	fprintf(out, "<div class=\"chart\" id=\"%s\"><div class=\"ct\">", id);
	text(out, title);
	fputs(" <span class=\"legend\">", out);
	for (i = 0; i < ns; i++) {
		fprintf(out, "<span style=\"color:%s\">&#9632; ", s[i].color);
		text(out, s[i].name);
		fputs("</span> ", out);
	}
	fprintf(out,
		"</span></div><svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		"preserveAspectRatio=\"none\" role=\"img\">\n",
		CW, CH, CW, CH);
	for (k = 0; shade && k < tl->n; k++)
		if (shade[k])
			fprintf(out,
				"<rect class=\"hot\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>",
				px(tl, tl->t0[k]), TOP, px(tl, tl->t1[k]) - px(tl, tl->t0[k]),
				CH - TOP - BOT);
	/* axes: 0 and the top value; time in seconds under */
	fprintf(out,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"ax\"/>"
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"ax\"/>"
		"<text x=\"%d\" y=\"%d\" class=\"yl\">%g %s</text><text x=\"%d\" y=\"%d\" "
		"class=\"yl\">0</text>\n",
		LEFT, CH - BOT, CW - RIGHT, CH - BOT, LEFT, TOP, LEFT, CH - BOT, LEFT - 4, TOP + 9,
		ymax, unit, LEFT - 4, CH - BOT);
	tick = nice_max(tl->tmax / 8);
	for (tk = 0; tk * tick <= tl->tmax + 1e-9 && tk < 50; tk++)
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"xl\">%gs</text>", px(tl, tk * tick),
			CH - 4, tk * tick);
	for (i = 0; i < ns; i++) {
		int open = 0;

		for (k = 0; s[i].y && k < tl->n; k++) {
			double y = s[i].y[k], v = y > ymax ? ymax : y;

			if (isnan(y)) { /* a gap */
				if (open)
					fputs("\"/>\n", out);
				open = 0;
				continue;
			}
			if (!open)
				fprintf(out,
					"<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
					"points=\"",
					s[i].color);
			open = 1;
			fprintf(out, "%.1f,%.1f ", px(tl, (tl->t0[k] + tl->t1[k]) / 2),
				CH - BOT - (CH - TOP - BOT) * v / ymax);
		}
		if (open)
			fputs("\"/>\n", out);
	}
	fputs("</svg></div>\n", out);
}

/* ------------------------------------------------------------------ the sections */

/* Where on the page a finding is shown. */
static const char *anchor_of(const char *id)
{
	if (!strcmp(id, "blocking-calls") || !strcmp(id, "lock-contention") ||
	    !strcmp(id, "cpu-contention"))
		return "t-blocking";
	if (!strcmp(id, "cpu-bound-callbacks"))
		return "flame-cpu";
	if (!strcmp(id, "loop-delay"))
		return "t-lag";
	if (!strcmp(id, "loop-saturated"))
		return "t-elu";
	if (!strcmp(id, "gc-pressure"))
		return "t-gc";
	if (!strcmp(id, "pool-saturated"))
		return "t-pool";
	if (!strcmp(id, "handle-leak"))
		return "t-handles";
	if (!strcmp(id, "managed-heap-growth") || !strcmp(id, "native-growth"))
		return "heap";
	return "diagnosis";
}

static void processes(FILE *out, const struct lsc_report_html_in *in)
{
	size_t i;

	if (in->nprocs < 2)
		return;
	fputs("<div class=\"scroll\"><table id=\"processes\"><tr><th>pid</th><th>program</th>"
	      "<th>ELU</th><th>lag p99</th><th>finding</th></tr>\n",
	      out);
	for (i = 0; i < in->nprocs; i++) {
		const struct lsc_report_html_proc *p = &in->procs[i];

		fprintf(out, "<tr><td class=\"num\">%u%s</td><td>", p->pid,
			i ? "" : " (this page)");
		text(out, p->executable ? p->executable : "?");
		fprintf(out, "</td><td class=\"num\">%.2f</td><td class=\"num\">%.1f ms</td><td>",
			p->elu, (double)p->lag_p99_ns / 1e6);
		text(out, p->finding ? p->finding : "none");
		fputs("</td></tr>\n", out);
	}
	fputs("</table></div><p class=\"note\">Another process's page: report REC --pid PID -o "
	      "page.html.</p>\n",
	      out);
}

/* (a Worker's report names its loop in its findings' titles) */
static void findings(FILE *out, const struct lsc_report *rep)
{
	static const char *sev[] = {"info", "warning", "critical"};
	size_t i;

	for (i = 0; i < rep->nfindings; i++) {
		const struct lsc_finding *f = &rep->findings[i];
		int s = f->severity >= 0 && f->severity <= 2 ? f->severity : 0;

		fprintf(out, "<div class=\"finding %s\"><span class=\"sev\">%s</span> ", sev[s],
			sev[s]);
		fprintf(out, "<a href=\"#%s\"><b>", anchor_of(f->id));
		text(out, f->title);
		fputs("</b></a><div class=\"ev\">", out);
		text(out, f->evidence);
		fputs("</div>", out);
		if (f->has_frame) {
			char w[1024];

			lsc_report_frame_where(&f->frame, w, sizeof(w));
			fputs("<div class=\"at\">at <code>", out);
			text(out, w);
			fputs("</code></div>", out);
		}
		fputs("</div>\n", out);
	}
}

static void diagnosis(FILE *out, const struct lsc_report_html_in *in)
{
	size_t i, any = in->rep->nfindings;

	fputs("<section id=\"diagnosis\"><h2>Diagnosis</h2>\n", out);
	findings(out, in->rep);
	for (i = 0; i < in->nloops; i++) {
		findings(out, in->loops[i]);
		any += in->loops[i]->nfindings;
	}
	if (!any)
		fputs("<p class=\"ok\">No problem found by the default rules.</p>\n", out);
	fputs("</section>\n", out);
}

/* Handles (Node: its resources) by type, the first six types seen, a line each. */
static int by_type(FILE *out, const struct timeline *tl, int node)
{
	static const char *colors[] = {"#4b0082", "#2a6fdb", "#2a9d4b", "#b00", "#e69500", "#555"};
	const char *names[6] = {0};
	struct series s[6];
	size_t k, i, j, n = 0;
	int err = 0;

	for (k = 0; k < tl->n; k++) {
		const Loopscope__Window *w = tl->w[k];
		Loopscope__HandleCount **hc = node && w->n_resources ? w->resources : w->handles;
		size_t nh = node && w->n_resources ? w->n_resources : w->n_handles;

		for (i = 0; i < nh; i++) {
			for (j = 0; j < n && strcmp(names[j], hc[i]->type ? hc[i]->type : ""); j++)
				;
			if (j == n && n < 6 && hc[i]->type)
				names[n++] = hc[i]->type;
		}
	}
	if (n < 2)
		return 0; /* one type: the chart above says it */
	for (j = 0; j < n; j++) {
		s[j] = (struct series){names[j], colors[j], column(tl)};
		if (!s[j].y)
			err = -ENOMEM;
	}
	for (k = 0; !err && k < tl->n; k++) {
		const Loopscope__Window *w = tl->w[k];
		Loopscope__HandleCount **hc = node && w->n_resources ? w->resources : w->handles;
		size_t nh = node && w->n_resources ? w->n_resources : w->n_handles;

		for (j = 0; j < n; j++)
			s[j].y[k] = 0;
		for (i = 0; i < nh; i++)
			for (j = 0; j < n; j++)
				if (hc[i]->type && !strcmp(names[j], hc[i]->type))
					s[j].y[k] = hc[i]->count;
	}
	if (!err)
		chart(out, "t-types", node ? "Node's resources by type" : "Handles by type", "", tl,
		      s, n, NULL, 0);
	for (j = 0; j < n; j++)
		free(s[j].y);
	return err;
}

/* The process's other loops (Workers; Node's platform loop stays hidden, as in the report):
 * each one's utilization on the same time axis. */
static int other_loops(FILE *out, const struct lsc_recording *r, const struct lsc_report *rep,
		       double tmax)
{
	struct lsc_loop_id *loops = calloc(LSC_MAX_LOOPS, sizeof(*loops));
	size_t n, i, k;
	int err = 0;

	if (!loops)
		return -ENOMEM;
	n = lsc_loops_list(r, loops, LSC_MAX_LOOPS);
	for (i = 0; i < n && !err; i++) {
		struct timeline tl;
		double *elu;
		unsigned char *shade;
		char id[64], title[200];

		if (loops[i].is_main || loops[i].hidden)
			continue;
		err = timeline_of(r, rep, loops[i].tid, &tl);
		tl.tmax = tl.tmax > tmax ? tl.tmax : tmax;
		elu = err ? NULL : column(&tl);
		shade = err ? NULL : calloc(tl.n + 1, 1);
		if (!err && (!elu || !shade))
			err = -ENOMEM;
		for (k = 0; !err && k < tl.n; k++) {
			elu[k] = tl.w[k]->elu;
			shade[k] = elu[k] >= 0.9;
		}
		if (!err && tl.n) {
			struct series s[] = {{"ELU", "#d2691e", elu}};

			snprintf(id, sizeof(id), "t-loop-%s", loops[i].key);
			for (k = 0; id[k]; k++)
				if (id[k] == ':')
					id[k] = '-';
			snprintf(title, sizeof(title), "Event-loop utilization: %s", loops[i].name);
			chart(out, id, title, "", &tl, s, 1, shade, 1);
		}
		free(elu);
		free(shade);
		timeline_free(&tl);
	}
	free(loops);
	return err;
}

static int timelines(FILE *out, const struct lsc_recording *r, const struct lsc_report *rep,
		     const struct timeline *tl)
{
	double *elu = column(tl), *p50 = column(tl), *p99 = column(tl), *lmax = column(tl),
	       *wait = column(tl), *blk = column(tl), *gc = column(tl), *rss = column(tl),
	       *native = column(tl), *managed = column(tl), *depth = column(tl),
	       *dmean = column(tl), *handles = column(tl), *fds = column(tl);
	unsigned char *shade = calloc(tl->n + 1, 1);
	int err = 0, any_pool = 0, any_mem[3] = {0, 0, 0}, any_handles = 0;
	size_t k;

	if (!elu || !p50 || !p99 || !lmax || !wait || !blk || !gc || !rss || !native || !managed ||
	    !depth || !dmean || !handles || !fds || !shade) {
		err = -ENOMEM;
		goto out;
	}
	events_into(r, tl, 0, blk);
	events_into(r, tl, 1, gc);
	for (k = 0; k < tl->n; k++) {
		const Loopscope__Window *w = tl->w[k];
		struct lsc_hist h;

		elu[k] = w->elu;
		if (!lsc_hist_from_proto(&h, w->lag) && h.total) {
			p50[k] = (double)lsc_hist_quantile(&h, 0.5) / 1e6;
			p99[k] = (double)lsc_hist_quantile(&h, 0.99) / 1e6;
			lmax[k] = (double)h.max / 1e6;
		}
		if (!lsc_hist_from_proto(&h, w->pool_wait) && h.total)
			wait[k] = (double)lsc_hist_quantile(&h, 0.99) / 1e6;
		if (w->has_rss_bytes) {
			rss[k] = (double)w->rss_bytes / 1048576;
			any_mem[0] = 1;
		}
		if (w->has_malloc_live_bytes) {
			native[k] = (double)w->malloc_live_bytes / 1048576;
			any_mem[1] = 1;
		}
		if (w->has_heap_live_after_gc) {
			managed[k] = (double)w->heap_live_after_gc / 1048576;
			any_mem[2] = 1;
		}
		if (w->has_pool_depth_max || w->has_pool_threads) {
			depth[k] = w->pool_depth_max;
			dmean[k] = w->has_pool_depth_mean ? w->pool_depth_mean : NAN;
			any_pool = 1;
		}
		if (w->has_active_handles) {
			handles[k] = w->active_handles;
			any_handles = 1;
		}
		if (w->has_open_fds)
			fds[k] = w->open_fds;
	}
	fputs("<section id=\"timeline\"><h2>Over time</h2>\n<p class=\"note\">One point a "
	      "window of the main loop; shaded: the windows past a finding's threshold.</p>\n",
	      out);
	for (k = 0; k < tl->n; k++)
		shade[k] = elu[k] >= 0.9;
	{
		struct series s[] = {{"ELU", "#d2691e", elu}};

		chart(out, "t-elu", "Event-loop utilization", "", tl, s, 1, shade, 1);
	}
	for (k = 0; k < tl->n; k++)
		shade[k] = !isnan(p99[k]) && p99[k] >= 10;
	{
		struct series s[] = {{"lag p50", "#2a6fdb", p50},
				     {"lag p99", "#b00", p99},
				     {"max", "#e69500", lmax}};

		chart(out, "t-lag", "Event-loop lag (a 1 ms timer's delay)", "ms", tl, s, 3, shade,
		      0);
	}
	for (k = 0; k < tl->n; k++)
		shade[k] = blk[k] >= 100 * (tl->t1[k] - tl->t0[k]); /* 10 % of the window */
	{
		struct series s[] = {{"blocking calls", "#8b008b", blk}};

		chart(out, "t-blocking", "Blocking calls on the loop thread", "ms", tl, s, 1, shade,
		      0);
	}
	for (k = 0; k < tl->n; k++)
		shade[k] = gc[k] >= 100 * (tl->t1[k] - tl->t0[k]);
	{
		struct series s[] = {{"GC pauses", "#2a9d4b", gc}};

		chart(out, "t-gc", "Garbage-collection pauses", "ms", tl, s, 1, shade, 0);
	}
	{
		struct series s[3];
		size_t n = 0;

		if (any_mem[0])
			s[n++] = (struct series){"RSS", "#999", rss};
		if (any_mem[1])
			s[n++] = (struct series){"native live", "#2a6fdb", native};
		if (any_mem[2])
			s[n++] = (struct series){"managed after GC", "#2a9d4b", managed};
		if (n)
			chart(out, "t-memory", "Memory", "MiB", tl, s, n, NULL, 0);
	}
	if (any_pool) {
		struct series s[] = {{"queue depth max", "#b8860b", depth},
				     {"mean", "#555", dmean}};

		for (k = 0; k < tl->n; k++)
			shade[k] = tl->w[k]->pool_threads &&
				   tl->w[k]->pool_depth_max >= tl->w[k]->pool_threads;
		chart(out, "t-pool", "Thread pool: jobs waiting in the queue", "jobs", tl, s, 2,
		      shade, 0);
		for (k = 0; k < tl->n; k++)
			shade[k] = !isnan(wait[k]) && wait[k] >= 10;
		{
			struct series sw[] = {{"queue wait p99", "#b8860b", wait}};

			chart(out, "t-pool-wait", "Thread pool: a job's wait in the queue", "ms",
			      tl, sw, 1, shade, 0);
		}
	}
	if (any_handles) {
		struct series s[] = {{rep->handles_node ? "Node's resources" : "active handles",
				      "#4b0082", handles},
				     {"open fds", "#999", fds}};

		chart(out, "t-handles", "Handles and file descriptors", "", tl, s, 2, NULL, 0);
		if (!err)
			err = by_type(out, tl, rep->handles_node);
	}
	if (!err)
		err = other_loops(out, r, rep, tl->tmax);
	fputs("</section>\n", out);
out : {
	double *all[] = {elu, p50,    p99,     lmax,  wait,  blk,     gc,
			 rss, native, managed, depth, dmean, handles, fds};

	for (k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		free(all[k]);
}
	free(shade);
	return err;
}

/* A flame graph in an iframe of its own (srcdoc: the page stays one file), scrolled to its
 * root on load. */
static void flame(FILE *out, const char *id, const char *title, const char *svg, const char *why)
{
	const char *c;

	fprintf(out, "<section id=\"%s\" class=\"flame\"><h2>", id);
	text(out, title);
	fputs("</h2>\n", out);
	if (!svg) {
		fputs("<p class=\"note\">", out);
		text(out, why);
		fputs("</p></section>\n", out);
		return;
	}
	fprintf(out, "<iframe id=\"%s-frame\" title=\"", id);
	text(out, title);
	fputs("\" srcdoc=\"<!DOCTYPE html><html><body style='margin:0'>", out);
	for (c = svg; *c; c++) {
		if (*c == '&')
			fputs("&amp;", out);
		else if (*c == '"')
			fputs("&quot;", out);
		else
			fputc(*c, out);
	}
	fputs("</body></html>\"></iframe></section>\n", out);
}

static const char page_css[] =
	"header p{margin:4px 0}.finding{border-left:5px solid #999;padding:6px 10px;margin:8px 0;"
	"background:#fafafa}.finding.critical{border-color:#c00}.finding.warning{border-color:"
	"#e69500}.sev{font-size:11px;text-transform:uppercase;color:#666;margin-right:6px}"
	".ev{font-size:13px;margin-top:3px}.at{font-size:13px;margin-top:3px}.ok{color:#2a7a2a}"
	".chart{margin:6px 0 14px}.ct{font-size:13px;font-weight:bold}.legend{font-weight:normal;"
	"margin-left:10px}.legend span{margin-right:8px}.chart svg{width:100%;height:110px;"
	"display:block}.hot{fill:#f6c8c8}.ax{stroke:#888;stroke-width:1}.yl{font-size:10px;"
	"text-anchor:end;fill:#555}.xl{font-size:10px;text-anchor:middle;fill:#555}"
	".note{color:#666;font-size:13px}iframe{width:100%;height:560px;border:1px solid #ccc}"
	"nav a{margin-right:12px}section{margin-top:18px}"
	"@media print{iframe{height:900px}.chart{break-inside:avoid}nav{display:none}}";

int lsc_render_report_html(FILE *out, const struct lsc_report_html_in *in)
{
	const struct lsc_report *rep = in->rep;
	struct timeline tl;
	char when[64] = "";
	time_t t = (time_t)(rep->start_unix_ns / 1000000000ULL);
	struct tm tm;
	int err;

	err = timeline_of(in->rec, rep, 0, &tl);
	if (err) {
		timeline_free(&tl);
		return err;
	}
	if (rep->start_unix_ns && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), " from %Y-%m-%d %H:%M:%S UTC", &tm);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width\"><title>",
	      out);
	text(out, in->title);
	fprintf(out, "</title><style>%s%s</style></head><body>\n<header><h1>", lsc__html_css,
		page_css);
	text(out, in->title);
	fprintf(out, "</h1><p>pid %u, %s capture, %.1f s%s%s", rep->pid,
		rep->source[0] ? rep->source : "?", (double)rep->duration_ns / 1e9, when,
		rep->cut	? " (a span of a longer recording)"
		: rep->complete ? ""
				: " (no footer: the process died)");
	if (rep->has_loop)
		fprintf(out, "; ELU %.2f, lag p99 %.1f ms; %llu blocking calls (%.1f ms)",
			rep->elu_mean, (double)rep->lag_p99 / 1e6,
			(unsigned long long)rep->blocking_count,
			(double)rep->blocking_total_ns / 1e6);
	fputs(".</p>", out);
	if (in->note) {
		fputs("<p class=\"note\">", out);
		text(out, in->note);
		fputs("</p>", out);
	}
	processes(out, in);
	fputs("<nav><a href=\"#diagnosis\">Diagnosis</a><a href=\"#timeline\">Over time</a>"
	      "<a href=\"#flame-cpu\">CPU</a><a href=\"#flame-blocking\">Blocking calls</a>"
	      "<a href=\"#flame-offcpu\">Off-CPU</a><a href=\"#heap\">Memory</a></nav></header>\n",
	      out);
	diagnosis(out, in);
	err = timelines(out, in->rec, rep, &tl);
	flame(out, "flame-cpu", "CPU: where the time goes", in->flame_cpu,
	      "No CPU samples in this recording (record with --cpu-hz above 0).");
	flame(out, "flame-blocking", "Blocking calls on the loop, by stack", in->flame_blocking,
	      "No blocking calls with stacks in this recording.");
	flame(out, "flame-offcpu", "Off-CPU time, by stack", in->flame_offcpu,
	      "No off-CPU profile in this recording (loopscope run records one; attach with "
	      "--offcpu).");
	fputs("<section id=\"heap\"><h2>Memory</h2>\n", out);
	if (in->heap && !err)
		err = lsc_render_heap_section(out, in->heap, 3);
	else
		fputs("<p class=\"note\">No heap data in this recording (loopscope run records the "
		      "native heap sampled by default, and Node's JS heap).</p>\n",
		      out);
	if (!err)
		err = lsc__snap_summary_html(out, in->snapshots, 3);
	fputs("</section>\n", out);
	fputs("</body></html>\n", out);
	timeline_free(&tl);
	if (!err && ferror(out))
		err = -EIO;
	return err;
}
