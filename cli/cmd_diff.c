/*
 * cmd_diff.c — `loopscope diff BASE.lsr NEW.lsr`: what changed between two recordings. A table of
 * the metrics a gate knows, baseline against new with the deltas, and a differential flame
 * graph: the new profile's shape, red where a frame grew and blue where it shrank (normalised by
 * total samples unless --absolute), both values and the delta in each tooltip; --format folded
 * gives two-column folded stacks ("stack base new").
 */
#include "cli.h"
#include "lsc_gate.h"
#include "lsc_render.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct diff_ctx {
	struct lsc_flame *base, *cur;
	double *scaled; /* per node of cur: base's value at the same path, scaled */
	int folded;
	const char *kind, *title;
};

static int render(FILE *f, const void *p)
{
	const struct diff_ctx *c = p;
	struct lsc_svg_opts o = {.title = c->title,
				 .subtitle = "red: grew, blue: shrank (tooltips: new, base, delta)",
				 .countname = !strcmp(c->kind, "cpu")	     ? "samples"
					      : !strcmp(c->kind, "blocking") ? "ns"
									     : "bytes",
				 .width = 1200,
				 .minwidth = 0.1,
				 .base = c->scaled};

	if (c->folded)
		return lsc_render_folded_diff(f, c->base, c->cur);
	return lsc_render_svg(f, c->cur, &o);
}

static void table(const struct lsc_recording *a, struct lsc_symbolizer *sa,
		  const struct lsc_recording *b, struct lsc_symbolizer *sb, const char *loop)
{
	struct lsc_gate_measurer *ma = NULL, *mb = NULL;
	const char *m;
	size_t i;

	if (lsc_gate_measurer_new(a, sa, &ma) || lsc_gate_measurer_new(b, sb, &mb)) {
		lsc_gate_measurer_free(ma);
		lsc_gate_measurer_free(mb);
		return;
	}
	printf("%-20s %14s %14s %14s\n", "metric", "base", "new", "delta");
	for (i = 0; (m = lsc_gate_metric(i)); i++) {
		double x, y;
		char bx[32], by[32], bd[32];

		if (!strcmp(m, "cpu.share") || !lsc_gate_measure(ma, m, NULL, loop, &x) ||
		    !lsc_gate_measure(mb, m, NULL, loop, &y))
			continue;
		lsc_gate_format(m, x, bx, sizeof(bx));
		lsc_gate_format(m, y, by, sizeof(by));
		lsc_gate_format(m, y - x, bd, sizeof(bd));
		printf("%-20s %14s %14s %14s\n", m, bx, by, bd);
	}
	lsc_gate_measurer_free(ma);
	lsc_gate_measurer_free(mb);
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kind", required_argument, NULL, 'k'},
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"absolute", no_argument, NULL, 'a'},
		{"loop", required_argument, NULL, 'L'},
		LSC_CLI_SPAN_OPTIONS,
		{"pid", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const struct {
		const char *name;
		int kind;
	} kinds[] = {
		{"cpu", LOOPSCOPE__SAMPLE_KIND__CPU},
		{"alloc", LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES},
		{"live", LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES},
		{"blocking", LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS},
	};
	static struct lsc_pick pa, pb;
	const struct lsc_recording *a, *b;
	struct lsc_symbolizer *sa, *sb;
	const char *loop = NULL;
	struct diff_ctx c = {.kind = "cpu"};
	const char *out = NULL;
	char title[600];
	int ch, absolute = 0, code = LSC_EXIT_FAIL, err, kind = LOOPSCOPE__SAMPLE_KIND__CPU;
	size_t i, n;
	uint32_t *match;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
				if (!strcmp(kinds[i].name, optarg))
					break;
			if (i == sizeof(kinds) / sizeof(kinds[0]))
				return lsc_usage_error("diff",
						       "--kind takes cpu, alloc, live or "
						       "blocking, not '%s'",
						       optarg);
			kind = kinds[i].kind;
			c.kind = kinds[i].name;
			break;
		case 'f':
			if (strcmp(optarg, "svg") && strcmp(optarg, "folded"))
				return lsc_usage_error(
					"diff", "--format takes svg or folded, not '%s'", optarg);
			c.folded = !strcmp(optarg, "folded");
			break;
		case 'o':
			out = optarg;
			break;
		case 'a':
			absolute = 1;
			break;
		case 'L':
			loop = optarg;
			break;
		case 'P':
			if (lsc_cli_parse_pid("diff", optarg, &lsc_cli_span.pid))
				return LSC_EXIT_USAGE;
			break;
		case LSC_OPT_SINCE:
		case LSC_OPT_UNTIL:
		case LSC_OPT_SERVICE:
			if (lsc_cli_span_option("diff", ch, optarg))
				return LSC_EXIT_USAGE;
			break;
		case 'h':
			return lsc_help("diff");
		default:
			return lsc_usage_error("diff", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind != argc - 2)
		return lsc_usage_error("diff", "two recordings: loopscope diff BASE.lsr NEW.lsr");
	/* each the recording named (a set's first process), or one loop's view (--loop) */
	if (lsc_cli_pick("diff", argv[optind], 0, loop, &pa) ||
	    lsc_cli_pick("diff", argv[optind + 1], 0, loop, &pb))
		goto out;
	a = pa.rec;
	b = pb.rec;
	sa = pa.sym;
	sb = pb.sym;
	err = lsc_flame_from_recording(a, kind, 0, sa, &c.base);
	if (!err)
		err = lsc_flame_from_recording(b, kind, 0, sb, &c.cur);
	if (err) {
		lsc_fail("%s (--kind %s)",
			 err == LSC_ENODATA ? "a recording has no samples of that kind to compare"
					    : "cannot build the flame graphs",
			 c.kind);
		goto out;
	}
	lsc_flame_nodes(c.cur, &n);
	match = calloc(n, sizeof(*match));
	c.scaled = calloc(n, sizeof(*c.scaled));
	if (!match || !c.scaled) {
		free(match);
		lsc_fail("out of memory");
		goto out;
	}
	{
		size_t nb;
		const struct lsc_flame_node *B = lsc_flame_nodes(c.base, &nb);
		double scale =
			absolute || !lsc_flame_total(c.base)
				? 1
				: (double)lsc_flame_total(c.cur) / (double)lsc_flame_total(c.base);

		lsc_flame_match(c.cur, c.base, match);
		for (i = 0; i < n; i++)
			c.scaled[i] = match[i] || !i ? (double)B[match[i]].total * scale : 0;
	}
	free(match);
	snprintf(title, sizeof(title), "loopscope diff (%s): %s -> %s", c.kind, argv[optind],
		 argv[optind + 1]);
	c.title = title;
	if (!c.folded || out)
		table(pa.whole, sa, pb.whole, sb, loop);
	code = out || c.folded ? lsc_cli_emit(out ? out : "-", render, &c) : LSC_EXIT_OK;
out:
	free(c.scaled);
	lsc_flame_free(c.base);
	lsc_flame_free(c.cur);
	lsc_cli_pick_free(&pa);
	lsc_cli_pick_free(&pb);
	return code;
}
