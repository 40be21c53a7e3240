/*
 * test_report_page.c — `loopscope report REC -o report.html` in headless Chromium (Debian's),
 * on three recordings made here with `loopscope run`: refloop's sync-read (the demo), its
 * cache-leak, and a Node.js app. For each page: the DOM Chromium built has the sections (the
 * diagnosis with its findings linking into the page, the timelines' charts, the flame graphs'
 * frames, the heap section); a screenshot at each section shows ink there; no script error in
 * the console; and, driven from a page of the test's own (the report in an iframe, reached
 * with --allow-file-access-from-files), the CPU flame graph's search finds the handler and its
 * zoom hides what is not under it.
 */
#define LSC_TEST_TIMEOUT 240
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "png_ink.h"

#include <sys/stat.h>

static const char *const chromium[] = {"/usr/bin/chromium", "--headless", "--no-sandbox",
				       "--disable-gpu", "--hide-scrollbars"};

/* Chromium on url with extra arguments; its stdout into out (a file), its stderr kept. */
static void browse(const char *url, const char *const *extra, const char *out, struct proc *p)
{
	const char *argv[16];
	size_t n = 0, i;

	for (i = 0; i < sizeof(chromium) / sizeof(chromium[0]); i++)
		argv[n++] = chromium[i];
	for (i = 0; extra[i] && n < 14; i++)
		argv[n++] = extra[i];
	argv[n++] = url;
	argv[n] = NULL;
	proc_run(p, argv, 120, out);
	ASSERT_EQ(WEXITSTATUS(p->status), 0);
}

static void need_chromium(void)
{
	const char *install[] = {"/usr/bin/apt-get",	    "install",	"-y", "-qq",
				 "--no-install-recommends", "chromium", NULL};
	struct proc p;

	if (!access("/usr/bin/chromium", X_OK))
		return;
	/* Debian's chromium, as the issue asks; installed when missing */
	proc_run(&p, install, 900, NULL);
	if (access("/usr/bin/chromium", X_OK))
		LSC_FAIL("chromium is missing and could not be installed: %s", p.err);
}

/* `loopscope run -o rec -- argv...` */
static void record(const char *rec, const char *const *prog)
{
	const char *argv[20] = {built("loopscope"), "run", "-o", rec, "--"};
	struct proc p;
	size_t i;

	for (i = 0; prog[i] && i < 14; i++)
		argv[5 + i] = prog[i];
	proc_run(&p, argv, 90, NULL);
	if (WEXITSTATUS(p.status))
		LSC_FAIL("run %s: %s", prog[0], p.err);
}

/* A refloop scenario, 3 s under its own loopback load, recorded into rec. */
static void scenario(const char *name, const char *rec)
{
	char exe[600];
	const char *prog[] = {exe, "--duration", "3", "--self-load", "2", "--quiet", "1", NULL};

	snprintf(exe, sizeof(exe), "%s/examples/%s", LSC_BUILD_DIR, name);
	record(rec, prog);
}

/* The page of rec, checked in Chromium; fn: a frame of the CPU flame graph to search and zoom
 * on (NULL: none). */
