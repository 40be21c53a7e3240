/* cmd_symbolize.c — `loopscope symbolize REC`: append the symbols a recording's stacks need. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

int cmd_symbolize(int argc, char **argv)
{
	static const struct option opts[] = {
		{"perf-map", required_argument, NULL, 'p'},
		{"kallsyms", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *perf = NULL, *kallsyms = NULL;
	struct lsc_recording *rec = NULL;
	size_t added;
	int c, err;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			perf = optarg;
			break;
		case 'k':
			kallsyms = optarg;
			break;
		case 'h':
			return lsc_help("symbolize");
		default:
			return lsc_usage_error("symbolize", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return lsc_usage_error("symbolize", "give exactly one recording");
	/* Read it first, so a bad file gets the same message as everywhere else. */
	if (lsc_cli_read_recording(argv[optind], &rec))
		return LSC_EXIT_FAIL;
	lsc_recording_free(rec);
	err = lsc_recording_symbolize(argv[optind], perf, kallsyms, &added);
	if (err)
		return lsc_fail("cannot symbolize '%s': %s", argv[optind], lsc_strerror(err));
	printf("%s: %zu symbols added\n", argv[optind], added);
	return LSC_EXIT_OK;
}
