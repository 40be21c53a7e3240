/* cmd_report.c — `loopscope report REC [--json] [--loop SEL] [--pid PID] [-o FILE]`: one
 * recording, or the set it heads (the recordings of its run's other processes beside it). */
#include "cli.h"
#include "lsc_render.h"
#include "lsc_report.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int render_json(FILE *f, const void *set)
{
	return lsc_render_report_set_json(f, set);
}

static int render_text(FILE *f, const void *set)
{
	return lsc_render_report_set_text(f, set);
}

/* Where to look next, for a person reading the report on a terminal (stderr: a report piped
 * or saved is the report alone). The same options read the same span of the same recording. */
static void next_steps(const char *rec)
{
	char span[160] = "";
	size_t n = 0;

	if (lsc_cli_span.pid)
		n += (size_t)snprintf(span + n, sizeof(span) - n, " --pid %d", lsc_cli_span.pid);
	if (lsc_cli_span.service && n < sizeof(span))
		n += (size_t)snprintf(span + n, sizeof(span) - n, " --service %s",
				      lsc_cli_span.service);
	if ((lsc_cli_span.since_ns || lsc_cli_span.until_ns) && n < sizeof(span))
		snprintf(span + n, sizeof(span) - n, " --since ... --until ... (the same span)");
	fprintf(stderr,
		"\nNext\n"
		"  where the time goes:  loopscope flame %s%s -o cpu.svg   (--kind blocking, offcpu)\n"
		"  memory, who grows:    loopscope heap %s%s -o heap.html\n",
		rec, span, rec, span);
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{"loop", required_argument, NULL, 'l'},
		{"pid", required_argument, NULL, 'p'},
		LSC_CLI_SPAN_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static struct lsc_cli_set set;
	struct lsc_report_set *rep = NULL;
	struct lsc_snap_summary *snaps = NULL;
	const char *output = NULL, *loop = NULL;
	int c, json = 0, err, ret = LSC_EXIT_FAIL, pid = 0, k, html;
	size_t i, n;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'o':
			output = optarg;
			break;
		case 'l':
			loop = optarg;
			break;
		case 'p':
			if (lsc_cli_parse_pid("report", optarg, &pid))
				return LSC_EXIT_USAGE;
			lsc_cli_span.pid = pid; /* a directory's session too */
			break;
		case LSC_OPT_SINCE:
		case LSC_OPT_UNTIL:
		case LSC_OPT_SERVICE:
			if (lsc_cli_span_option("report", c, optarg))
				return LSC_EXIT_USAGE;
			break;
		case 'h':
			return lsc_help("report");
		default:
			return lsc_usage_error("report", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return lsc_usage_error("report", optind == argc ? "no recording given"
								: "more than one recording given");
	n = output ? strlen(output) : 0;
	html = n > 5 && !strcmp(output + n - 5, ".html");
	if (html && (json || loop))
		return lsc_usage_error("report",
				       "-o %s writes the HTML page of the main loop; "
				       "--json and --loop are for the text and JSON "
				       "reports",
				       output);
	if (lsc_cli_read_set(argv[optind], &set))
		return LSC_EXIT_FAIL;
	rep = calloc(1, sizeof(*rep));
	if (!rep) {
		lsc_fail("out of memory");
		goto out;
	}
	snaps = lsc_cli_snap_summary(argv[optind], set.r[0]);
	if (pid) { /* one process of the set: first, alone */
		if ((k = lsc_cli_set_member(&set, argv[optind], pid)) < 0)
			goto out;
		struct lsc_recording *t = set.r[0];

		set.r[0] = set.r[k];
		set.r[k] = t;
	}
	lsc_cli_set_symbolizers(&set);
	if (html) { /* one page of one process (render/report_html.c) */
		ret = lsc_cli_report_page(output, argv[optind], &set, snaps);
		goto out;
	}
	err = lsc_report_build_set((const struct lsc_recording *const *)set.r, pid ? 1 : set.n,
				   set.sym, loop, rep);
	for (i = 0; !err && loop && i < rep->n && !rep->p[i].loops; i++)
		;
	if (!err && loop && i == rep->n)
		err = LSC_ENOSUCHLOOP;
	if (err == LSC_EBADLOOP || err == LSC_ENOSUCHLOOP) {
		ret = lsc_fail("--loop '%s': %s; the loops of '%s' are listed by 'loopscope report "
			       "%s --loop all'",
			       loop, lsc_strerror(err), argv[optind], argv[optind]);
		goto out;
	}
	if (err) {
		lsc_fail("cannot analyse recording '%s': %s", argv[optind], lsc_strerror(err));
		goto out;
	}
	rep->snapshots = snaps;
	ret = lsc_cli_emit(output, json ? render_json : render_text, rep);
	if (ret == LSC_EXIT_OK && !json && (!output || !strcmp(output, "-")) && isatty(1) &&
	    isatty(2))
		next_steps(argv[optind]);
	lsc_report_set_free(rep);
out:
	free(rep);
	free(snaps);
	lsc_cli_set_free(&set);
	return ret;
}