static void page(const char *name, const char *rec, const char *fn)
{
	static char dom[1 << 20], js[8192];
	static const char *const sections[] = {"diagnosis", "timeline", "flame-cpu", "heap"};
	char html[600], url[800], shot[700], wrapper[600], size[64], f[64];
	const char *at;
	struct proc p;
	struct stat st;
	int height = 0, top[4] = {0}, bottom[4] = {0}, shown = 0, hidden = 0;
	size_t i;

	snprintf(html, sizeof(html), "%s", path(name));
	{
		const char *argv[] = {built("loopscope"), "report", rec, "-o", html, NULL};

		proc_run(&p, argv, 60, NULL);
		ASSERT_EQ(WEXITSTATUS(p.status), 0);
	}
	ASSERT_OK(stat(html, &st));
	printf("# %s: %lld bytes\n", name, (long long)st.st_size);
	/* the DOM: the sections, findings linking into the page, charts, the flame graphs; no
	 * script error on the way */
	snprintf(url, sizeof(url), "file://%s", html);
	{
		const char *extra[] = {"--dump-dom", "--enable-logging=stderr", "--v=0",
				       "--virtual-time-budget=3000", NULL};

		browse(url, extra, path("dom.html"), &p);
	}
	if (strstr(p.err, "Uncaught") || strstr(p.err, "SyntaxError"))
		LSC_FAIL("%s: a script error in the console: %s", name, p.err);
	slurp(path("dom.html"), dom, sizeof(dom));
	for (i = 0; i < 4; i++) {
		char id[64];

		snprintf(id, sizeof(id), "id=\"%s\"", sections[i]);
		if (!strstr(dom, id))
			LSC_FAIL("%s: no %s in the DOM", name, id);
	}
	/* the findings, each linking to where the page shows it; or the verdict that there is
	 * none */
	if (strstr(dom, "class=\"finding"))
		ASSERT_TRUE(strstr(dom, "<a href=\"#t-") || strstr(dom, "<a href=\"#flame-") ||
			    strstr(dom, "<a href=\"#heap"));
	else
		ASSERT_TRUE(strstr(dom, "No problem found") != NULL);
	ASSERT_TRUE(strstr(dom, "id=\"t-elu\"") && strstr(dom, "<polyline"));
	ASSERT_TRUE(strstr(dom, "id=\"flame-cpu-frame\"") != NULL);
	/* driven from a page of the test's own: where the sections are; the flame graph's
	 * search and zoom */
	snprintf(wrapper, sizeof(wrapper), "%s", path("drive.html"));
	snprintf(
		js, sizeof(js),
		"<!DOCTYPE html><html><body style=\"margin:0\"><iframe id=\"r\" src=\"%s\" "
		"width=\"1200\" height=\"900\" style=\"border:0\"></iframe><script>\n"
		"document.getElementById('r').addEventListener('load', function () {\n"
		"  var d = this.contentDocument, fn = '%s', out = [];\n"
		"  ['diagnosis', 'timeline', 'flame-cpu', 'heap'].forEach(function (id) {\n"
		"    var r = d.getElementById(id).getBoundingClientRect();\n"
		"    out.push(Math.round(r.top) + ' ' + Math.round(r.bottom)); });\n"
		"  document.body.setAttribute('data-height', d.documentElement.scrollHeight);\n"
		"  document.body.setAttribute('data-sections', out.join(' '));\n"
		"  if (!fn) return;\n"
		"  var f = d.getElementById('flame-cpu-frame');\n"
		"  function go() { var w = f.contentWindow, g = w && w.document.querySelector('g.f');\n"
		"    if (!w || !w.search || !g || !g.f) { setTimeout(go, 50); return; }\n"
		"    w.search(new RegExp('^' + fn + '$'));\n"
		"    var m = w.document.getElementById('matched').textContent, t = null;\n"
		"    w.document.querySelectorAll('g.f').forEach(function (g) { if (g.f.name === fn "
		"&& (!t || g.f.v > t.v)) t = g.f; });\n"
		"    if (t) w.zoom(t);\n"
		"    var shown = 0, hidden = 0; w.document.querySelectorAll('g.f').forEach("
		"function (g) { g.style.display === 'none' ? hidden++ : shown++; });\n"
		"    document.body.setAttribute('data-result', 'matched[' + m + '] zoomed[' + (t ? "
		"1 : 0) + '] shown[' + shown + '] hidden[' + hidden + ']');\n"
		"  }\n  go();\n});\n</script></body></html>\n",
		html, fn ? fn : "");
	{
		FILE *w = fopen(wrapper, "w");

		ASSERT_TRUE(w != NULL);
		fputs(js, w);
		fclose(w);
	}
	snprintf(url, sizeof(url), "file://%s", wrapper);
	{
		const char *extra[] = {"--dump-dom", "--allow-file-access-from-files",
				       "--virtual-time-budget=5000", NULL};

		browse(url, extra, path("drive.dom"), &p);
	}
	slurp(path("drive.dom"), dom, sizeof(dom));
	at = strstr(dom, "data-sections=\"");
	if (!at || !strstr(dom, "data-height=\""))
		LSC_FAIL("%s: the page was not measured: %.300s", name, dom);
	height = atoi(strstr(dom, "data-height=\"") + 13);
	ASSERT_EQ(sscanf(at + 15, "%d %d %d %d %d %d %d %d", &top[0], &bottom[0], &top[1],
			 &bottom[1], &top[2], &bottom[2], &top[3], &bottom[3]),
		  8);
	/* one screenshot of the whole page (a window as tall as it): ink in each section */
	ASSERT_CMP(height, >, 900);
	ASSERT_CMP(height, <, 12000);
	snprintf(size, sizeof(size), "--window-size=1200,%d", height);
	snprintf(f, sizeof(f), "%.40s.png", name);
	snprintf(shot, sizeof(shot), "--screenshot=%s", path(f));
	snprintf(url, sizeof(url), "file://%s", html);
	{
		const char *extra[] = {shot, size, "--virtual-time-budget=3000", NULL};

		browse(url, extra, NULL, &p);
	}
	for (i = 0; i < 4; i++) {
		double ink = png_ink_rows(path(f), (uint32_t)top[i], (uint32_t)bottom[i]);

		printf("# %s #%s (%d to %d px): %.1f %% drawn\n", name, sections[i], top[i],
		       bottom[i], 100 * ink);
		ASSERT_CMP(bottom[i] - top[i], >, 40);
		ASSERT_CMP(ink, >, 0.02);
	}
	if (!fn)
		return;
	at = strstr(dom, "data-result=\"");
	if (!at)
		LSC_FAIL("%s: the flame graph was not driven: %.300s", name, dom);
	printf("# %s: %.100s\n", name, at);
	ASSERT_TRUE(strstr(at, "matched[Matched: ") != NULL);
	ASSERT_CMP(atof(strstr(at, "matched[Matched: ") + 17), >, 0); /* the search found fn */
	ASSERT_TRUE(strstr(at, "zoomed[1]") != NULL);
	ASSERT_EQ(sscanf(strstr(at, "shown["), "shown[%d] hidden[%d]", &shown, &hidden), 2);
	ASSERT_CMP(shown, >, 0);
	ASSERT_CMP(hidden, >, 0); /* zoomed: what is beside fn is hidden */
}

