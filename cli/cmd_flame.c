/* cmd_flame.c — `loopscope flame`: a recording's (or a folded file's) stacks as a flame graph. */
#include "cli.h"
#include "lsc_flame.h"
#include "lsc_render.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int kind;
	const char *countname; /* SVG */
	const char *type;      /* pprof sample type */
	const char *unit;
} kinds[] = {
	{"cpu", LOOPSCOPE__SAMPLE_KIND__CPU, "samples", "samples", "count"},
	{"offcpu", LOOPSCOPE__SAMPLE_KIND__OFFCPU, "ns", "offcpu", "nanoseconds"},
	{"alloc", LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES, "bytes", "alloc_space", "bytes"},
	{"alloc-count", LOOPSCOPE__SAMPLE_KIND__ALLOC_COUNT, "allocations", "alloc_objects",
	 "count"},
	{"live", LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, "bytes", "inuse_space", "bytes"},
	{"live-count", LOOPSCOPE__SAMPLE_KIND__LIVE_COUNT, "allocations", "inuse_objects", "count"},
	{"temp-count", LOOPSCOPE__SAMPLE_KIND__TEMP_COUNT, "allocations", "temporary_objects",
	 "count"},
	{"blocking", LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, "ns", "blocking", "nanoseconds"},
	{"pool-submits", LOOPSCOPE__SAMPLE_KIND__POOL_SUBMITS, "jobs", "pool_submits", "count"},
	{"js-live", LOOPSCOPE__SAMPLE_KIND__JS_LIVE_BYTES, "bytes", "js_inuse_space", "bytes"},
	{"js-live-count", LOOPSCOPE__SAMPLE_KIND__JS_LIVE_COUNT, "objects", "js_inuse_objects",
	 "count"},
	/* a V8 heap snapshot's dominator tree (analysis/heapsnap_dom.c) */
	{"retained", -1, "bytes", "retained_space", "bytes"},
};

static int js_kind(int kind)
{
	return kind == LOOPSCOPE__SAMPLE_KIND__JS_LIVE_BYTES ||
	       kind == LOOPSCOPE__SAMPLE_KIND__JS_LIVE_COUNT;
}

static int heap_kind(int kind)
{
	return kind == LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES ||
	       kind == LOOPSCOPE__SAMPLE_KIND__ALLOC_COUNT ||
	       kind == LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES ||
	       kind == LOOPSCOPE__SAMPLE_KIND__LIVE_COUNT ||
	       kind == LOOPSCOPE__SAMPLE_KIND__TEMP_COUNT || js_kind(kind);
}

enum { FMT_SVG, FMT_FOLDED, FMT_PPROF, FMT_SPEEDSCOPE };

/* A plain decimal (0.1, 2): no sign, exponent, "inf" or "nan". */
static int parse_number(const char *s, double *out)
{
	char *e;

	if (*s < '0' || *s > '9' || strpbrk(s, "eExXpP"))
		return 0;
	*out = strtod(s, &e);
	return e != s && !*e && *out >= 0;
}

#define MAX_PROFILES 64

struct job {
	int fmt;
	const struct lsc_flame *flame;
	const struct lsc_svg_opts *svg;
	const struct lsc_profile_opts *prof;
	/* speedscope: a profile per thread, when the samples say their thread */
	size_t nthreads;
	const struct lsc_flame *per_thread[MAX_PROFILES];
	const char *thread_names[MAX_PROFILES];
};

/* The threads with samples of this kind (at most MAX_PROFILES), and a tree for each. */
static int per_thread(const struct lsc_recording *r, int kind, struct lsc_symbolizer *sym,
		      struct job *j, char names[][160], const char *kind_name)
{
	uint32_t tids[MAX_PROFILES];
	size_t n = 0, i, k, t;

	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if ((int)s->kind != kind || s->snapshot)
			continue;
		for (k = 0; k < s->n_tid; k++) {
			for (t = 0; t < n && tids[t] != s->tid[k]; t++)
				;
			if (t == n && n < MAX_PROFILES)
				tids[n++] = s->tid[k];
		}
	}
	for (t = 0; t < n; t++) {
		const Loopscope__Thread *th = lsc_recording_thread(r, tids[t]);
		struct lsc_flame *f;
		int err = lsc_flame_from_recording(r, kind, tids[t], sym, &f);

		if (err == LSC_ENODATA)
			continue;
		if (err)
			return err;
		snprintf(names[j->nthreads], 160, "%s: %s (tid %u)%s", kind_name,
			 th && th->name && *th->name ? th->name : "thread", tids[t],
			 th && th->loop ? ", a loop" : "");
		j->thread_names[j->nthreads] = names[j->nthreads];
		j->per_thread[j->nthreads++] = f;
	}
	return 0;
}

