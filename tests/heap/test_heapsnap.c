/*
 * test_heapsnap.c — `loopscope heap FILE.heapsnapshot` on snapshots Node.js writes here
 * (tests/heap/snap_app.js), each program leaking one known way: the culprit is the first
 * retainer named, with the path a person would follow to it (an unbounded Map in a closure,
 * a global array of class instances, listeners never removed, objects a timer holds); the
 * control has nothing of that size. Retained sizes agree exactly with DevTools' own engine
 * (npm heap-snapshot-toolkit) on the top retainers. A damaged snapshot is one line naming the
 * byte. Under `run --heap-snapshot-on`, Node writes them itself and report reads them with the
 * recording.
 */
#define LSC_TEST_TIMEOUT 180
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"

#define APP LSC_SOURCE_DIR "/tests/heap/snap_app.js"

/* node snap_app.js MODE, then `loopscope heap` on its snapshot: the JSON. */
static json_object *snapshot(const char *mode, char *file, size_t cap)
{
	const char *node[] = {"/usr/bin/node", APP, mode, file, NULL};
	const char *heap[] = {built("loopscope"), "heap", file, "--json", "-o", NULL, NULL};
	char name[64], json[64];
	struct proc p;

	snprintf(name, sizeof(name), "%s.heapsnapshot", mode);
	snprintf(file, cap, "%s", path(name));
	snprintf(json, sizeof(json), "%s.json", mode);
	heap[5] = path(json);
	proc_run(&p, node, 60, NULL);
	if (WEXITSTATUS(p.status))
		LSC_FAIL("node snap_app.js %s: %s", mode, p.err);
	proc_run(&p, heap, 60, NULL);
	if (WEXITSTATUS(p.status))
		LSC_FAIL("loopscope heap %s: %s", file, p.err);
	return json_file(path(json));
}

static json_object *first(json_object *rep)
{
	return json_object_array_get_idx(json_get(rep, "retainers"), 0);
}

static const char *str(json_object *o, const char *k)
{
	return json_object_get_string(json_get(o, k));
}

TEST(each_culprit_is_named_first_with_its_path)
{
	static const struct {
		const char *mode, *name, *path[2];
	} want[] = {
		{"map", "Map", {"cache (closure variable)", "-> Map"}},
		{"array", "Array", {"global -.sessions-> Array", NULL}},
		{"listener", "Array", {".bus-> EventEmitter -._events->", ".tick-> Array"}},
		{"timer", "Array", {"Timeout -._onTimeout->", NULL}},
	};
	char file[600];
	json_object *rep, *top;
	double flat;
	size_t i, k;

	capture_setup("heapsnap");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		rep = snapshot(want[i].mode, file, sizeof(file));
		top = first(rep);
		ASSERT_TRUE(top != NULL);
		printf("# %s: %s, %.1f MiB of %.1f MiB: %s\n", want[i].mode, str(top, "name"),
		       json_at(top, "retained", NULL) / 1048576,
		       json_at(rep, "self_bytes", NULL) / 1048576, str(top, "path"));
		ASSERT_STR_EQ(str(top, "name"), want[i].name);
		for (k = 0; k < 2 && want[i].path[k]; k++)
			if (!strstr(str(top, "path"), want[i].path[k]))
				LSC_FAIL("%s: the path lacks '%s'", want[i].mode, want[i].path[k]);
		/* it holds most of the heap */
		ASSERT_CMP(json_at(top, "retained", NULL), >,
			   0.4 * json_at(rep, "self_bytes", NULL));
		json_object_put(rep);
	}
	/* the control: nothing of a leak's size */
	rep = snapshot("flat", file, sizeof(file));
	flat = json_at(first(rep), "retained", NULL);
	printf("# flat: the largest retainer %s, %.1f KiB (%s)\n", str(first(rep), "name"),
	       flat / 1024, str(first(rep), "path"));
	ASSERT_CMP(flat, <, 1048576);
	ASSERT_CMP(flat, <, 0.2 * json_at(rep, "self_bytes", NULL));
	json_object_put(rep);
}

