/*
 * test_exporter_record.c — the exporter's rotating recordings (--record-dir), as root (as CI
 * runs). A Node.js app (tests/bpf/record_app.js: JS on the CPU, GC pauses, futex waits on its
 * loop, three times the work in the middle third of its run) is recorded for three minutes in
 * 30 s segments, and, by the same session, in one continuous file (LOOPSCOPE_TEST_RECORD_TEE):
 *  - each segment is one of a numbered series and reads alone (its stacks, their JS names and
 *    kernel symbols in it);
 *  - `report DIR --pid P --since 60s` equals, to the byte of its JSON, the report of the same span
 *    cut from the continuous recording; so does a span across a segment boundary, and its flame
 *    graph; the spans hold what the app did (windows, CPU samples, GCs, blocking calls);
 *  - retention deletes the old segments (by age) and nothing the exporter did not write.
 */
/* three minutes of recording, and what is read back */
#define LSC_TEST_TIMEOUT 360
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "attach_run.h"
#include "http_test.h"

#include <dirent.h>
#include <time.h>

#define APP LSC_SOURCE_DIR "/tests/bpf/record_app.js"

/* The session's directory under dir (the one entry that is a directory), as dir/NAME. */
static const char *session_dir(const char *dir)
{
	static char out[1024];
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	ASSERT_TRUE(d != NULL);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && e->d_type == DT_DIR && strchr(e->d_name, '.')) {
			snprintf(out, sizeof(out), "%s/%s", dir, e->d_name);
			n++;
		}
	closedir(d);
	ASSERT_EQ(n, 1);
	return out;
}

static int by_num(const void *a, const void *b)
{
	unsigned long long x = strtoull(*(char *const *)a, NULL, 10),
			   y = strtoull(*(char *const *)b, NULL, 10);

	return x < y ? -1 : x > y;
}

/* The segment files' names in sdir, in order; their count. */
static size_t segments(const char *sdir, char **names, size_t cap)
{
	struct dirent *e;
	DIR *d = opendir(sdir);
	size_t n = 0;

	ASSERT_TRUE(d != NULL);
	while ((e = readdir(d)) && n < cap)
		if (strstr(e->d_name, ".lsr"))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), by_num);
	return n;
}

/* `loopscope ARGS... -o out`: exit status 0, or the case fails with its stderr. */
static void loopscope(const char *const *args, const char *out)
{
	const char *argv[24] = {built("loopscope")};
	struct proc p;
	size_t i;

	for (i = 0; args[i] && i < 20; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = "-o";
	argv[i + 2] = out;
	argv[i + 3] = NULL;
	proc_run(&p, argv, 60, NULL);
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status))
		LSC_FAIL("loopscope %s %s: %s", args[0], args[1], p.err);
}

/* Whether the two files hold the same bytes. */
static int same_file(const char *a, const char *b)
{
	static char x[4 << 20], y[4 << 20];

	slurp(a, x, sizeof(x));
	slurp(b, y, sizeof(y));
	return x[0] && !strcmp(x, y);
}

/* A process's resident memory, KiB. */
static long vm_rss(pid_t pid)
{
	char file[64], buf[4096];
	const char *at;

	snprintf(file, sizeof(file), "/proc/%d/status", (int)pid);
	at = strstr(slurp(file, buf, sizeof(buf)), "VmRSS:");
	ASSERT_TRUE(at != NULL);
	return atol(at + 6);
}

/* A segment read alone: every stack its samples and events use is in it, and every frame of
 * those stacks named by its own symbols or mappings (JS frames by JS names, kernel frames by
 * kallsyms'). Returns how many of its stacks pass through fn. */
