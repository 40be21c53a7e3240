/*
 * cmd_gate.c — `loopscope gate REC... --budget FILE [--baseline BASE.lsr] [--junit FILE]
 * [--json]`: holds one or more recordings of a build (their median) against a budget and a
 * baseline; a line per check on stdout, a JUnit report for CI systems; exit 0 when every check
 * passes, 1 when one fails, 2 for a usage or input error. The budget format: docs/ci.md.
 */
#include "cli.h"
#include "lsc_gate.h"
#include "lsc_render.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECS 16

static const char *const ops[] = {"<=", "<", ">=", ">"};

static void limit_text(const struct lsc_gate_check *c, char *buf, size_t cap)
{
	char v[64];

	lsc_gate_format(c->metric, c->effective, v, sizeof(v));
	snprintf(buf, cap, "%s %s", ops[c->op], v);
}

static int junit(FILE *f, const void *p)
{
	const struct lsc_gate *g = p;
	size_t i, fails = 0;

	for (i = 0; i < g->n; i++)
		fails += !g->checks[i].pass;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite "
		"name=\"loopscope gate\" tests=\"%zu\" failures=\"%zu\">\n",
		g->n, fails);
	for (i = 0; i < g->n; i++) {
		const struct lsc_gate_check *c = &g->checks[i];
		char lim[96], got[64], msg[600];

		limit_text(c, lim, sizeof(lim));
		lsc_gate_format(c->metric, c->measured, got, sizeof(got));
		fputs("<testcase classname=\"loopscope.gate\" name=\"", f);
		lsc__xml_escape(f, c->text, 256);
		fputs("\">", f);
		if (!c->pass) {
			snprintf(msg, sizeof(msg), "measured %s, limit %s%s%s", got, lim,
				 c->note[0] ? "; " : "", c->note);
			fputs("<failure message=\"", f);
			lsc__xml_escape(f, msg, sizeof(msg));
			fputs("\"/>", f);
		}
		fputs("</testcase>\n", f);
	}
	fputs("</testsuite>\n</testsuites>\n", f);
	return ferror(f) ? -1 : 0;
}

static int json_out(FILE *f, const void *p)
{
	const struct lsc_gate *g = p;
	json_object *root = json_object_new_object(), *a = json_object_new_array();
	size_t i;
	int pass = 1;

	for (i = 0; i < g->n; i++) {
		const struct lsc_gate_check *c = &g->checks[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "check", json_object_new_string(c->text));
		json_object_object_add(o, "line", json_object_new_int((int)c->line));
		json_object_object_add(o, "metric", json_object_new_string(c->metric));
		if (c->function[0])
			json_object_object_add(o, "function", json_object_new_string(c->function));
		json_object_object_add(o, "unit", json_object_new_string(lsc_gate_unit(c->metric)));
		json_object_object_add(o, "op", json_object_new_string(ops[c->op]));
		json_object_object_add(o, "limit", json_object_new_double(c->effective));
		json_object_object_add(o, "measured", json_object_new_double(c->measured));
		if (c->relative)
			json_object_object_add(o, "baseline", json_object_new_double(c->baseline));
		json_object_object_add(o, "pass", json_object_new_boolean(c->pass));
		if (c->note[0])
			json_object_object_add(o, "note", json_object_new_string(c->note));
		json_object_array_add(a, o);
		pass &= c->pass;
	}
	json_object_object_add(root, "pass", json_object_new_boolean(pass));
	json_object_object_add(root, "checks", a);
	fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE),
	      f);
	fputc('\n', f);
	json_object_put(root);
	return ferror(f) ? -1 : 0;
}

