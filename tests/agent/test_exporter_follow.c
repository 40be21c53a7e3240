/*
 * test_exporter_follow.c — `loopscope exporter --recordings DIR` with no privilege at all: the
 * exporter and a Node.js app under `loopscope run -o DIR/app.lsr` both run as nobody (as root,
 * the test drops to it; otherwise as the caller), and the app is served from its recording as it
 * grows: its service name, its ELU over 4 s from the counters within 0.05 of its own
 * performance.eventLoopUtilization(), a scrape promtool accepts; and it leaves the exposition
 * when it exits.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "http_test.h"

#include <math.h>
#include <pwd.h>
#include <sys/stat.h>

#define APP LSC_SOURCE_DIR "/tests/bpf/exporter_app.js"

/* Until file holds text, at most secs. */
static void wait_for(const char *file, const char *text, double secs)
{
	double deadline = proc_now() + secs;
	char buf[8192];

	while (!strstr(slurp(file, buf, sizeof(buf)), text)) {
		if (proc_now() > deadline)
			LSC_FAIL("'%s' never appeared in %s: %s", text, file, buf);
		usleep(50000);
	}
}

/* A counter's value for the main loop of the process with service svc in a scrape. */
static double counter(const char *scrape, const char *name, const char *svc)
{
	char want[256];
	const char *at;

	snprintf(want, sizeof(want), "%s{service=\"%s\",", name, svc);
	for (at = scrape; (at = strstr(at, want)); at++) {
		const char *end = strchr(at, '}');

		if (end && memmem(at, (size_t)(end - at), "loop=\"main\"", 11))
			return atof(end + 1);
	}
	return NAN;
}

/* A series' value for the process with service svc, whatever its other labels. */
static double counter_any(const char *scrape, const char *name, const char *svc)
{
	char want[256];
	const char *at;

	snprintf(want, sizeof(want), "%s{service=\"%s\",", name, svc);
	at = strstr(scrape, want);
	return at && strchr(at, '}') ? atof(strchr(at, '}') + 1) : NAN;
}