TEST(retained_sizes_agree_with_devtools_engine)
{
	const char *modes[] = {"map", "listener", "flat"};
	char file[600], ids[20][24], dir[600], out[1 << 16];
	size_t m, i, n;

	capture_setup("heapsnap");
	node_apps_ready();
	snprintf(dir, sizeof(dir), "%s/npm/node_modules/heap-snapshot-toolkit", LSC_BUILD_DIR);
	for (m = 0; m < 3; m++) {
		json_object *rep = snapshot(modes[m], file, sizeof(file)),
			    *top = json_get(rep, "retainers"), *theirs;
		const char *argv[26] = {"/usr/bin/node",
					LSC_SOURCE_DIR "/tests/js/check_retained.mjs", dir, file};
		struct proc p;

		n = json_object_array_length(top);
		ASSERT_CMP(n, >=, 5);
		for (i = 0; i < n && i < 20; i++) {
			snprintf(ids[i], sizeof(ids[i]), "%lld",
				 (long long)json_at(json_object_array_get_idx(top, i), "id", NULL));
			argv[4 + i] = ids[i];
		}
		proc_run(&p, argv, 120, path("devtools.json"));
		if (WEXITSTATUS(p.status))
			LSC_FAIL("check_retained.mjs: %s", p.err);
		slurp(path("devtools.json"), out, sizeof(out));
		theirs = json_tokener_parse(out);
		ASSERT_TRUE(theirs != NULL);
		for (i = 0; i < n && i < 20; i++) {
			json_object *o = json_object_array_get_idx(top, i);
			double ours = json_at(o, "retained", NULL),
			       dt = json_at(theirs, ids[i], NULL);

			if (ours != dt)
				LSC_FAIL(
					"%s: %s @%s retains %.0f bytes here, %.0f in DevTools' engine",
					modes[m], str(o, "name"), ids[i], ours, dt);
		}
		printf("# %s: the top %zu retainers' sizes equal DevTools' to the byte\n", modes[m],
		       n < 20 ? n : 20);
		json_object_put(theirs);
		json_object_put(rep);
	}
}

TEST(a_damaged_snapshot_is_one_line_naming_the_byte)
{
	char file[600], cut[600], cmd[2048];
	const char *argv[] = {built("loopscope"), "heap", cut, NULL};
	struct proc p;
	json_object *rep;
	FILE *f;

	capture_setup("heapsnap");
	rep = snapshot("flat", file, sizeof(file));
	json_object_put(rep);
	/* cut in the middle of its nodes, and a JSON file that is not a snapshot */
	snprintf(cut, sizeof(cut), "%s", path("cut.heapsnapshot"));
	snprintf(cmd, sizeof(cmd), "head -c 100000 %s > %s", file, cut);
	ASSERT_EQ(system(cmd), 0);
	proc_run(&p, argv, 30, NULL);
	printf("# %s", p.err);
	ASSERT_EQ(WEXITSTATUS(p.status), 1);
	ASSERT_TRUE(strstr(p.err, "cannot read the heap snapshot") && strstr(p.err, "at byte "));
	ASSERT_TRUE(strchr(p.err, '\n') == p.err + strlen(p.err) - 1);
	f = fopen(cut, "w");
	ASSERT_TRUE(f != NULL);
	fputs("{\"nodes\": [1, 2, 3]}\n", f);
	fclose(f);
	proc_run(&p, argv, 30, NULL);
	printf("# %s", p.err);
	ASSERT_EQ(WEXITSTATUS(p.status), 1);
	ASSERT_TRUE(strstr(p.err, "lacks its \"snapshot\" meta") != NULL);
	ASSERT_TRUE(strchr(p.err, '\n') == p.err + strlen(p.err) - 1);
}

/* Three snapshots of a program whose cache Map and global array of Sessions grow between them:
 * both named as growing, with their sizes in each snapshot and their paths; the Sessions made
 * between the first two and alive in the last counted exactly. As much allocated and nothing
 * kept: nothing grows. */
