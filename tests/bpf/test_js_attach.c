/*
 * test_js_attach.c — `loopscope attach` names the JS frames of a Node.js process started with no
 * flag (as root): from V8's own objects (bpf/v8.h), not a perf map. Against V8's own profiler
 * (--cpu-prof, in the same run): the same functions hold the same shares of the samples that
 * fall in the app's JS, each with its script and line; a function deoptimized and optimized
 * again during the capture is still named; a readFileSync handler is named in the blocking
 * finding; and a node whose V8 lacks a metadata symbol (simulated) gets a note and no names.
 * The app: tests/bpf/node_js.js.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "attach_run.h"
#include "loops_json.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#define APP   LSC_SOURCE_DIR "/tests/bpf/node_js.js"
#define NFUNC 64

struct share {
	char name[128];
	double n;
	unsigned line;
};

static struct share *find(struct share *s, int *n, const char *name)
{
	int i;

	for (i = 0; i < *n; i++)
		if (!strcmp(s[i].name, name))
			return &s[i];
	if (*n == NFUNC)
		return NULL;
	snprintf(s[*n].name, sizeof(s[0].name), "%s", name);
	s[*n].n = 0;
	s[*n].line = 0;
	return &s[(*n)++];
}

/* Starts the app (mode, arg) with no flag but V8's profiler when extra (--cpu-prof-dir=DIR)
 * says where its profile goes, attaches with env
 * (NULL or "NAME=value"), starts the work and waits for both. */
static void run_app(const char *mode, const char *arg, const char *extra, const char *env,
		    const char *rec)
{
	const char *argv[8] = {"/usr/bin/node"};
	const char *att[] = {LSC_BUILD_DIR "/loopscope",
			     "attach",
			     "-p",
			     NULL,
			     "-o",
			     rec,
			     "--cpu-hz",
			     "499",
			     NULL};
	char pid[16];
	int n = 1;
	pid_t t, a;

	if (extra) {
		argv[n++] = "--cpu-prof";
		argv[n++] = extra;
	}
	argv[n++] = APP;
	argv[n++] = mode;
	argv[n++] = arg;
	argv[n] = NULL;
	t = proc_spawn(argv, path("node.out"), path("node.err"), NULL);
	wait_text(path("node.err"), "waiting", 20);
	snprintf(pid, sizeof(pid), "%d", (int)t);
	att[3] = pid;
	unlink(path("attach.err"));
	a = proc_spawn(att, path("attach.out"), path("attach.err"), env);
	wait_text(path("attach.err"), "loopscope: attached to PID", 30);
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
}

/* Ours: per function of the app, the CPU samples whose leaf-most app frame it is (speedscope's
 * frames carry file and line); and how many samples in JS have a JIT frame left unnamed (an
 * address with no file: V8's code space is wherever mmap put it, 0x7e... as well as 0x7f...), or,
 * with interp, an interpreted frame left unnamed (V8's interpreter entry, kept as a builtin:
 * under load V8 may not have compiled the app's functions yet). */
