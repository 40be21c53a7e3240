/* cmd_report.c — `loopscope report REC [--json] [-o FILE]`. */
#include "cli.h"
#include "lsc_render.h"
#include "lsc_report.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int render_json(FILE *f, const void *rep)
{
	return lsc_render_report_json(f, rep);
}

static int render_text(FILE *f, const void *rep)
{
	return lsc_render_report_text(f, rep);
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lsc_recording *rec = NULL;
	struct lsc_symbolizer *sym = NULL;
	struct lsc_report *rep = NULL;
	const char *output = NULL;
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
	err = lsc_report_build(rec, sym, rep);
	if (err) {
		lsc_fail("cannot analyse recording '%s': %s", argv[optind], lsc_strerror(err));
		goto out;
	}
	ret = lsc_cli_emit(output, json ? render_json : render_text, rep);
out:
	free(rep);
	lsc_symbolizer_free(sym);
	lsc_recording_free(rec);
	return ret;
}