TEST(agent_recordings_are_served_without_privilege)
{
	char listen[64], dir[512], rec[600], scrape[1 << 16], buf[1 << 16], want[64];
	char stage[128], loopscope[256], app_js[256];
	const char *drop[] = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
			      "--clear-groups"};
	int port = free_port(), root = geteuid() == 0, n, pid = 0;
	double b0, i0, b1, i1, own, elu;
	pid_t ex, app;
	const char *at;
	struct proc p;

	capture_setup("exporter-rec");
	/* what nobody runs and reads, where nobody can reach it whatever the build tree's
	 * permissions: loopscope and its agent, the app, and the directory of recordings */
	snprintf(stage, sizeof(stage), "/tmp/lsc-exporter-rec-%d", (int)getpid());
	{
		char sh[2048];
		const char *argv[] = {"/bin/sh", "-c", sh, NULL};

		snprintf(sh, sizeof(sh),
			 "rm -rf '%s' && mkdir -p '%s/rec' && cp '%s' '%s' '%s' '%s/' && "
			 "chmod 755 '%s' '%s'/* && chmod 777 '%s/rec'",
			 stage, stage, built("loopscope"), built("libloopscope_agent.so"), APP,
			 stage, stage, stage, stage);
		proc_run(&p, argv, 30, NULL);
		if (p.status)
			LSC_FAIL("staging: %s", p.err);
	}
	snprintf(loopscope, sizeof(loopscope), "%s/loopscope", stage);
	snprintf(app_js, sizeof(app_js), "%s/exporter_app.js", stage);
	snprintf(dir, sizeof(dir), "%s/rec", stage);
	snprintf(rec, sizeof(rec), "%s/app.lsr", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	{
		const char *argv[12];

		n = 0;
		if (root)
			for (; n < 4; n++)
				argv[n] = drop[n];
		argv[n++] = loopscope;
		argv[n++] = "exporter";
		argv[n++] = "--listen";
		argv[n++] = listen;
		argv[n++] = "--recordings";
		argv[n++] = dir;
		argv[n] = NULL;
		ex = proc_spawn(argv, path("exporter.out"), path("exporter.err"), NULL);
	}
	wait_for(path("exporter.err"), "serving", 20);
	if (root) /* no eBPF for nobody: the recordings only, and it says so */
		ASSERT_TRUE(file_has(path("exporter.err"), "--recordings only"));
	{
		const char *argv[16];

		n = 0;
		if (root)
			for (; n < 4; n++)
				argv[n] = drop[n];
		argv[n++] = "/usr/bin/env";
		argv[n++] = "LOOPSCOPE_SERVICE=recorded";
		argv[n++] = "ELU_SPAN_MS=4000";
		argv[n++] = loopscope;
		argv[n++] = "run";
		argv[n++] = "-o";
		argv[n++] = rec;
		argv[n++] = "--";
		argv[n++] = "/usr/bin/node";
		argv[n++] = app_js;
		argv[n++] = "spin";
		argv[n++] = "0.4";
		argv[n++] = "x";
		argv[n] = NULL;
		app = proc_spawn(argv, path("app.out"), path("app.err"), NULL);
	}
	wait_for(path("app.out"), "ready", 30);
	/* served: its service, a window of its main loop */
	{
		double deadline = proc_now() + 10;

		for (;;) {
			ASSERT_EQ(http_get(port, "/metrics", NULL, scrape, sizeof(scrape)), 200);
			if (!isnan(counter(scrape, "loopscope_event_loop_busy_seconds_total",
					   "recorded")))
				break;
			if (proc_now() > deadline)
				LSC_FAIL("not served after 10 s: %s",
					 slurp(path("exporter.err"), buf, sizeof(buf)));
			usleep(200000);
		}
	}
	at = strstr(scrape, "loopscope_target_info{service=\"recorded\",pid=\"");
	ASSERT_TRUE(at != NULL);
	pid = atoi(at + strlen("loopscope_target_info{service=\"recorded\",pid=\""));
	ASSERT_CMP(pid, >, 0);

	/* ELU over the app's own 4 s */
	b0 = counter(scrape, "loopscope_event_loop_busy_seconds_total", "recorded");
	i0 = counter(scrape, "loopscope_event_loop_idle_seconds_total", "recorded");
	kill(pid, SIGUSR2);
	wait_for(path("app.out"), "waited ", 20);
	own = atof(strstr(slurp(path("app.out"), buf, sizeof(buf)), "elu ") + 4);
	usleep(1200000); /* the window that ends the span, written */
	ASSERT_EQ(http_get(port, "/metrics", NULL, scrape, sizeof(scrape)), 200);
	b1 = counter(scrape, "loopscope_event_loop_busy_seconds_total", "recorded");
	i1 = counter(scrape, "loopscope_event_loop_idle_seconds_total", "recorded");
	elu = (b1 - b0) / ((b1 - b0) + (i1 - i0));
	printf("# from the recording: ELU %.3f over %.1f s; its own %.3f\n", elu,
	       (b1 - b0) + (i1 - i0), own);
	ASSERT_CMP(fabs(elu - own), <=, 0.05);

	/* V8's heap after its collections, from the agent's GC events */
	ASSERT_CMP(counter_any(scrape, "loopscope_gc_heap_bytes", "recorded"), >, 1 << 20);

	/* promtool on that scrape */
	{
		FILE *f = fopen(path("scrape.txt"), "w");
		char sh[700];
		const char *argv[] = {"/bin/sh", "-c", sh, NULL};

		ASSERT_TRUE(f != NULL);
		fputs(scrape, f);
		fclose(f);
		snprintf(sh, sizeof(sh), "promtool check metrics < '%s'", path("scrape.txt"));
		proc_run(&p, argv, 30, NULL);
		if (p.status)
			LSC_FAIL("promtool check metrics: %s", p.err);
	}

	/* it exits: gone from the exposition */
	kill(pid, SIGTERM);
	proc_wait(app, 30);
	snprintf(want, sizeof(want), "pid=\"%d\"", pid);
	{
		double deadline = proc_now() + 5;

		for (;;) {
			ASSERT_EQ(http_get(port, "/metrics", NULL, scrape, sizeof(scrape)), 200);
			if (!strstr(scrape, want))
				break;
			if (proc_now() > deadline)
				LSC_FAIL("PID %d still served 5 s after it exited", pid);
			usleep(200000);
		}
	}
	kill(ex, SIGTERM);
	ASSERT_EQ(WEXITSTATUS(proc_wait(ex, 30)), 0);
	{
		char sh[256];
		const char *argv[] = {"/bin/sh", "-c", sh, NULL};

		snprintf(sh, sizeof(sh), "rm -rf '%s'", stage);
		proc_run(&p, argv, 30, NULL);
	}
}

TEST_MAIN(TEST_ENTRY(agent_recordings_are_served_without_privilege))