static int render(FILE *f, const void *ctx)
{
	const struct job *j = ctx;

	switch (j->fmt) {
	case FMT_SVG:
		return lsc_render_svg(f, j->flame, j->svg);
	case FMT_FOLDED:
		return lsc_render_folded(f, j->flame);
	case FMT_PPROF:
		return lsc_render_pprof(f, j->flame, j->prof);
	default:
		if (j->nthreads > 1)
			return lsc_render_speedscope_profiles(f, j->per_thread, j->thread_names,
							      j->nthreads, j->prof);
		return lsc_render_speedscope(f, j->flame, j->prof);
	}
}

/* A V8 heap snapshot's dominator tree as a flame graph (--kind retained); 0 or -1 (said). */
static int snap_flame(const char *path, struct lsc_flame **out)
{
	struct lsc_snap *s = NULL;
	char err[300] = "";
	int e = lsc_snap_read(path, &s, err, sizeof(err));

	if (e) {
		lsc_fail("cannot read the heap snapshot '%s': %s", path,
			 err[0] ? err : lsc_strerror(e));
		return -1;
	}
	e = lsc_snap_analyse(s);
	if (!e)
		e = lsc_snap_flame(s, out);
	lsc_snap_free(s);
	if (e) {
		lsc_fail("cannot build the flame graph of '%s': %s", path, lsc_strerror(e));
		return -1;
	}
	return 0;
}

