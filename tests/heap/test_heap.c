/*
 * test_heap.c — `loopscope heap` and `loopscope leaks` on recordings the agent makes of refloop's
 * scenarios, checked against the scenarios' own ground truth (--stats): a managed leak called a
 * leak with its type and rate, a native leak reported to the byte (exact) or within 10 %
 * (sampled), healthy programs not called leaks, post-mortem reports after a kill and a crash, the
 * error for a recording without heap data, Node.js caches (a leak, a bounded LRU), and the HTML
 * page as headless Chromium renders it.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "png_ink.h"

#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <zlib.h>

static void record(const char *rec, const char *stats, const char *heap, const char *scenario,
		   const char *const *args)
{
	char exe[512];
	const char *argv[32] = {LSC_BUILD_DIR "/loopscope",
				"run",
				"-o",
				rec,
				"--heap",
				heap,
				"--",
				exe,
				"--stats",
				stats,
				"--quiet",
				"1"};
	struct proc p;
	int n = 12, i;

	snprintf(exe, sizeof(exe), "%s/examples/%s", LSC_BUILD_DIR, scenario);
	for (i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	unlink(rec);
	proc_run(&p, argv, 90, NULL);
	if (!WIFEXITED(p.status))
		LSC_FAIL("%s under loopscope run: status 0x%x: %s", scenario, p.status, p.err);
}

/* Runs `loopscope CMD REC --json` and parses what it printed. */
static json_object *cli_json(const char *cmd, const char *rec)
{
	const char *argv[] = {LSC_BUILD_DIR "/loopscope", cmd, rec, "--json", "-o", NULL, NULL};
	struct proc p;
	json_object *o;

	argv[5] = path("out.json");
	proc_run(&p, argv, 60, NULL);
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status))
		LSC_FAIL("loopscope %s %s: %s", cmd, rec, p.err);
	o = json_object_from_file(path("out.json"));
	if (!o)
		LSC_FAIL("loopscope %s %s printed no JSON", cmd, rec);
	return o;
}

static json_object *get(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		LSC_FAIL("no '%s'", k);
	return v;
}

static double num(json_object *o, const char *a, const char *b)
{
	return json_object_get_double(b ? get(get(o, a), b) : get(o, a));
}