static size_t alone(const char *file, const char *fn)
{
	struct lsc_recording *r = read_rec(file);
	size_t i, k, under = 0;

	ASSERT_TRUE(r->header != NULL);
	for (i = 0; i < r->nsamples; i++)
		for (k = 0; k < r->samples[i]->n_stack_id; k++)
			ASSERT_TRUE(lsc_recording_stack(r, r->samples[i]->stack_id[k]) != NULL);
	for (i = 0; i < r->nstacks; i++) {
		const Loopscope__Stack *s = r->stacks[i];

		for (k = 0; k < s->n_frames; k++) {
			uint64_t a = s->frames[k];

			if (k < s->kernel_frames || a >= 0x4000000000000000ULL)
				if (!lsc_recording_symbol(r, a))
					LSC_FAIL(
						"%s: stack %u's frame %zu (%#llx) has no symbol in it",
						file, s->id, k, (unsigned long long)a);
		}
		under += stack_has(r, s->id, fn);
	}
	lsc_recording_free(r);
	return under;
}

TEST(rotating_recordings_read_as_the_continuous_recording)
{
	const char *tag, *sdir;
	char listen[64], dir[600], tee[600], pidarg[16], env[700], since[64], until[64], *names[64];
	int port = free_port();
	pid_t app, ex;
	size_t n, i;
	unsigned long long start;
	json_object *rep;
	double last_elu;
	long rss;

	capture_setup("exporter-record");
	tag = strrchr(capture_dir, '/') + 1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(dir, sizeof(dir), "%s", path("rec"));
	snprintf(tee, sizeof(tee), "%s", path("continuous.lsr"));
	snprintf(env, sizeof(env), "LOOPSCOPE_TEST_RECORD_TEE=%s", tee);
	{
		const char *argv[] = {
			built("loopscope"), "exporter", "--listen",  listen, "--match", tag,
			"--record-dir",	    dir,	"--segment", "30s",  NULL};

		ex = proc_spawn(argv, path("exporter.out"), path("exporter.err"), env);
	}
	wait_text(path("exporter.err"), "serving", 20);
	{
		const char *argv[] = {"/usr/bin/node", APP, "180", tag, NULL};

		app = proc_spawn(argv, path("app.out"), path("app.err"), NULL);
	}
	wait_text(path("exporter.err"), "recording in", 20);
	/* the exporter's memory a minute in and at the end: nothing grows with the run */
	{
		double t = proc_now() + 60;

		while (proc_now() < t)
			usleep(200000);
	}
	rss = vm_rss(ex);
	ASSERT_EQ(WEXITSTATUS(proc_wait(app, 240)), 0);
	wait_text(path("exporter.err"), "exited", 20);
	printf("# the exporter's RSS: %ld KiB after a minute, %ld KiB after three\n", rss,
	       vm_rss(ex));
	ASSERT_CMP(vm_rss(ex), <=, rss + 4096);
	/* the span the acceptance names: the last 60 s, taken now that the app has exited */
	snprintf(pidarg, sizeof(pidarg), "%d", (int)app);
	{
		const char *a[] = {"report",  dir,   "--pid",  pidarg,
				   "--since", "60s", "--json", NULL};

		loopscope(a, path("segments.json"));
	}
	kill(ex, SIGTERM);
	ASSERT_EQ(WEXITSTATUS(proc_wait(ex, 30)), 0);

	/* a numbered series of 30 s segments, each readable alone */
	sdir = session_dir(dir);
	n = segments(sdir, names, 64);
	printf("# %zu segments in %s\n", n, sdir);
	ASSERT_CMP(n, >=, 6);
	ASSERT_CMP(n, <=, 8);
	for (i = 0; i < n; i++) {
		char file[1200];
		struct lsc_recording *r;
		size_t js;

		snprintf(file, sizeof(file), "%s/%s", sdir, names[i]);
		r = read_rec(file);
		ASSERT_EQ(r->header->segment, i + 1);
		ASSERT_STR_EQ(r->header->service, "record_app");
		ASSERT_EQ(r->header->pid, (uint32_t)app);
		ASSERT_TRUE((r->footer != NULL) == (i + 1 == n)); /* the session's end only */
		lsc_recording_free(r);
		/* JS named by its own symbols: processTimers, which V8 cannot inline (C++ calls
		 * it; the app's work() is inlined into its caller once optimized) */
		js = alone(file, "processTimers");
		ASSERT_CMP(js, >, 0);
	}

	/* the same span of the continuous recording, to the nanosecond the report began at */
	{
		const char *a[] = {"symbolize", tee, NULL};
		struct proc p;
		const char *argv[] = {built("loopscope"), a[0], a[1], NULL};

		proc_run(&p, argv, 60, NULL);
		ASSERT_EQ(WEXITSTATUS(p.status), 0);
	}
	rep = json_file(path("segments.json"));
	{
		json_object *run = json_get(rep, "run");
		uint64_t s = (uint64_t)json_object_get_int64(json_get(run, "start_unix_ns"));
		const char *a[] = {"report", tee, "--since", since, "--json", NULL};

		snprintf(since, sizeof(since), "@%llu.%09llu",
			 (unsigned long long)(s / 1000000000ULL),
			 (unsigned long long)(s % 1000000000ULL));
		loopscope(a, path("continuous.json"));
		printf("# the last 60 s: %d windows, %d CPU samples, %d GCs, %.0f blocking calls, "
		       "%.0f lock waits\n",
		       json_object_get_int(json_get(run, "windows")),
		       json_object_get_int(json_get(json_get(rep, "cpu"), "samples")),
		       json_object_get_int(json_get(json_get(rep, "gc"), "count")),
		       json_at(rep, "blocking", "count"),
		       json_at(json_get(rep, "blocking"), "lock_runtime", "count"));
		ASSERT_TRUE(json_object_get_boolean(json_get(run, "span")));
		ASSERT_CMP(json_object_get_int(json_get(run, "windows")), >=, 50);
		ASSERT_CMP(json_object_get_int(json_get(json_get(rep, "cpu"), "samples")), >, 100);
		ASSERT_CMP(json_object_get_int(json_get(json_get(rep, "gc"), "count")), >, 10);
		/* the app's Atomics.wait calls, 120 a minute: futex sleeps, which without stacks
		 * (the exporter's switch probes) the report counts as waits on the runtime's locks
		 */
		ASSERT_CMP(json_at(rep, "blocking", "count") +
				   json_at(json_get(rep, "blocking"), "lock_runtime", "count"),
			   >=, 100);
		ASSERT_TRUE(same_file(path("segments.json"), path("continuous.json")));
		last_elu = json_at(rep, "loop", "elu_mean");
	}
	json_object_put(rep);

	/* a span across the second segment boundary, in the heavy third: report and flame graph */
	start = strtoull(names[0], NULL, 10);
	snprintf(since, sizeof(since), "@%llu", start + 50);
	snprintf(until, sizeof(until), "@%llu", start + 95);
	{
		const char *a[] = {"report", dir,	"--pid", pidarg,   "--since",
				   since,    "--until", until,	 "--json", NULL};
		const char *b[] = {"report",  tee,   "--since", since,
				   "--until", until, "--json",	NULL};
		const char *c[] = {"flame",   dir,   "--pid",	 pidarg,   "--since", since,
				   "--until", until, "--format", "folded", NULL};
		const char *d[] = {"flame", tee,	"--since", since, "--until",
				   until,   "--format", "folded",  NULL};

		loopscope(a, path("mid-segments.json"));
		loopscope(b, path("mid-continuous.json"));
		ASSERT_TRUE(same_file(path("mid-segments.json"), path("mid-continuous.json")));
		loopscope(c, path("mid-segments.folded"));
		loopscope(d, path("mid-continuous.folded"));
		ASSERT_TRUE(same_file(path("mid-segments.folded"), path("mid-continuous.folded")));
		rep = json_file(path("mid-segments.json"));
		/* 45 windows, most of the heavy third's: busier than the last 60 s */
		printf("# 50 to 95 s: %.0f windows, ELU %.3f (the last 60 s: %.3f)\n",
		       json_at(rep, "run", "windows"), json_at(rep, "loop", "elu_mean"), last_elu);
		ASSERT_CMP(json_at(rep, "run", "windows"), >=, 40);
		ASSERT_CMP(json_at(rep, "run", "windows"), <=, 47);
		ASSERT_CMP(json_at(rep, "loop", "elu_mean"), >, 1.3 * last_elu);
		json_object_put(rep);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
}

TEST(retention_deletes_old_segments_and_nothing_it_did_not_write)
{
	const char *tag, *sdir;
	char listen[64], dir[600], foreign[1200], link[1200], target[600], *names[64];
	char first[1200], buf[4096];
	int port = free_port();
	double deadline;
	pid_t app, ex;
	size_t n, i;
	FILE *f;

	capture_setup("exporter-retain");
	tag = strrchr(capture_dir, '/') + 1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(dir, sizeof(dir), "%s", path("rec"));
	{
		const char *argv[] = {built("loopscope"),
				      "exporter",
				      "--listen",
				      listen,
				      "--match",
				      tag,
				      "--record-dir",
				      dir,
				      "--segment",
				      "5s",
				      "--retain-age",
				      "8s",
				      NULL};

		ex = proc_spawn(argv, path("exporter.out"), path("exporter.err"), NULL);
	}
	wait_text(path("exporter.err"), "serving", 20);
	/* named as the exporter names what it writes, but not its: a session of another, with a
	 * file that is not a recording and a link to a file outside */
	snprintf(foreign, sizeof(foreign), "%s/other.1.1", dir);
	ASSERT_OK(mkdir(foreign, 0755));
	snprintf(target, sizeof(target), "%s", path("outside.lsr"));
	f = fopen(target, "w");
	ASSERT_TRUE(f != NULL);
	fputs("LSCR not the exporter's\n", f);
	fclose(f);
	snprintf(link, sizeof(link), "%s/other.1.1/2.lsr", dir);
	ASSERT_OK(symlink(target, link));
	snprintf(foreign, sizeof(foreign), "%s/other.1.1/1.lsr", dir);
	f = fopen(foreign, "w");
	ASSERT_TRUE(f != NULL);
	fputs("someone's notes\n", f);
	fclose(f);
	{
		const char *argv[] = {"/usr/bin/node", APP, "40", tag, NULL};

		app = proc_spawn(argv, path("app.out"), path("app.err"), NULL);
	}
	wait_text(path("exporter.err"), "recording in", 20);
	{
		const char *at =
			strstr(slurp(path("exporter.err"), buf, sizeof(buf)), "recording in ");

		ASSERT_TRUE(at != NULL);
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(at + 13, ")\n"), at + 13);
	}
	/* the first segment ends after 5 s; 8 s later it is too old, and a check (every 10 s)
	 * deletes it */
	deadline = proc_now() + 35;
	while (access(first, F_OK) == 0) {
		if (proc_now() > deadline)
			LSC_FAIL("the first segment %s was still there after 35 s", first);
		usleep(200000);
	}
	ASSERT_EQ(WEXITSTATUS(proc_wait(app, 60)), 0);
	wait_text(path("exporter.err"), "exited", 20);
	kill(ex, SIGTERM);
	ASSERT_EQ(WEXITSTATUS(proc_wait(ex, 30)), 0);
	/* what it did not write is all there */
	ASSERT_OK(access(foreign, F_OK));
	ASSERT_OK(access(target, F_OK));
	{
		struct stat st;

		ASSERT_OK(lstat(link, &st));
		ASSERT_TRUE(S_ISLNK(st.st_mode));
	}
	/* of its own, the young ones stay: about 13 s of segments, and the one last written */
	ASSERT_OK(unlink(link));
	ASSERT_OK(unlink(foreign));
	snprintf(foreign, sizeof(foreign), "%s/other.1.1", dir);
	ASSERT_OK(rmdir(foreign));
	sdir = session_dir(dir);
	n = segments(sdir, names, 64);
	printf("# %zu segments left in %s\n", n, sdir);
	ASSERT_CMP(n, >=, 1);
	ASSERT_CMP(n, <=, 5);
	/* what is left reads as one recording, from its first segment on */
	{
		const char *a[] = {"report", dir, "--json", NULL};
		json_object *rep;

		loopscope(a, path("left.json"));
		rep = json_file(path("left.json"));
		ASSERT_CMP(json_at(rep, "run", "windows"), >=, 3);
		ASSERT_CMP(json_at(rep, "run", "windows"), <=, 5.0 * (double)n + 2);
		json_object_put(rep);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
}

TEST_MAIN(TEST_ENTRY(rotating_recordings_read_as_the_continuous_recording),
	  TEST_ENTRY(retention_deletes_old_segments_and_nothing_it_did_not_write))
