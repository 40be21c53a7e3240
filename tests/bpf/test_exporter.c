/*
 * test_exporter.c — `loopscope exporter` scraped by a real Prometheus (Debian's), as root (as CI
 * runs): three Node.js apps (tests/bpf/exporter_app.js: one busy 60 % of its time, one keeping
 * libuv's pool saturated, one waiting in Atomics.wait on its loop) and a refloop scenario, all
 * started after the exporter, are up in Prometheus within 10 s; the ELU Prometheus computes from
 * the busy and idle counters over 10 s is within 0.03 of each app's own
 * performance.eventLoopUtilization() over the same 10 s; the waits are blocking calls (futex),
 * their seconds within 20 % of what the app timed; the saturated pool's queue depth is there;
 * promtool accepts a scrape; a process that exits leaves the exposition and Prometheus.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "attach_run.h"
#include "http_test.h"

#include <math.h>
#include <time.h>

#define APP LSC_SOURCE_DIR "/tests/bpf/exporter_app.js"

/* A query's URL-encoded form. */
static void url_encode(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 4 < cap; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-')
			out[o++] = *s;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", (unsigned char)*s);
	}
	out[o] = 0;
}

/* Prometheus's answer to an instant query at time t (0: now): its result array (owned by *doc). */
static json_object *prom_query(int port, const char *q, double t, json_object **doc)
{
	static char body[1 << 20];
	char enc[2048], url[2400];

	url_encode(q, enc, sizeof(enc));
	if (t > 0)
		snprintf(url, sizeof(url), "/api/v1/query?query=%s&time=%.3f", enc, t);
	else
		snprintf(url, sizeof(url), "/api/v1/query?query=%s", enc);
	if (http_get(port, url, NULL, body, sizeof(body)) != 200)
		LSC_FAIL("Prometheus query %s: %s", q, body);
	*doc = json_tokener_parse(body);
	if (!*doc)
		LSC_FAIL("Prometheus query %s: not JSON: %s", q, body);
	return json_get(json_get(*doc, "data"), "result");
}

/* The one value of a query's result (NAN when it has none). */
static double prom_value(int port, const char *q, double t)
{
	json_object *doc, *res = prom_query(port, q, t, &doc);
	double v = NAN;

	if (json_object_array_length(res) >= 1)
		v = atof(json_object_get_string(json_object_array_get_idx(
			json_get(json_object_array_get_idx(res, 0), "value"), 1)));
	json_object_put(doc);
	return v;
}

static size_t prom_count(int port, const char *q)
{
	json_object *doc, *res = prom_query(port, q, 0, &doc);
	size_t n = json_object_array_length(res);

	json_object_put(doc);
	return n;
}

static double wall_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A figure of the app's "elu U waited S" line ("elu ", "waited "), once it printed it. */
static double app_figure(const char *out, const char *what)
{
	char buf[4096];
	const char *at;

	wait_text(out, "waited ", 20);
	at = strstr(slurp(out, buf, sizeof(buf)), what);
	return at ? atof(at + strlen(what)) : NAN;
}

