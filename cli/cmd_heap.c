/*
 * cmd_heap.c — `loopscope heap REC` (memory growth: a timeline, a verdict per heap, who grows)
 * and `loopscope leaks REC` (what was still live at the end, post-mortem too). The computation
 * is analysis/heap.c, the drawing render/heap.c.
 */
#include "cli.h"
#include "lsc_render.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct heap_ctx {
	const struct lsc_heap_report *h;
	const char *title, *when;
	uint64_t min_bytes;
	int format;
};

enum { F_TEXT, F_JSON, F_SVG, F_HTML };

static int render_heap(FILE *f, const void *p)
{
	const struct heap_ctx *c = p;

	switch (c->format) {
	case F_JSON:
		return lsc_render_heap_json(f, c->h);
	case F_SVG:
		return lsc_render_heap_svg(f, c->h);
	case F_HTML:
		return lsc_render_heap_html(f, c->h, c->title);
	}
	return lsc_render_heap_text(f, c->h);
}

static int render_leaks(FILE *f, const void *p)
{
	const struct heap_ctx *c = p;

	return c->format == F_JSON ? lsc_render_leaks_json(f, c->h, c->min_bytes, c->when)
				   : lsc_render_leaks_text(f, c->h, c->min_bytes, c->when);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* When the live set was taken: the process's end, a crash, or the last window before a kill. */
static const char *when_of(const struct lsc_recording *r)
{
	size_t i;

	for (i = 0; i < r->nevents; i++)
		if (r->events[i]->body_case == LOOPSCOPE__EVENT__BODY_CRASH)
			return "the crash";
	return r->footer ? "the process's exit" : "the last snapshot before the process died";
}

static int run(int argc, char **argv, int leaks)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{"min-bytes", required_argument, NULL, 'm'},
		{"pid", required_argument, NULL, 'P'},
		{"loop", required_argument, NULL, 'L'},
		LSC_CLI_SPAN_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *cmd = leaks ? "leaks" : "heap", *out = NULL, *loop = NULL;
	static struct lsc_pick pick;
	struct heap_ctx ctx = {0};
	struct lsc_snap_summary *snaps = NULL;
	struct lsc_heap_report h;
	const struct lsc_recording *rec;
	struct lsc_symbolizer *sym;
	char title[800];
	int c, json = 0, err, code, pid = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'm':
			if (!leaks)
				return lsc_usage_error(cmd,
						       "--min-bytes is an option of leaks, not "
						       "of heap");
			if (lsc_cli_parse_num(cmd, "--min-bytes", optarg, 0, 1ULL << 50, "bytes",
					      &ctx.min_bytes))
				return LSC_EXIT_USAGE;
			break;
		case 'P':
			if (lsc_cli_parse_pid(cmd, optarg, &pid))
				return LSC_EXIT_USAGE;
			lsc_cli_span.pid = pid; /* a directory's session too */
			break;
		case 'L':
			loop = optarg;
			break;
		case LSC_OPT_SINCE:
		case LSC_OPT_UNTIL:
		case LSC_OPT_SERVICE:
			if (lsc_cli_span_option(cmd, c, optarg))
				return LSC_EXIT_USAGE;
			break;
		case 'h':
			return lsc_help(cmd);
		default:
			return lsc_usage_error(cmd, "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (!leaks && optind < argc - 1 && ends_with(argv[optind], ".heapsnapshot"))
		return lsc_cli_heap_snapshots((const char *const *)argv + optind,
					      (size_t)(argc - optind), out, json);
	if (optind != argc - 1)
		return lsc_usage_error(cmd, "one recording, please (loopscope %s REC)", cmd);
	if (!leaks && ends_with(argv[optind], ".heapsnapshot")) /* V8's: heap_snapshot.c */
		return lsc_cli_heap_snapshot(argv[optind], out, json);
	ctx.format = json ? F_JSON : F_TEXT;
	if (!leaks && out && !json && ends_with(out, ".html"))
		ctx.format = F_HTML;
	else if (!leaks && out && !json && ends_with(out, ".svg"))
		ctx.format = F_SVG;
	/* the recording, another process of its set (--pid), or one loop's (an isolate's GCs) */
	if (lsc_cli_pick(cmd, argv[optind], pid, loop, &pick))
		return LSC_EXIT_FAIL;
	rec = pick.rec;
	sym = pick.sym;
	err = lsc_heap_build(rec, sym, &h);
	if (err == LSC_ENODATA || (!err && leaks && !h.snapshots && !h.js.snapshots)) {
		if (!err)
			lsc_heap_free(&h);
		lsc_cli_pick_free(&pick);
		return lsc_fail("recording '%s' has no %s (capture with loopscope run --heap "
				"sampled or --heap full%s)",
				argv[optind], leaks ? "heap snapshots" : "heap data",
				leaks ? "" : "; attach records RSS and GC only");
	}
	if (err) {
		lsc_cli_pick_free(&pick);
		return lsc_fail("cannot analyse '%s': %s", argv[optind], lsc_strerror(err));
	}
	snprintf(title, sizeof(title), "loopscope heap: %s (pid %u%s%s)",
		 rec->header && rec->header->executable ? rec->header->executable : argv[optind],
		 rec->header ? rec->header->pid : 0, pick.loop_name[0] ? ", " : "", pick.loop_name);
	/* the V8 snapshots the run had Node write: the named recording notes them */
	if (!leaks && !pid && pick.set.n)
		h.v8_snapshots = snaps = lsc_cli_snap_summary(argv[optind], pick.set.r[0]);
	ctx.h = &h;
	ctx.title = title;
	ctx.when = when_of(rec);
	code = lsc_cli_emit(out, leaks ? render_leaks : render_heap, &ctx);
	free(snaps);
	lsc_heap_free(&h);
	lsc_cli_pick_free(&pick);
	return code;
}

int cmd_heap(int argc, char **argv)
{
	return run(argc, argv, 0);
}

int cmd_leaks(int argc, char **argv)
{
	return run(argc, argv, 1);
}