TEST(the_pages_of_sync_read_cache_leak_and_node_in_chromium)
{
	char rec[600], script[600];
	const char *node[] = {"/usr/bin/node", script, NULL};
	FILE *f;

	capture_setup("report-page");
	need_chromium();
	snprintf(rec, sizeof(rec), "%s", path("sync-read.lsr"));
	scenario("sync-read", rec);
	page("sync-read.html", rec, "handle_video");
	snprintf(rec, sizeof(rec), "%s", path("cache-leak.lsr"));
	scenario("cache-leak", rec);
	page("cache-leak.html", rec, NULL);
	/* Node: JSON work on a timer, and a cache that grows */
	snprintf(script, sizeof(script), "%s", path("app.js"));
	f = fopen(script, "w");
	ASSERT_TRUE(f != NULL);
	fputs("'use strict';\nconst keep = [];\nfunction roundTrip() {\n"
	      "  const o = { a: [], t: Date.now() };\n"
	      "  for (let i = 0; i < 3000; i++) o.a.push({ i, s: 'x' + i });\n"
	      "  keep.push(JSON.parse(JSON.stringify(o)).a.length);\n}\n"
	      "const t = setInterval(roundTrip, 20);\nsetTimeout(() => clearInterval(t), 2500);\n",
	      f);
	fclose(f);
	snprintf(rec, sizeof(rec), "%s", path("node.lsr"));
	record(rec, node);
	page("node.html", rec, "roundTrip");
}

/* A flame graph deeper than the window (140 frames: about 2,300 px) opens, alone in a window
 * 900 px high (an iframe of a page of the test's own), scrolled so that its root is in view;
 * an icicle graph (--reverse, the root on top) stays at its top. */