static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	if (!f) {
		snprintf(err, errlen, "cannot read the budget '%s': %s", path, strerror(errno));
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = n >= 0 && n < (1 << 20) ? malloc((size_t)n + 1) : NULL;
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		snprintf(err, errlen, "cannot read the budget '%s'", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = 0;
	fclose(f);
	return buf;
}

int cmd_gate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"budget", required_argument, NULL, 'b'},
		{"baseline", required_argument, NULL, 'B'},
		{"junit", required_argument, NULL, 'J'},
		{"json", no_argument, NULL, 'j'},
		LSC_CLI_SPAN_OPTIONS,
		{"pid", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *budget = NULL, *baseline = NULL, *junit_path = NULL;
	static struct lsc_cli_set sets[MAX_RECS + 1];
	struct lsc_gate_run runs[MAX_RECS + 1];
	struct lsc_gate *g = calloc(1, sizeof(*g));
	char err[1024], *text;
	int c, json = 0, code = LSC_EXIT_USAGE, e;
	size_t n = 0, i, fails = 0;

	if (!g)
		return lsc_fail("out of memory");
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			budget = optarg;
			break;
		case 'B':
			baseline = optarg;
			break;
		case 'J':
			junit_path = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'P':
			if (lsc_cli_parse_pid("gate", optarg, &lsc_cli_span.pid))
				return LSC_EXIT_USAGE;
			break;
		case LSC_OPT_SINCE:
		case LSC_OPT_UNTIL:
		case LSC_OPT_SERVICE:
			if (lsc_cli_span_option("gate", c, optarg))
				return LSC_EXIT_USAGE;
			break;
		case 'h':
			free(g);
			return lsc_help("gate");
		default:
			free(g);
			return lsc_usage_error("gate", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (!budget || optind >= argc || argc - optind > MAX_RECS) {
		free(g);
		return lsc_usage_error("gate",
				       "loopscope gate REC... --budget FILE (up to %d "
				       "recordings of one build)",
				       MAX_RECS);
	}
	text = read_file(budget, err, sizeof(err));
	if (!text || lsc_gate_parse(text, budget, g, err, sizeof(err))) {
		free(text);
		free(g);
		fprintf(stderr, "loopscope: %s\n", err);
		return LSC_EXIT_USAGE;
	}
	free(text);
	if (g->needs_baseline && !baseline) {
		free(g);
		return lsc_usage_error("gate", "the budget compares with a baseline: add "
					       "--baseline BASE.lsr");
	}
	/* each REC a run: one recording, or the set of processes it heads (sets.c) */
	for (i = optind; i < (size_t)argc; i++, n++) {
		if (lsc_cli_read_set(argv[i], &sets[n]))
			goto out;
		lsc_cli_set_symbolizers(&sets[n]);
		runs[n] = (struct lsc_gate_run){(const struct lsc_recording *const *)sets[n].r,
						sets[n].sym, sets[n].n};
	}
	if (baseline) {
		if (lsc_cli_read_set(baseline, &sets[MAX_RECS]))
			goto out;
		lsc_cli_set_symbolizers(&sets[MAX_RECS]);
		runs[MAX_RECS] =
			(struct lsc_gate_run){(const struct lsc_recording *const *)sets[MAX_RECS].r,
					      sets[MAX_RECS].sym, sets[MAX_RECS].n};
	}
	e = lsc_gate_judge_runs(g, runs, n, baseline ? &runs[MAX_RECS] : NULL, err, sizeof(err));
	if (e) {
		fprintf(stderr, "loopscope: %s\n",
			e == LSC_ENODATA || e == LSC_EBADBUDGET ? err : lsc_strerror(e));
		goto out;
	}
	for (i = 0; i < g->n; i++) {
		const struct lsc_gate_check *ck = &g->checks[i];
		char lim[96], got[64];

		fails += !ck->pass;
		if (json)
			continue;
		limit_text(ck, lim, sizeof(lim));
		lsc_gate_format(ck->metric, ck->measured, got, sizeof(got));
		printf("%s  %-40s measured %-12s limit %s%s%s\n", ck->pass ? "PASS" : "FAIL",
		       ck->text, got, lim, ck->note[0] ? "  — " : "", ck->note);
	}
	if (json && lsc_cli_emit("-", json_out, g)) {
		code = LSC_EXIT_FAIL;
		goto out;
	}
	if (junit_path && lsc_cli_emit(junit_path, junit, g))
		goto out;
	if (!json)
		printf("%s: %zu of %zu checks passed%s\n", fails ? "FAIL" : "PASS", g->n - fails,
		       g->n, n > 1 ? " (medians over the recordings)" : "");
	code = fails ? LSC_EXIT_FAIL : LSC_EXIT_OK;
out:
	for (i = 0; i <= MAX_RECS; i++)
		lsc_cli_set_free(&sets[i]);
	free(g);
	return code;
}