TEST(several_snapshots_name_what_keeps_growing)
{
	const char *modes[] = {"grow", "steady"};
	char prefix[600], files[3][640], json[64];
	size_t m, i;

	capture_setup("heapsnap");
	for (m = 0; m < 2; m++) {
		const char *node[] = {"/usr/bin/node", APP, modes[m], prefix, NULL};
		const char *heap[] = {built("loopscope"), "heap", files[0], files[1], files[2],
				      "--json",		  "-o",	  NULL,	    NULL};
		json_object *rep, *g, *sv;
		struct proc p;
		int map = 0, array = 0, sessions = 0, held = 0;

		snprintf(prefix, sizeof(prefix), "%s", path(modes[m]));
		for (i = 0; i < 3; i++)
			snprintf(files[i], sizeof(files[i]), "%s-%zu.heapsnapshot", prefix, i + 1);
		snprintf(json, sizeof(json), "%s.json", modes[m]);
		heap[7] = path(json);
		proc_run(&p, node, 60, NULL);
		ASSERT_EQ(WEXITSTATUS(p.status), 0);
		proc_run(&p, heap, 60, NULL);
		if (WEXITSTATUS(p.status))
			LSC_FAIL("loopscope heap: %s", p.err);
		rep = json_file(path(json));
		g = json_get(rep, "growing");
		sv = json_get(rep, "survivors");
		for (i = 0; i < json_object_array_length(g); i++) {
			json_object *o = json_object_array_get_idx(g, i),
				    *r = json_get(o, "retained");

			printf("# %s: growing %s %.1f -> %.1f -> %.1f MiB: %s\n", modes[m],
			       str(o, "name"),
			       (double)json_object_get_int64(json_object_array_get_idx(r, 0)) /
				       1048576,
			       (double)json_object_get_int64(json_object_array_get_idx(r, 1)) /
				       1048576,
			       (double)json_object_get_int64(json_object_array_get_idx(r, 2)) /
				       1048576,
			       str(o, "path"));
			map |= !strcmp(str(o, "name"), "Map");
			array |= !strcmp(str(o, "name"), "Array") &&
				 strstr(str(o, "path"), ".sessions");
		}
		for (i = 0; i < json_object_array_length(sv); i++) {
			json_object *o = json_object_array_get_idx(sv, i);

			if (!strcmp(str(o, "class"), "Session")) {
				sessions += json_object_get_int(json_get(o, "count"));
				/* held by the array they were pushed on */
				const char *hp = str(json_get(o, "held_by"), "path");
				const char *hn = str(json_get(o, "held_by"), "name");

				held |= hp && hn && strstr(hp, ".sessions") && !strcmp(hn, "Array");
			}
		}
		if (m == 0) {
			ASSERT_TRUE(map && array);
			ASSERT_EQ(sessions,
				  8000); /* made in the second round, alive in the third */
			ASSERT_TRUE(held);
		} else {
			ASSERT_EQ(json_object_array_length(g), 0);
			ASSERT_EQ(sessions, 0);
		}
		json_object_put(rep);
	}
}

/* flame --kind retained: the dominator tree as folded stacks: every byte of the snapshot once
 * (the root's own aside), and the leaking Map's frames holding its retained size. */
TEST(the_retained_flame_graph_holds_every_byte_once)
{
	char file[600], line[8192];
	const char *argv[] = {built("loopscope"), "flame", file, "--format",
			      "folded",		  "-o",	   NULL, NULL};
	json_object *rep;
	double total = 0, under_map = 0;
	struct proc p;
	FILE *f;

	capture_setup("heapsnap");
	rep = snapshot("map", file, sizeof(file));
	argv[6] = path("retained.folded");
	proc_run(&p, argv, 60, NULL);
	if (WEXITSTATUS(p.status))
		LSC_FAIL("flame: %s", p.err);
	f = fopen(path("retained.folded"), "r");
	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		char *sp = strrchr(line, ' ');
		double v = sp ? atof(sp + 1) : 0;

		total += v;
		if (strstr(line, ";Map;") || (sp && sp - line >= 4 && !strncmp(sp - 4, ";Map", 4)))
			under_map += v;
	}
	fclose(f);
	printf("# %.0f bytes in the folded stacks, %.0f in the snapshot; %.1f MiB under a Map, the "
	       "leaking Map retains %.1f MiB\n",
	       total, json_at(rep, "self_bytes", NULL), under_map / 1048576,
	       json_at(first(rep), "retained", NULL) / 1048576);
	ASSERT_CMP(total, ==, json_at(rep, "self_bytes", NULL));
	ASSERT_CMP(under_map, >=, json_at(first(rep), "retained", NULL));
	json_object_put(rep);
}

/* run --heap-snapshot-on SIGUSR2,exit: Node writes a snapshot at each SIGUSR2 the program sends
 * itself and one at exit, beside the recording, which notes them; report reads them with it:
 * each one's largest retainer (the cache Map) and, across the three of one process, the Map
 * that keeps growing, in the text, the JSON and the page. The user's NODE_OPTIONS is kept;
 * what run cannot do is refused before it starts anything. */
