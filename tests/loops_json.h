/*
 * loops_json.h — what the tests of many loops read (tests/agent/test_workers.c,
 * tests/bpf/test_workers_attach.c): `loopscope report --json` and its loops, the shares its
 * findings give, and `loopscope gate`'s exit status on a budget. Needs task.h, proc.h,
 * capture.h, capture_json.h.
 */
#ifndef LSC_TEST_LOOPS_JSON_H
#define LSC_TEST_LOOPS_JSON_H

#include <math.h>
#include <regex.h>
#include <sys/wait.h>

/* `loopscope report --json REC` */
static __attribute__((unused)) json_object *report_json(const char *rec)
{
	const char *argv[] = {built("loopscope"), "report", "--json", rec, NULL};
	struct proc p;

	proc_run(&p, argv, 60, path("report.json"));
	if (p.status)
		LSC_FAIL("loopscope report %s: %s", rec, p.err);
	return json_file(path("report.json"));
}

/* A loop's findings about its own code: all but "cpu-contention", which says the machine is
 * busy (true on a loaded CI machine, of any loop). The i-th of them, or NULL. */
static __attribute__((unused)) json_object *code_finding(json_object *loop, size_t i)
{
	json_object *d = json_get(loop, "diagnosis");
	size_t k;

	for (k = 0; d && k < json_object_array_length(d); k++) {
		json_object *f = json_object_array_get_idx(d, k);

		if (strcmp(json_object_get_string(json_get(f, "id")), "cpu-contention") && !i--)
			return f;
	}
	return NULL;
}

/* The function the loop's first finding about its code points at, or NULL. */
static __attribute__((unused)) const char *code_finding_function(json_object *loop)
{
	json_object *f = code_finding(loop, 0);

	printf("# first finding: %s\n", f ? json_object_get_string(json_get(f, "title")) : "-");
	return f ? json_object_get_string(json_get(json_get(f, "frame"), "function")) : NULL;
}

/* The report's loop whose loop_id.FIELD ("key", "role") is value. */
static __attribute__((unused)) json_object *loop_where(json_object *rep, const char *field,
						       const char *value)
{
	json_object *loops = json_get(rep, "loops");
	size_t i;

	for (i = 0; loops && i < json_object_array_length(loops); i++) {
		json_object *l = json_object_array_get_idx(loops, i);
		json_object *k = json_get(json_get(l, "loop_id"), field);

		if (k && !strcmp(json_object_get_string(k), value))
			return l;
	}
	LSC_FAIL("no loop with %s %s in the report", field, value);
	return NULL;
}

static __attribute__((unused)) json_object *loop_of(json_object *rep, const char *key)
{
	return loop_where(rep, "key", key);
}

/* node_workers.js spin: the worker's and the main loop's ELU, recorded against their own
 * (perf_hooks inside each thread): within 0.05 and 0.02. */
static __attribute__((unused)) void elus_match(json_object *truth, json_object *worker,
					       json_object *main_loop)
{
	double own_worker = json_object_get_double(
		json_get(json_object_array_get_idx(json_get(truth, "workers"), 0), "elu"));
	double own_main = json_at(truth, "main_elu", NULL);
	double ours_worker = json_at(worker, "loop", "elu_mean");
	double ours_main = json_at(main_loop, "loop", "elu_mean");

	printf("# worker ELU: recorded %.3f, its own %.3f; main: recorded %.3f, its own %.3f\n",
	       ours_worker, own_worker, ours_main, own_main);
	ASSERT_TRUE(fabs(ours_worker - own_worker) <= 0.05);
	ASSERT_TRUE(fabs(ours_main - own_main) <= 0.02);
}

/* Every "N %" in every finding of every loop is at most 100. */
static __attribute__((unused)) void shares_within_100(json_object *rep)
{
	json_object *loops = json_get(rep, "loops");
	regex_t re;
	size_t i, k;

	ASSERT_EQ(regcomp(&re, "([0-9]+) %", REG_EXTENDED), 0);
	for (i = 0; i < json_object_array_length(loops); i++) {
		json_object *d = json_get(json_object_array_get_idx(loops, i), "diagnosis");

		for (k = 0; d && k < json_object_array_length(d); k++) {
			const char *ev = json_object_get_string(
				json_get(json_object_array_get_idx(d, k), "evidence"));
			regmatch_t m[2];

			while (ev && !regexec(&re, ev, 2, m, 0)) {
				long v = strtol(ev + m[1].rm_so, NULL, 10);

				if (v > 100)
					LSC_FAIL("a share above 100 %%: %s", ev);
				ev += m[0].rm_eo;
			}
		}
	}
	regfree(&re);
}

static __attribute__((unused)) int gate(const char *rec, const char *budget)
{
	const char *argv[] = {built("loopscope"), "gate", "--budget",
			      path("budget.txt"), rec,	  NULL};
	struct proc p;
	int fd = open(path("budget.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ASSERT_TRUE(fd >= 0 && write(fd, budget, strlen(budget)) == (ssize_t)strlen(budget));
	close(fd);
	proc_run(&p, argv, 60, path("gate.out"));
	return WEXITSTATUS(p.status);
}

#endif