TEST(prometheus_scrapes_node_and_refloop_elu_pool_and_exits)
{
	const char *tag;
	char listen[64], web[64], tsdb[600], cfg[600], stats[600], portarg[16];
	char q[512], scrape[1 << 16];
	int ex_port = free_port(), prom_port = free_port();
	pid_t ex, prom, spin, pool, waiter, ref;
	double t_start, t0, v;
	FILE *f;
	struct proc p;

	capture_setup("exporter");
	/* the case's directory's name ("exporter-PID"): in every command line the case starts */
	tag = strrchr(capture_dir, '/') + 1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", ex_port);
	{
		/* only the processes whose command line holds this case's directory */
		const char *argv[] = {built("loopscope"), "exporter", "--listen", listen,
				      "--match",	  tag,	      NULL};

		ex = proc_spawn(argv, path("exporter.out"), path("exporter.err"), NULL);
	}
	wait_text(path("exporter.err"), "serving", 20);

	snprintf(cfg, sizeof(cfg), "%s", path("prometheus.yml"));
	f = fopen(cfg, "w");
	ASSERT_TRUE(f != NULL);
	fprintf(f,
		"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
		"scrape_configs:\n  - job_name: loopscope\n    static_configs:\n"
		"      - targets: ['%s']\n",
		listen);
	fclose(f);
	snprintf(web, sizeof(web), "--web.listen-address=127.0.0.1:%d", prom_port);
	snprintf(tsdb, sizeof(tsdb), "--storage.tsdb.path=%s", path("tsdb"));
	{
		char config[700];
		const char *argv[] = {"/usr/bin/prometheus", config, web, tsdb,
				      "--log.level=warn",    NULL};

		snprintf(config, sizeof(config), "--config.file=%s", cfg);
		prom = proc_spawn(argv, path("prometheus.out"), path("prometheus.err"), NULL);
	}
	{
		double deadline = proc_now() + 30;

		while (http_get(prom_port, "/-/ready", NULL, scrape, sizeof(scrape)) != 200) {
			if (proc_now() > deadline)
				LSC_FAIL("Prometheus never became ready: %s",
					 slurp(path("prometheus.err"), scrape, sizeof(scrape)));
			usleep(100000);
		}
	}

	/* the apps, after the exporter and Prometheus */
	t_start = proc_now();
	{
		const char *a1[] = {"/usr/bin/node", APP, "spin", "0.6", tag, NULL};
		const char *a2[] = {"/usr/bin/node", APP, "pool", "8", tag, NULL};
		const char *a4[] = {"/usr/bin/node", APP, "wait", "20", tag, NULL};
		char exe[512];
		const char *a3[] = {exe,  "--stats",	 stats, "--duration",
				    "60", "--self-load", "2",	NULL};

		spin = proc_spawn(a1, path("spin.out"), path("spin.err"), NULL);
		pool = proc_spawn(a2, path("pool.out"), path("pool.err"), "UV_THREADPOOL_SIZE=2");
		waiter = proc_spawn(a4, path("wait.out"), path("wait.err"), NULL);
		snprintf(exe, sizeof(exe), "%s/examples/healthy", LSC_BUILD_DIR);
		snprintf(stats, sizeof(stats), "%s", path("healthy.json"));
		ref = proc_spawn(a3, path("healthy.out"), path("healthy.err"), NULL);
	}
	wait_text(path("spin.out"), "ready", 20);
	wait_text(path("pool.out"), "ready", 20);
	wait_text(path("wait.out"), "ready", 20);
	/* all four up, each with a loop that has turned */
	while (prom_count(prom_port, "loopscope_event_loop_iterations_total{loop=\"main\"} > 0") <
	       4) {
		if (proc_now() - t_start > 10)
			LSC_FAIL("after 10 s, not all four in Prometheus: %s",
				 slurp(path("exporter.err"), scrape, sizeof(scrape)));
		usleep(200000);
	}
	printf("# all four up in Prometheus %.1f s after they started\n", proc_now() - t_start);
	/* with the default probes: no program on any syscall */
	ASSERT_TRUE(file_has(path("exporter.err"), "the scheduler's switches"));
	ASSERT_TRUE(!file_has(path("exporter.err"), "its syscalls"));

	/* ELU over the same 10 s: the apps' own, and Prometheus's from the counters */
	t0 = wall_now();
	kill(spin, SIGUSR2);
	kill(pool, SIGUSR2);
	kill(waiter, SIGUSR2);
	{
		double own_spin = app_figure(path("spin.out"), "elu "),
		       own_pool = app_figure(path("pool.out"), "elu "),
		       own_wait = app_figure(path("wait.out"), "elu "),
		       waited = app_figure(path("wait.out"), "waited ");
		pid_t pids[3] = {spin, pool, waiter};
		double own[3] = {own_spin, own_pool, own_wait};
		const char *names[3] = {"spin", "pool", "wait"};
		int i;

		while (wall_now() < t0 + 12) /* the scrape after the span is in */
			usleep(100000);
		/* the waits: blocking calls in futex, as long as the app timed them */
		snprintf(q, sizeof(q),
			 "increase(loopscope_blocking_seconds_total{pid=\"%d\",syscall=\"futex\"}"
			 "[10s])",
			 (int)waiter);
		v = prom_value(prom_port, q, t0 + 10);
		printf("# wait: %.2f s blocked in futex through Prometheus, %.2f s timed by it\n",
		       v, waited);
		ASSERT_CMP(waited, >, 1);
		ASSERT_CMP(fabs(v - waited), <=, 0.2 * waited);
		for (i = 0; i < 3; i++) {
			snprintf(
				q, sizeof(q),
				"rate(loopscope_event_loop_busy_seconds_total{pid=\"%d\",loop=\"main\"}"
				"[10s]) / (rate(loopscope_event_loop_busy_seconds_total{pid=\"%d\","
				"loop=\"main\"}[10s]) + rate(loopscope_event_loop_idle_seconds_total{"
				"pid=\"%d\",loop=\"main\"}[10s]))",
				(int)pids[i], (int)pids[i], (int)pids[i]);
			v = prom_value(prom_port, q, t0 + 10);
			printf("# %s: ELU through Prometheus %.3f, its own %.3f\n", names[i], v,
			       own[i]);
			ASSERT_CMP(fabs(v - own[i]), <=, 0.03);
		}
	}

	/* the saturated pool: 8 jobs on 2 threads */
	snprintf(q, sizeof(q), "max_over_time(loopscope_threadpool_queue_depth{pid=\"%d\"}[10s])",
		 (int)pool);
	v = prom_value(prom_port, q, 0);
	printf("# pool: queue depth up to %.0f\n", v);
	ASSERT_CMP(v, >=, 3);

	/* refloop's heap after its collections (its GC probes say; V8's do not) */
	snprintf(q, sizeof(q), "loopscope_gc_heap_bytes{pid=\"%d\"}", (int)ref);
	v = prom_value(prom_port, q, 0);
	printf("# refloop: GC heap %.0f bytes\n", v);
	ASSERT_CMP(v, >, 0);

	/* promtool on a scrape, in Prometheus's text format */
	ASSERT_EQ(http_get(ex_port, "/metrics", NULL, scrape, sizeof(scrape)), 200);
	f = fopen(path("scrape.txt"), "w");
	ASSERT_TRUE(f != NULL);
	fputs(scrape, f);
	fclose(f);
	{
		char sh[700];
		const char *argv[] = {"/bin/sh", "-c", sh, NULL};

		snprintf(sh, sizeof(sh), "promtool check metrics < '%s'", path("scrape.txt"));
		proc_run(&p, argv, 30, NULL);
		if (p.status)
			LSC_FAIL("promtool check metrics: %s", p.err);
	}
	/* and OpenMetrics when asked for it */
	ASSERT_EQ(http_get(ex_port, "/metrics", "application/openmetrics-text; version=1.0.0",
			   scrape, sizeof(scrape)),
		  200);
	ASSERT_TRUE(strstr(scrape, "# EOF\n") != NULL);
	ASSERT_TRUE(strstr(scrape, "# UNIT loopscope_event_loop_busy_seconds seconds") != NULL);
	/* Prometheus itself read every scrape (it asks for OpenMetrics first) */
	snprintf(q, sizeof(q), "up{instance=\"%s\"}", listen);
	ASSERT_CMP(prom_value(prom_port, q, 0), ==, 1);

	/* a process that exits leaves the exposition, then Prometheus */
	kill(spin, SIGTERM);
	ASSERT_EQ(WEXITSTATUS(proc_wait(spin, 20)), 0);
	snprintf(portarg, sizeof(portarg), "pid=\"%d\"", (int)spin);
	{
		double deadline = proc_now() + 5;

		for (;;) {
			ASSERT_EQ(http_get(ex_port, "/metrics", NULL, scrape, sizeof(scrape)), 200);
			snprintf(q, sizeof(q), "loopscope_target_info{pid=\"%d\"}", (int)spin);
			if (!strstr(scrape, portarg) && !prom_count(prom_port, q))
				break;
			if (proc_now() > deadline)
				LSC_FAIL("PID %d still there 5 s after it exited", (int)spin);
			usleep(200000);
		}
	}
	snprintf(q, sizeof(q), "loopscope_target_info{pid=\"%d\"}", (int)pool);
	ASSERT_EQ(prom_count(prom_port, q), 1); /* the others stay */

	kill(pool, SIGTERM);
	kill(waiter, SIGTERM);
	kill(ref, SIGTERM);
	proc_wait(pool, 20);
	proc_wait(waiter, 20);
	proc_wait(ref, 20);
	kill(ex, SIGTERM);
	ASSERT_EQ(WEXITSTATUS(proc_wait(ex, 30)), 0);
	kill(prom, SIGTERM);
	proc_wait(prom, 30);
}

TEST_MAIN(TEST_ENTRY(prometheus_scrapes_node_and_refloop_elu_pool_and_exits))