TEST(run_writes_heap_snapshots_that_report_reads)
{
	char dir[600], rec[700], page[700], text[700], line[4096];
	const char *run[] = {built("loopscope"),
			     "run",
			     "-o",
			     rec,
			     "--heap-snapshot-on",
			     "SIGUSR2,exit",
			     "--",
			     "/usr/bin/node",
			     APP,
			     "signal",
			     dir,
			     NULL};
	const char *report[] = {built("loopscope"), "report", rec, "--json", "-o", NULL, NULL};
	const char *html[] = {built("loopscope"), "report", rec, "-o", page, NULL};
	const char *plain[] = {built("loopscope"), "report", rec, NULL};
	const char *heap[] = {built("loopscope"), "heap", rec, "--json", "-o", NULL, NULL};
	const char *bad[][9] = {
		{built("loopscope"), "run", "--heap-snapshot-on", "SIGTERM", "--", "/usr/bin/node",
		 "-e", "0", NULL},
		{built("loopscope"), "run", "--heap-snapshot-on", "exit", "--", "/bin/true", NULL},
		{built("loopscope"), "run", "--heap-snapshot-on", "", "--", "/usr/bin/node", "-e",
		 "0", NULL},
	};
	json_object *rep, *hs, *files, *grow;
	size_t i, usr2 = 0, exits = 0, map_first = 0, found = 0;
	struct proc p;
	FILE *f;

	capture_setup("heapsnap");
	snprintf(dir, sizeof(dir), "%s", path("signal"));
	ASSERT_OK(mkdir(dir, 0700));
	snprintf(rec, sizeof(rec), "%s/app.lsr", dir);
	snprintf(page, sizeof(page), "%s/page.html", dir);
	snprintf(text, sizeof(text), "%s/app.out", dir);
	setenv("NODE_OPTIONS", "--title=lsc-snap-test", 1);
	proc_run(&p, run, 120, text);
	unsetenv("NODE_OPTIONS");
	if (WEXITSTATUS(p.status))
		LSC_FAIL("loopscope run: %s", p.err);
	ASSERT_TRUE(strstr(p.err, "4 heap snapshots written beside the recording") != NULL);
	f = fopen(text, "r");
	ASSERT_TRUE(f && fgets(line, sizeof(line), f));
	fclose(f);
	ASSERT_TRUE(strstr(line, "title=lsc-snap-test cache=60000") != NULL);

	report[5] = path("signal.json");
	proc_run(&p, report, 60, NULL);
	if (WEXITSTATUS(p.status))
		LSC_FAIL("loopscope report --json: %s", p.err);
	rep = json_file(path("signal.json"));
	hs = json_get(rep, "heap_snapshots");
	files = json_get(hs, "files");
	grow = json_get(hs, "growing");
	ASSERT_EQ(json_object_array_length(files), 4);
	for (i = 0; i < 4; i++) {
		json_object *o = json_object_array_get_idx(files, i);
		json_object *top = json_object_array_get_idx(json_get(o, "retainers"), 0);
		const char *trig = str(o, "trigger");

		printf("# %s (%s): %s %lld bytes: %s\n", str(o, "file"), trig, str(top, "name"),
		       (long long)json_object_get_int64(json_get(top, "retained")),
		       str(top, "path"));
		usr2 += !strcmp(trig, "SIGUSR2");
		exits += !strcmp(trig, "exit");
		map_first += !strcmp(str(top, "name"), "Map") &&
			     strstr(str(top, "path"), "cache (closure variable)") &&
			     json_object_get_int64(json_get(top, "retained")) > 2 << 20;
	}
	ASSERT_EQ(usr2, 3);
	ASSERT_EQ(exits, 1);
	ASSERT_TRUE(map_first >= 3);
	for (i = 0; i < json_object_array_length(grow); i++) {
		json_object *o = json_object_array_get_idx(grow, i);

		found |= !strcmp(str(o, "name"), "Map") && strstr(str(o, "path"), "cache");
	}
	ASSERT_TRUE(found);
	json_object_put(rep);
	/* heap REC shows them with the recording's own heap report */
	heap[5] = path("signal-heap.json");
	proc_run(&p, heap, 60, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	rep = json_file(path("signal-heap.json"));
	ASSERT_EQ(json_object_array_length(json_get(json_get(rep, "heap_snapshots"), "files")), 4);
	json_object_put(rep);

	proc_run(&p, plain, 60, text);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	found = 0;
	f = fopen(text, "r");
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, "Map keeps growing across its 3 snapshots") != NULL;
	if (f)
		fclose(f);
	ASSERT_TRUE(found);
	proc_run(&p, html, 60, NULL);
	ASSERT_EQ(WEXITSTATUS(p.status), 0);
	found = 0;
	f = fopen(page, "r");
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, "id=\"heap-snapshots\"") != NULL;
	if (f)
		fclose(f);
	ASSERT_TRUE(found);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		proc_run(&p, bad[i], 30, NULL);
		printf("# %s", p.err);
		ASSERT_EQ(WEXITSTATUS(p.status), 2);
		ASSERT_TRUE(strstr(p.err, "--heap-snapshot-on") != NULL);
		ASSERT_TRUE(strchr(p.err, '\n') == p.err + strlen(p.err) - 1);
	}
}

TEST_MAIN(TEST_ENTRY(each_culprit_is_named_first_with_its_path),
	  TEST_ENTRY(run_writes_heap_snapshots_that_report_reads),
	  TEST_ENTRY(the_retained_flame_graph_holds_every_byte_once),
	  TEST_ENTRY(several_snapshots_name_what_keeps_growing),
	  TEST_ENTRY(retained_sizes_agree_with_devtools_engine),
	  TEST_ENTRY(a_damaged_snapshot_is_one_line_naming_the_byte))