TEST(a_flame_graph_opens_with_its_root_in_view)
{
	static char dom[1 << 16];
	char folded[600], url[800], js[2048];
	const char *kinds[] = {"flame", "icicle"};
	int k;
	FILE *f;

	capture_setup("report-page");
	need_chromium();
	snprintf(folded, sizeof(folded), "%s", path("deep.folded"));
	f = fopen(folded, "w");
	ASSERT_TRUE(f != NULL);
	for (k = 0; k < 140; k++)
		fprintf(f, "%sf%d", k ? ";" : "", k);
	fputs(" 10\nmain;short 5\n", f);
	fclose(f);
	for (k = 0; k < 2; k++) {
		char svg[600], wrapper[600], name[32];
		const char *argv[] = {
			built("loopscope"),	"flame", "--folded", folded, "-o", svg,
			k ? "--reverse" : NULL, NULL};
		const char *extra[] = {"--dump-dom", "--allow-file-access-from-files",
				       "--virtual-time-budget=3000", NULL};
		struct proc p;
		const char *at;
		int top = -1, bottom = -1, scrolled = -1;

		snprintf(name, sizeof(name), "%s.svg", kinds[k]);
		snprintf(svg, sizeof(svg), "%s", path(name));
		proc_run(&p, argv, 30, NULL);
		ASSERT_EQ(WEXITSTATUS(p.status), 0);
		snprintf(
			js, sizeof(js),
			"<!DOCTYPE html><html><body style=\"margin:0\"><iframe id=\"s\" src=\"%s\" "
			"width=\"1200\" height=\"900\" style=\"border:0\"></iframe><script>\n"
			"document.getElementById('s').addEventListener('load', function () {\n"
			"  var w = this.contentWindow; setTimeout(function () {\n"
			"    var root = w.document.querySelector('g.f[data-d=\"0\"]'), "
			"r = root.getBoundingClientRect();\n"
			"    document.body.setAttribute('data-root', Math.round(r.top) + ' ' + "
			"Math.round(r.bottom) + ' ' + Math.round(w.scrollY));\n"
			"  }, 100); });\n</script></body></html>\n",
			svg);
		snprintf(wrapper, sizeof(wrapper), "%s", path("open.html"));
		f = fopen(wrapper, "w");
		ASSERT_TRUE(f != NULL);
		fputs(js, f);
		fclose(f);
		snprintf(url, sizeof(url), "file://%s", wrapper);
		browse(url, extra, path("open.dom"), &p);
		slurp(path("open.dom"), dom, sizeof(dom));
		at = strstr(dom, "data-root=\"");
		if (!at)
			LSC_FAIL("%s: not measured: %.300s", kinds[k], dom);
		ASSERT_EQ(sscanf(at + 11, "%d %d %d", &top, &bottom, &scrolled), 3);
		printf("# the %s graph: its root at %d to %d px of a 900 px window (scrolled %d px)\n",
		       kinds[k], top, bottom, scrolled);
		ASSERT_CMP(top, >=, 0);
		ASSERT_CMP(bottom, <=, 900);
		if (!k)
			ASSERT_CMP(scrolled, >,
				   1000); /* deeper than the window: it had to scroll */
		else
			ASSERT_EQ(scrolled, 0);
	}
}

/* make demo's script ends by writing the page and printing where it is. */
TEST(the_demo_ends_with_the_page)
{
	const char *argv[] = {"/bin/bash", LSC_SOURCE_DIR "/scripts/demo.sh", LSC_BUILD_DIR, NULL};
	static char out[1 << 16], page[1 << 20];
	char html[600];
	const char *at;
	struct proc p;

	capture_setup("report-page");
	proc_run(&p, argv, 120, path("demo.out"));
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	slurp(path("demo.out"), out, sizeof(out));
	at = strstr(out, "The whole story on one page");
	ASSERT_TRUE(at != NULL);
	snprintf(html, sizeof(html), "%s/demo/report.html", LSC_BUILD_DIR);
	ASSERT_TRUE(strstr(at, html) != NULL);
	slurp(html, page, sizeof(page));
	ASSERT_TRUE(strstr(page, "id=\"diagnosis\"") && strstr(page, "handle_video"));
}

TEST_MAIN(TEST_ENTRY(the_pages_of_sync_read_cache_leak_and_node_in_chromium),
	  TEST_ENTRY(a_flame_graph_opens_with_its_root_in_view),
	  TEST_ENTRY(the_demo_ends_with_the_page))
