/* cmd_report.c — `loopscope report REC [--json] [--loop SEL] [-o FILE]`. */
#include "cli.h"
#include "lsc_render.h"
#include "lsc_report.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int render_json(FILE *f, const void *loops)
{
	return lsc_render_report_loops_json(f, loops);
}

static int render_text(FILE *f, const void *loops)
{
	return lsc_render_report_loops_text(f, loops);
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{"loop", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lsc_recording *rec = NULL;
	struct lsc_symbolizer *sym = NULL;
	struct lsc_report_loops *rep = NULL;
	const char *output = NULL, *loop = NULL;
	int c, json = 0, err, ret = LSC_EXIT_FAIL;

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
	if (lsc_cli_read_recording(argv[optind], &rec))
		return LSC_EXIT_FAIL;
	rep = calloc(1, sizeof(*rep));
	if (!rep) {
		lsc_fail("out of memory");
		goto out;
	}
	sym = lsc_cli_symbolizer(rec);
	err = lsc_report_build_loops(rec, sym, loop, rep);
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
	ret = lsc_cli_emit(output, json ? render_json : render_text, rep);
	lsc_report_loops_free(rep);
out:
	free(rep);
	lsc_symbolizer_free(sym);
	lsc_recording_free(rec);
	return ret;
}
