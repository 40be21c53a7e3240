/*
 * fuzz_recording.c — the recording reader, then everything that reads a recording: the report
 * (text and JSON), heap and leaks (every format), every flame kind in every output format with
 * a differential against another kind, and every gate metric, absolute and against itself as
 * the baseline. Symbols come from the recording only: a symbolizer would open the files its
 * mappings name (fuzz_elf covers modules).
 */
#include "fuzz.h"
#include "lsc_gate.h"
#include "lsc_heap.h"
#include "lsc_render.h"

#include <string.h>

static void flames(const struct lsc_recording *r)
{
	struct lsc_flame *prev = NULL;
	uint32_t tid = r->nthreads ? r->threads[0]->tid : 1;
	int kind, t;

	for (kind = 0; kind <= LOOPSCOPE__SAMPLE_KIND__TEMP_COUNT + 1; kind++)
		for (t = 0; t < 2; t++) {
			struct lsc_svg_opts svg = {.title = "t",
						   .countname = "samples",
						   .width = 1200,
						   .minwidth = 0.1,
						   .reverse = t};
			struct lsc_profile_opts prof = {.name = "n",
							.type = "samples",
							.unit = "count",
							.mapping = "m",
							.period = 1,
							.time_nanos = 1,
							.duration_nanos = 1};
			struct lsc_flame *f;
			double *scaled;
			uint32_t *match;
			size_t n, i;

			if (lsc_flame_from_recording(r, kind, t ? tid : 0, NULL, &f))
				continue;
			lsc_render_folded(fuzz_sink(), f);
			lsc_render_svg(fuzz_sink(), f, &svg);
			lsc_render_pprof(fuzz_sink(), f, &prof);
			lsc_render_speedscope(fuzz_sink(), f, &prof);
			if (prev) {
				/* loopscope diff: the previous tree as the baseline */
				const struct lsc_flame_node *B = lsc_flame_nodes(prev, &i);

				lsc_flame_nodes(f, &n);
				match = calloc(n, sizeof(*match));
				scaled = calloc(n, sizeof(*scaled));
				if (match && scaled) {
					lsc_flame_match(f, prev, match);
					for (i = 0; i < n; i++)
						scaled[i] = (double)B[match[i]].total;
					svg.base = scaled;
					lsc_render_svg(fuzz_sink(), f, &svg);
					lsc_render_folded_diff(fuzz_sink(), prev, f);
				}
				free(match);
				free(scaled);
			}
			lsc_flame_free(prev);
			prev = f;
		}
	lsc_flame_free(prev);
}

static char budget[8192];

static void gate(const struct lsc_recording *r)
{
	const struct lsc_recording *recs[2] = {r, r};
	struct lsc_gate_measurer *m;
	struct lsc_gate g;
	char err[512];
	const char *name;
	size_t i;
	double v;

	if (lsc_gate_measurer_new(r, NULL, &m) == 0) {
		for (i = 0; (name = lsc_gate_metric(i)); i++) {
			lsc_gate_measure(m, name, NULL, NULL, &v);
			lsc_gate_measure(m, name, "main", "worker:*", &v);
		}
		lsc_gate_measurer_free(m);
	}
	if (lsc_gate_parse(budget, "budget", &g, err, sizeof(err)))
		abort(); /* the budget below is valid */
	lsc_gate_judge(&g, recs, 2, r, NULL, NULL, err, sizeof(err));
}

static void make_budget(void)
{
	const char *name;
	size_t i, n = 0;

	for (i = 0; (name = lsc_gate_metric(i)); i++) {
		const char *fn = !strcmp(name, "cpu.share") ? "(main)" : "";

		n += snprintf(budget + n, sizeof(budget) - n, "%s%s <= baseline\n", name, fn);
		if (!strncmp(name, "blocking.", 9))
			n += snprintf(budget + n, sizeof(budget) - n, "%s(read) >= baseline\n",
				      name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lsc_recording *r;
	struct lsc_report rep;
	struct lsc_heap_report h;

	if (!budget[0])
		make_budget();
	if (lsc_recording_parse(data, size, &r, NULL))
		return 0;
	if (lsc_report_build(r, NULL, &rep) == 0) {
		lsc_render_report_text(fuzz_sink(), &rep);
		lsc_render_report_json(fuzz_sink(), &rep);
	}
	/* every loop's report from its view, and the set report of one process */
	{
		static struct lsc_report_set set;
		const struct lsc_recording *one[1] = {r};

		if (lsc_report_build_set(one, 1, NULL, NULL, &set) == 0) {
			lsc_render_report_set_text(fuzz_sink(), &set);
			lsc_render_report_set_json(fuzz_sink(), &set);
			lsc_report_set_free(&set);
		}
		if (lsc_report_build_set(one, 1, NULL, "all", &set) == 0)
			lsc_report_set_free(&set);
	}
	if (lsc_heap_build(r, NULL, &h) == 0) {
		lsc_render_heap_text(fuzz_sink(), &h);
		lsc_render_heap_json(fuzz_sink(), &h);
		lsc_render_heap_svg(fuzz_sink(), &h);
		lsc_render_heap_html(fuzz_sink(), &h, "t");
		lsc_render_leaks_text(fuzz_sink(), &h, 0, "the end");
		lsc_render_leaks_json(fuzz_sink(), &h, 0, "the end");
		lsc_render_leaks_text(fuzz_sink(), &h, 1 << 20, "the end");
		lsc_heap_free(&h);
	}
	flames(r);
	gate(r);
	lsc_recording_free(r);
	return 0;
}
