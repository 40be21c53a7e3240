/*
 * findings.h — the findings of `loopscope report --json` a pitfall test asks about
 * (tests/agent/test_pitfalls.c under run, tests/bpf/test_pitfalls_attach.c under attach): one
 * finding by id, exactly the one pitfall expected, and `gate` failing on the pitfall's metric
 * just below the recorded value and passing just above it. Needs task.h, proc.h, capture.h,
 * capture_json.h.
 */
#ifndef LSC_TEST_FINDINGS_H
#define LSC_TEST_FINDINGS_H

#include <fcntl.h>
#include <sys/wait.h>

static const char *const pitfalls[] = {"tick-starvation", "backpressure-ignored", "shutdown-hang"};

/* report --json of rec into the case's file name, parsed */
static __attribute__((unused)) json_object *report_of(const char *rec, const char *name)
{
	char out[600];
	const char *argv[] = {built("loopscope"), "report", rec, "--json", "-o", out, NULL};
	struct proc p;

	snprintf(out, sizeof(out), "%s", path(name));
	proc_run(&p, argv, 60, NULL);
	if (p.status)
		LSC_FAIL("loopscope report %s: %s", rec, p.err);
	return json_file(out);
}

/* The finding id in the report, or NULL; printed. */
static __attribute__((unused)) json_object *finding(json_object *rep, const char *id)
{
	json_object *d = json_get(rep, "diagnosis");
	size_t i;

	for (i = 0; d && i < json_object_array_length(d); i++) {
		json_object *f = json_object_array_get_idx(d, i);

		if (!strcmp(json_object_get_string(json_get(f, "id")), id)) {
			printf("# %s: %s: %s\n", id, json_object_get_string(json_get(f, "title")),
			       json_object_get_string(json_get(f, "evidence")));
			return f;
		}
	}
	return NULL;
}

/* Exactly the one pitfall finding expected (NULL: none of them). */
static __attribute__((unused)) void only(json_object *rep, const char *want)
{
	size_t i;

	for (i = 0; i < sizeof(pitfalls) / sizeof(pitfalls[0]); i++) {
		int has = finding(rep, pitfalls[i]) != NULL;

		if (has != (want && !strcmp(want, pitfalls[i])))
			LSC_FAIL("%s: %s", pitfalls[i], has ? "found, not expected" : "missing");
	}
}

static __attribute__((unused)) const char *frame_fn(json_object *f)
{
	return json_object_get_string(json_get(json_get(f, "frame"), "function"));
}

/* gate's exit status for "METRIC <= LIMIT" on rec */
static __attribute__((unused)) int gate_status(const char *rec, const char *metric,
					       const char *limit)
{
	const char *argv[] = {built("loopscope"),	  "gate", "--budget",
			      path("pitfall-budget.txt"), rec,	  NULL};
	char line[200];
	struct proc p;
	int fd = open(path("pitfall-budget.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	snprintf(line, sizeof(line), "%s <= %s\n", metric, limit);
	ASSERT_TRUE(fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line));
	close(fd);
	proc_run(&p, argv, 60, path("pitfall-gate.out"));
	printf("# gate '%s <= %s': exit %d\n", metric, limit, WEXITSTATUS(p.status));
	return WEXITSTATUS(p.status);
}

/* gate on metric (a time in ns or a size in bytes: unit "ms" or "KiB") fails just below value
 * and passes just above it: the budget a CI job would write catches the pitfall. */
static __attribute__((unused)) void gate_catches(const char *rec, const char *metric, double value,
						 const char *unit)
{
	double scale = !strcmp(unit, "ms") ? 1e6 : 1024;
	char below[64], above[64];

	ASSERT_CMP(value, >, 2 * scale);
	snprintf(below, sizeof(below), "%.0f%s", value / scale * 0.9, unit);
	snprintf(above, sizeof(above), "%.0f%s", value / scale * 1.1 + 1, unit);
	ASSERT_EQ(gate_status(rec, metric, below), 1);
	ASSERT_EQ(gate_status(rec, metric, above), 0);
}

#endif