static const char *str(json_object *o, const char *a, const char *b)
{
	return json_object_get_string(b ? get(get(o, a), b) : get(o, a));
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Bytes per second: the median slope between pairs of the history's points after t0 + span/4. */
static double theil_sen_after_warmup(json_object *hist, double t0, double t1)
{
	size_t n = json_object_array_length(hist), i, j, k = 0;
	double cut = t0 + (t1 - t0) / 4, *s = calloc(n * n / 2 + 1, sizeof(double)), med;

	ASSERT_TRUE(s != NULL);
	for (i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(hist, i);

		if (num(a, "t_ns", NULL) < cut)
			continue;
		for (j = i + 1; j < n; j++) {
			json_object *b = json_object_array_get_idx(hist, j);
			double dt = (num(b, "t_ns", NULL) - num(a, "t_ns", NULL)) / 1e9;

			if (dt > 0)
				s[k++] = (num(b, "live_after", NULL) - num(a, "live_after", NULL)) /
					 dt;
		}
	}
	ASSERT_CMP(k, >=, 3);
	qsort(s, k, sizeof(*s), by_double);
	med = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
	free(s);
	return med;
}

TEST(managed_leak_is_a_leak_with_its_type_and_rate)
{
	static const char *args[] = {"--duration", "4", "--self-load", "2", NULL};
	json_object *h, *st, *hist, *first, *last;
	double truth, rate;

	capture_setup("heap");
	record(path("cache.lsr"), path("cache.json"), "sampled", "cache-leak", args);
	h = cli_json("heap", path("cache.lsr"));
	st = json_object_from_file(path("cache.json"));
	ASSERT_TRUE(st != NULL);
	ASSERT_STR_EQ(str(h, "managed", "verdict"), "leak");
	ASSERT_STR_EQ(json_object_get_string(
			      get(json_object_array_get_idx(get(h, "growth_types"), 0), "type")),
		      "SessionCacheEntry");
	/* The scenario's own rate, measured as docs/heap.md says the verdict measures it: live
	 * after GC, the median of the pairwise slopes after the first quarter of the time. (First
	 * to last collection is another estimator: on a machine whose other cores are busy the
	 * leak grows unevenly, and the two part by 25 % while both are right.) */
	hist = get(get(st, "gc"), "history");
	first = json_object_array_get_idx(hist, 0);
	last = json_object_array_get_idx(hist, json_object_array_length(hist) - 1);
	truth = theil_sen_after_warmup(hist, num(first, "t_ns", NULL), num(last, "t_ns", NULL));
	rate = num(h, "managed", "rate_bytes_per_s");
	printf("# cache-leak: %.0f KiB/s recorded, %.0f KiB/s by the scenario\n", rate / 1024,
	       truth / 1024);
	ASSERT_CMP(truth, >, 0);
	ASSERT_CMP(fabs(rate / truth - 1), <=, 0.10);
	json_object_put(h);
	json_object_put(st);
}

/* The leaks report's site at leak_session_buffer: bytes and count. */
static void leaked_at(json_object *l, double *bytes, double *count, int *likely)
{
	json_object *sites = get(l, "sites");
	size_t i;

	*bytes = *count = 0;
	*likely = 0;
	for (i = 0; i < json_object_array_length(sites); i++) {
		json_object *s = json_object_array_get_idx(sites, i);

		if (strcmp(json_object_get_string(get(get(s, "at"), "function")),
			   "leak_session_buffer"))
			continue;
		*bytes += num(s, "live_bytes", NULL);
		*count += num(s, "live_count", NULL);
		*likely |= json_object_get_boolean(get(s, "likely_leak"));
	}
}

TEST(native_leak_reported_exactly_and_within_ten_percent)
{
	static const char *full[] = {"--duration", "2", "--self-load", "2", NULL};
	static const char *sampled[] = {"--duration", "4", "--self-load", "2", NULL};
	json_object *l, *st;
	double bytes, count, truth;
	int likely;

	capture_setup("heap");
	record(path("nfull.lsr"), path("nfull.json"), "full", "native-leak", full);
	l = cli_json("leaks", path("nfull.lsr"));
	st = json_object_from_file(path("nfull.json"));
	leaked_at(l, &bytes, &count, &likely);
	ASSERT_EQ((uint64_t)bytes, (uint64_t)num(st, "scenario", "leaked_bytes"));
	ASSERT_EQ((uint64_t)count, (uint64_t)num(st, "scenario", "leaked_allocations"));
	ASSERT_TRUE(likely);
	json_object_put(l);
	json_object_put(st);

	record(path("nsamp.lsr"), path("nsamp.json"), "sampled", "native-leak", sampled);
	l = cli_json("leaks", path("nsamp.lsr"));
	st = json_object_from_file(path("nsamp.json"));
	leaked_at(l, &bytes, &count, &likely);
	truth = num(st, "scenario", "leaked_bytes");
	printf("# native-leak sampled: %.0f estimated of %.0f leaked\n", bytes, truth);
	ASSERT_CMP(truth, >=, 64 << 20);
	ASSERT_CMP(fabs(bytes / truth - 1), <, 0.10);
	json_object_put(l);
	json_object_put(st);
}

TEST(healthy_programs_are_not_called_leaks)
{
	static const char *args[] = {"--duration", "4", "--self-load", "2", NULL};
	static const char *const scenarios[] = {"healthy", "stream-file"};
	size_t s, i;

	capture_setup("heap");
	for (s = 0; s < 2; s++) {
		json_object *h, *l, *sites;
		const char *v;

		record(path("ok.lsr"), path("ok.json"), "full", scenarios[s], args);
		h = cli_json("heap", path("ok.lsr"));
		v = str(h, "native", "verdict");
		printf("# %s: native %s, managed %s\n", scenarios[s], v,
		       str(h, "managed", "verdict"));
		ASSERT_TRUE(!strcmp(v, "flat") || !strcmp(v, "warm-up then flat"));
		v = str(h, "managed", "verdict");
		ASSERT_TRUE(!strcmp(v, "flat") || !strcmp(v, "warm-up then flat") ||
			    !strcmp(v, "unknown"));
		json_object_put(h);
		l = cli_json("leaks", path("ok.lsr"));
		sites = get(l, "sites");
		for (i = 0; i < json_object_array_length(sites); i++)
			ASSERT_TRUE(!json_object_get_boolean(
				get(json_object_array_get_idx(sites, i), "likely_leak")));
		json_object_put(l);
	}
}

TEST(leaks_after_a_kill_and_after_a_crash)
{
	static const char *kill9[] = {"--self-load", "2",    "--die-after", "2.5",
				      "--die-how",   "kill", NULL};
	static const char *segv[] = {"--self-load", "2",    "--die-after", "2.5",
				     "--die-how",   "segv", NULL};
	const char *const *how[] = {kill9, segv};
	json_object *l;
	double bytes, count;
	int likely, k;

	capture_setup("heap");
	for (k = 0; k < 2; k++) {
		record(path("dead.lsr"), path("dead.json"), "full", "native-leak", how[k]);
		l = cli_json("leaks", path("dead.lsr"));
		leaked_at(l, &bytes, &count, &likely);
		printf("# %s: %.0f bytes in %.0f blocks at leak_session_buffer at %s\n",
		       k ? "segv" : "kill", bytes, count, str(l, "at", NULL));
		ASSERT_CMP(bytes, >, 0);
		ASSERT_EQ((uint64_t)bytes, (uint64_t)count * 24593);
		ASSERT_TRUE(strstr(str(l, "at", NULL), k ? "crash" : "died") != NULL);
		json_object_put(l);
	}
}

TEST(a_recording_without_heap_data_says_what_provides_it)
{
	const char *argv[] = {LSC_BUILD_DIR "/loopscope", "leaks", NULL, NULL};
	static const char *args[] = {"--duration", "1", NULL};
	struct proc p;

	capture_setup("heap");
	record(path("off.lsr"), path("off.json"), "off", "healthy", args);
	argv[2] = path("off.lsr");
	proc_run(&p, argv, 30, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 1);
	ASSERT_TRUE(strstr(p.err, "has no heap snapshots (capture with loopscope run --heap") !=
		    NULL);
	ASSERT_TRUE(strchr(p.err, '\n') == strrchr(p.err, '\n'));
	argv[2] = path("missing.lsr");
	proc_run(&p, argv, 30, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 1);
}

TEST(node_map_cache_leak_and_bounded_lru)
{
	static const char *const modes[] = {"leak", "lru"};
	const char *argv[] = {LSC_BUILD_DIR "/loopscope",
			      "run",
			      "-o",
			      NULL,
			      "--",
			      "/usr/bin/node",
			      LSC_SOURCE_DIR "/tests/heap/node_cache.js",
			      NULL,
			      "5",
			      NULL};
	struct proc p;
	size_t m;

	capture_setup("heap");
	if (access("/usr/bin/node", X_OK))
		LSC_FAIL("/usr/bin/node is missing: Node.js 20 is the real-world target");
	for (m = 0; m < 2; m++) {
		json_object *h;
		const char *v;

		argv[3] = path("node.lsr");
		argv[7] = modes[m];
		proc_run(&p, argv, 90, NULL);
		ASSERT_EQ(WEXITSTATUS(p.status), 0);
		h = cli_json("heap", path("node.lsr"));
		v = str(h, "managed", "verdict");
		printf("# node %s: managed heap %s (%s)\n", modes[m], v, str(h, "managed", "how"));
		if (m == 0)
			ASSERT_STR_EQ(v, "leak");
		else
			ASSERT_TRUE(!strcmp(v, "flat") || !strcmp(v, "warm-up then flat"));
		json_object_put(h);
	}
}

TEST(the_html_page_renders_in_chromium)
{
	static const char *args[] = {"--duration", "3", "--self-load", "2", NULL};
	const char *html[] = {LSC_BUILD_DIR "/loopscope", "heap", NULL, "-o", NULL, NULL};
	const char *install[] = {"/usr/bin/apt-get",	    "install",	"-y", "-qq",
				 "--no-install-recommends", "chromium", NULL};
	char url[700], shot[600];
	const char *shoot[] = {"/usr/bin/chromium",
			       "--headless",
			       "--no-sandbox",
			       "--disable-gpu",
			       "--hide-scrollbars",
			       "--window-size=1000,1000",
			       shot,
			       url,
			       NULL};
	const char *dom[] = {"/usr/bin/chromium",
			     "--headless",
			     "--no-sandbox",
			     "--disable-gpu",
			     "--dump-dom",
			     url,
			     NULL};
	char page[1 << 16];
	struct proc p;
	double ink;

	capture_setup("heap");
	if (access("/usr/bin/chromium", X_OK)) {
		/* Debian's chromium, as the issue asks; the test installs it when missing. */
		proc_run(&p, install, 900, NULL);
		if (access("/usr/bin/chromium", X_OK))
			LSC_FAIL("chromium is missing and could not be installed: %s", p.err);
	}
	record(path("page.lsr"), path("page.json"), "sampled", "cache-leak", args);
	html[2] = path("page.lsr");
	html[4] = path("page.html");
	proc_run(&p, html, 60, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	snprintf(url, sizeof(url), "file://%s", path("page.html"));
	snprintf(shot, sizeof(shot), "--screenshot=%s", path("page.png"));
	proc_run(&p, shoot, 120, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	ink = png_ink(path("page.png"));
	printf("# the page's screenshot: %.1f %% of its pixels drawn\n", 100 * ink);
	ASSERT_CMP(ink, >, 0.02);
	/* what the browser built from it: the timeline's SVG and the growth table */
	proc_run(&p, dom, 120, path("page.dom"));
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	slurp(path("page.dom"), page, sizeof(page));
	ASSERT_TRUE(strstr(page, "<svg") && strstr(page, "id=\"timeline\"") &&
		    strstr(page, "<polyline"));
	ASSERT_TRUE(strstr(page, "id=\"types\"") && strstr(page, "SessionCacheEntry"));
	ASSERT_TRUE(strstr(page, "id=\"growth\""));
}

TEST_MAIN(TEST_ENTRY(managed_leak_is_a_leak_with_its_type_and_rate),
	  TEST_ENTRY(native_leak_reported_exactly_and_within_ten_percent),
	  TEST_ENTRY(healthy_programs_are_not_called_leaks),
	  TEST_ENTRY(leaks_after_a_kill_and_after_a_crash),
	  TEST_ENTRY(a_recording_without_heap_data_says_what_provides_it),
	  TEST_ENTRY(node_map_cache_leak_and_bounded_lru),
	  TEST_ENTRY(the_html_page_renders_in_chromium))