int cmd_flame(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kind", required_argument, NULL, 'k'},
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"folded", required_argument, NULL, 'F'},
		{"title", required_argument, NULL, 't'},
		{"width", required_argument, NULL, 'w'},
		{"minwidth", required_argument, NULL, 'm'},
		{"reverse", no_argument, NULL, 'r'},
		{"countname", required_argument, NULL, 'c'},
		{"tid", required_argument, NULL, 'T'},
		{"loop", required_argument, NULL, 'L'},
		{"pid", required_argument, NULL, 'P'},
		LSC_CLI_SPAN_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lsc_svg_opts svg = {.width = 1200, .minwidth = 0.1};
	struct lsc_profile_opts prof = {0};
	struct lsc_recording *rec = NULL;
	struct lsc_symbolizer *sym = NULL;
	struct lsc_flame *flame = NULL;
	struct job job = {0};
	static char thread_names[MAX_PROFILES][160];
	const char *output = NULL, *folded = NULL, *src, *loop = NULL;
	static struct lsc_pick pick;
	int pid = 0;
	char subtitle[512];
	int c, k = 0, fmt = FMT_SVG, err, ret = LSC_EXIT_FAIL, snap;
	size_t len;
	unsigned long tid = 0;
	uint64_t n;
	double num;
	size_t i;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
				if (!strcmp(kinds[i].name, optarg))
					break;
			if (i == sizeof(kinds) / sizeof(kinds[0]))
				return lsc_usage_error("flame", "unknown kind '%s'", optarg);
			k = (int)i;
			break;
		case 'f':
			if (!strcmp(optarg, "svg"))
				fmt = FMT_SVG;
			else if (!strcmp(optarg, "folded"))
				fmt = FMT_FOLDED;
			else if (!strcmp(optarg, "pprof"))
				fmt = FMT_PPROF;
			else if (!strcmp(optarg, "speedscope"))
				fmt = FMT_SPEEDSCOPE;
			else
				return lsc_usage_error("flame", "unknown format '%s'", optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case 'F':
			folded = optarg;
			break;
		case 't':
			svg.title = optarg;
			break;
		case 'w':
			if (lsc_cli_parse_num("flame", "--width", optarg, 100, 100000, "px", &n))
				return LSC_EXIT_USAGE;
			svg.width = (int)n;
			break;
		case 'm':
			if (!parse_number(optarg, &num))
				return lsc_usage_error("flame",
						       "'%s' is not a number for --minwidth (0 to "
						       "1000 px)",
						       optarg);
			if (num > 1000)
				return lsc_usage_error(
					"flame", "--minwidth %s is out of range (0 to 1000 px)",
					optarg);
			svg.minwidth = num;
			break;
		case 'r':
			svg.reverse = 1;
			break;
		case 'c':
			svg.countname = optarg;
			break;
		case 'L':
			loop = optarg;
			break;
		case 'P':
			if (lsc_cli_parse_pid("flame", optarg, &pid))
				return LSC_EXIT_USAGE;
			lsc_cli_span.pid = pid; /* a directory's session too */
			break;
		case 'T':
			if (lsc_cli_parse_num("flame", "--tid", optarg, 1, 1 << 22, "", &n))
				return LSC_EXIT_USAGE;
			tid = (unsigned long)n;
			break;
		case LSC_OPT_SINCE:
		case LSC_OPT_UNTIL:
		case LSC_OPT_SERVICE:
			if (lsc_cli_span_option("flame", c, optarg))
				return LSC_EXIT_USAGE;
			break;
		case 'h':
			return lsc_help("flame");
		default:
			return lsc_usage_error("flame", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (folded ? optind != argc : optind != argc - 1)
		return lsc_usage_error("flame", folded		 ? "--folded takes no recording"
						: optind == argc ? "no recording given"
								 : "more than one recording given");
	src = folded ? folded : argv[optind];
	len = strlen(src);
	snap = !folded && len > 13 && !strcmp(src + len - 13, ".heapsnapshot");
	if (snap ? k && kinds[k].kind >= 0 : kinds[k].kind < 0) /* (k 0: no --kind given) */
		return lsc_usage_error("flame", snap ? "a heap snapshot's kind is retained"
						     : "--kind retained is a V8 heap snapshot's "
						       "(FILE.heapsnapshot)");
	if (snap) {
		k = (int)(sizeof(kinds) / sizeof(kinds[0])) - 1; /* retained */
		if (snap_flame(src, &flame))
			return LSC_EXIT_FAIL;
	} else if (folded) {
		uint64_t bad;

		err = lsc_flame_from_folded(folded, &flame, &bad);
		if (err == LSC_EBADFOLDED && bad)
			return lsc_fail(
				"cannot read folded stacks '%s': line %llu is not 'frame;frame;... "
				"count'",
				folded, (unsigned long long)bad);
		if (err)
			return lsc_fail("cannot read folded stacks '%s': %s", folded,
					lsc_strerror(err));
	} else {
		/* the recording, another process of its set (--pid), or one loop's view */
		if (lsc_cli_pick("flame", src, pid, loop, &pick))
			return LSC_EXIT_FAIL;
		rec = pick.rec;
		sym = pick.sym;
		err = lsc_flame_from_recording(rec, kinds[k].kind, (uint32_t)tid, sym, &flame);
		if (err == LSC_ENODATA) {
			lsc_fail("recording '%s' has no %s samples%s", src, kinds[k].name,
				 !strcmp(kinds[k].name, "cpu") ? " (capture with --cpu-hz > 0)"
				 : js_kind(kinds[k].kind)
					 ? " (Node.js under loopscope run, with --heap not off)"
				 : heap_kind(kinds[k].kind)
					 ? " (capture with --heap sampled or full)"
					 : "");
			goto out;
		}
		if (err) {
			lsc_fail("cannot build the flame graph of '%s': %s", src,
				 lsc_strerror(err));
			goto out;
		}
	}
	if (!svg.countname)
		svg.countname = folded ? "samples" : kinds[k].countname;
	if (snap) { /* no recording: the folded path's defaults, the kind's names */
		svg.subtitle = "retained size by the objects that hold it (V8 heap snapshot)";
		folded = src;
	}
	snprintf(subtitle, sizeof(subtitle), "%s%s", folded ? "" : kinds[k].name,
		 folded ? "" : (rec->header && rec->header->executable ? "" : ""));
	if (!folded) {
		svg.subtitle = subtitle;
		if (rec->header && rec->header->executable)
			snprintf(subtitle, sizeof(subtitle), "%s: %s (pid %u)%s%s", kinds[k].name,
				 rec->header->executable, rec->header->pid,
				 pick.loop_name[0] ? ", " : "", pick.loop_name);
	}
	prof.name = snap ? kinds[k].name : folded ? "folded" : kinds[k].name;
	prof.type = snap     ? kinds[k].type
		    : folded ? (svg.countname ? svg.countname : "samples")
			     : kinds[k].type;
	prof.unit = snap ? kinds[k].unit : folded ? "count" : kinds[k].unit;
	prof.mapping = rec && rec->header && rec->header->executable ? rec->header->executable
								     : "loopscope";
	if (rec && rec->header)
		prof.time_nanos = (int64_t)rec->header->start_unix_ns;
	if (rec) {
		size_t w;

		prof.duration_nanos =
			rec->footer && rec->footer->has_end_ns ? (int64_t)rec->footer->end_ns : 0;
		for (w = 0; !prof.duration_nanos && w < rec->nwindows; w++)
			if ((int64_t)(rec->windows[w]->start_ns + rec->windows[w]->length_ns) >
			    prof.duration_nanos)
				prof.duration_nanos = (int64_t)(rec->windows[w]->start_ns +
								rec->windows[w]->length_ns);
	}
	/* CPU samples: one every 1/hz s of CPU time, as pprof's period says */
	if (!folded && kinds[k].kind == LOOPSCOPE__SAMPLE_KIND__CPU && rec && rec->header &&
	    rec->header->cpu_sample_hz) {
		prof.period = 1000000000LL / rec->header->cpu_sample_hz;
		prof.period_type = "cpu";
		prof.period_unit = "nanoseconds";
	}

	job = (struct job){.fmt = fmt, .flame = flame, .svg = &svg, .prof = &prof};
	if (fmt == FMT_SPEEDSCOPE && rec && !tid && !heap_kind(kinds[k].kind)) {
		err = per_thread(rec, kinds[k].kind, sym, &job, thread_names, kinds[k].name);
		if (err) {
			lsc_fail("cannot build the flame graph of '%s': %s", src,
				 lsc_strerror(err));
			goto out;
		}
	}
	ret = lsc_cli_emit(output, render, &job);
out:
	for (i = 0; i < job.nthreads; i++)
		lsc_flame_free((struct lsc_flame *)job.per_thread[i]);
	lsc_flame_free(flame);
	lsc_cli_pick_free(&pick); /* rec and sym are its */
	return ret;
}