static int ours_in(const char *rec, struct share *s, double *js, double *hex, int interp)
{
	const char *argv[] = {
		built("loopscope"),	     "flame", rec, "--format", "speedscope", "-o",
		path("cpu.speedscope.json"), NULL};
	json_object *d, *frames, *profiles;
	struct proc p;
	size_t i, k, m;
	int n = 0;

	proc_run(&p, argv, 60, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	d = json_file(path("cpu.speedscope.json"));
	frames = json_get(json_get(d, "shared"), "frames");
	profiles = json_get(d, "profiles");
	*js = *hex = 0;
	for (i = 0; i < json_object_array_length(profiles); i++) {
		json_object *pr = json_object_array_get_idx(profiles, i);
		json_object *samples = json_get(pr, "samples"), *weights = json_get(pr, "weights");

		for (k = 0; k < json_object_array_length(samples); k++) {
			json_object *st = json_object_array_get_idx(samples, k);
			double w = json_object_get_double(json_object_array_get_idx(weights, k));
			json_object *leaf = NULL;
			int unnamed = 0;

			for (m = 0; m < json_object_array_length(st); m++) {
				json_object *f = json_object_array_get_idx(
					frames,
					json_object_get_int(json_object_array_get_idx(st, m)));
				json_object *file = json_get(f, "file");
				const char *name = json_object_get_string(json_get(f, "name"));

				if (file && !strcmp(json_object_get_string(file), APP))
					leaf = f; /* root first: the last is the leaf-most */
				else if (!file && !strncmp(name, "0x", 2))
					unnamed = 1; /* JIT code (a library's has its file) */
				else if (interp && strstr(name, "InterpreterEntryTrampoline"))
					unnamed = 1;
			}
			if (leaf || unnamed)
				*js += w;
			if (unnamed)
				*hex += w;
			if (leaf) {
				struct share *x =
					find(s, &n, json_object_get_string(json_get(leaf, "name")));

				if (x) {
					x->n += w;
					x->line = (unsigned)json_object_get_int(
						json_get(leaf, "line"));
				}
			}
		}
	}
	json_object_put(d);
	return n;
}

static int ours(const char *rec, struct share *s, double *js, double *hex)
{
	return ours_in(rec, s, js, hex, 0);
}

/* V8's: per function of the app, its self samples (hitCount) in the .cpuprofile in dir. */
static int v8s(const char *dir, struct share *s)
{
	DIR *dd = opendir(dir);
	struct dirent *e;
	char file[1024] = "";
	json_object *prof, *nodes;
	size_t i;
	int n = 0;

	ASSERT_TRUE(dd != NULL);
	while ((e = readdir(dd)))
		if (strstr(e->d_name, ".cpuprofile"))
			snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
	closedir(dd);
	ASSERT_TRUE(file[0]);
	prof = json_file(file);
	nodes = json_get(prof, "nodes");
	for (i = 0; i < json_object_array_length(nodes); i++) {
		json_object *nd = json_object_array_get_idx(nodes, i);
		json_object *cf = json_get(nd, "callFrame"), *hits = json_get(nd, "hitCount");
		const char *url = json_object_get_string(json_get(cf, "url"));
		const char *fn = json_object_get_string(json_get(cf, "functionName"));
		struct share *x;

		if (!strstr(url, "node_js.js") || !hits)
			continue;
		x = find(s, &n, fn[0] ? fn : "(anonymous)");
		if (x)
			x->n += json_object_get_double(hits);
	}
	json_object_put(prof);
	return n;
}

static double total(const struct share *s, int n)
{
	double t = 0;

	while (n--)
		t += s[n].n;
	return t;
}

static int by_n(const void *a, const void *b)
{
	const struct share *x = a, *y = b;

	return (x->n < y->n) - (x->n > y->n);
}

TEST(node_js_names_without_a_flag_agree_with_v8s_profiler)
{
	struct share o[NFUNC], v[NFUNC];
	double js, hex, to, tv;
	char dir[1024];
	int no, nv, i, k;

	capture_setup("attach-js");
	snprintf(dir, sizeof(dir), "--cpu-prof-dir=%s", path("prof"));
	mkdir(path("prof"), 0755);
	run_app("cpu", "3000", dir, NULL, path("cpu.lsr"));
	no = ours(path("cpu.lsr"), o, &js, &hex);
	nv = v8s(path("prof"), v);
	printf("# samples in JS %.0f, with an unnamed JIT frame %.0f\n", js, hex);
	ASSERT_CMP(js, >, 300);
	ASSERT_CMP(hex / js, <=, 0.05);
	qsort(v, (size_t)nv, sizeof(v[0]), by_n);
	to = total(o, no);
	tv = total(v, nv);
	for (i = 0; i < 5 && i < nv; i++) {
		struct share *x = find(o, &no, v[i].name);
		double mine = x ? x->n / to : 0, theirs = v[i].n / tv;

		printf("# %-12s V8 %.3f loopscope %.3f (line %u)\n", v[i].name, theirs, mine,
		       x ? x->line : 0);
	}
	for (i = 0; i < 5 && i < nv; i++) {
		struct share *x = find(o, &no, v[i].name);
		double mine = x ? x->n / to : 0, theirs = v[i].n / tv;

		if (theirs >= 0.02) {
			ASSERT_CMP(fabs(mine - theirs), <=, 0.05);
			ASSERT_EQ(x->line, (unsigned)function_line(APP, v[i].name));
		}
	}
	/* the four work functions, the re-optimized one among them, are the top four */
	for (k = 0; k < 4; k++)
		ASSERT_TRUE(strstr("fibRec walkTree mixAndHash reoptimized", v[k].name) != NULL);
}

/* The finding with this id in the report's diagnosis, or NULL. */
static json_object *finding(json_object *rep, const char *id)
{
	json_object *d = json_get(rep, "diagnosis");
	size_t i;

	for (i = 0; d && i < json_object_array_length(d); i++) {
		json_object *f = json_object_array_get_idx(d, i);

		if (!strcmp(json_object_get_string(json_get(f, "id")), id))
			return f;
	}
	return NULL;
}

TEST(node_readfilesync_handler_named_in_the_blocking_finding)
{
	json_object *rep, *f;

	capture_setup("attach-js");
	run_app("server", "40", NULL, NULL, path("srv.lsr"));
	rep = report_json(path("srv.lsr"));
	/* the blocking finding (first on a quiet machine; a busy one may put the loop's
	 * saturation first, its owner the same handler) */
	f = finding(rep, "blocking-calls");
	ASSERT_TRUE(f != NULL);
	printf("# %s: %s\n", json_object_get_string(json_get(f, "title")),
	       json_object_get_string(json_get(f, "evidence")));
	ASSERT_STR_EQ(json_object_get_string(json_get(json_get(f, "frame"), "function")),
		      "loadReport");
	ASSERT_EQ(json_object_get_int(json_get(json_get(f, "frame"), "line")),
		  function_line(APP, "loadReport"));
	json_object_put(rep);
}

TEST(node_with_a_v8_metadata_symbol_missing_is_noted_and_not_named)
{
	struct share o[NFUNC];
	double js, hex;

	capture_setup("attach-js");
	run_app("cpu", "1500", NULL, "LOOPSCOPE_TEST_V8_HIDE=off_fp_function", path("hid.lsr"));
	ASSERT_TRUE(file_has(path("attach.err"), "v8dbg_off_fp_function"));
	ASSERT_TRUE(file_has(path("hid.lsr"), "no V8 metadata symbol v8dbg_off_fp_function"));
	/* no frame of the app named: its JIT frames stay addresses, its interpreted frames V8's
	 * interpreter */
	ASSERT_EQ(ours_in(path("hid.lsr"), o, &js, &hex, 1), 0);
	printf("# samples with an unnamed JS frame: %.0f\n", hex);
	ASSERT_CMP(hex, >, 0);
}

TEST_MAIN(TEST_ENTRY(node_js_names_without_a_flag_agree_with_v8s_profiler),
	  TEST_ENTRY(node_readfilesync_handler_named_in_the_blocking_finding),
	  TEST_ENTRY(node_with_a_v8_metadata_symbol_missing_is_noted_and_not_named))
