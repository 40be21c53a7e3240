/*
 * fuzz_folded.c — the folded-stack reader (flamegraph.pl's input) and the renderers drawing
 * what it built: a file either becomes a tree or is refused with the number of its bad line.
 */
#include "fuzz.h"
#include "lsc_flame.h"
#include "lsc_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lsc_svg_opts svg = {
		.title = "t", .countname = "samples", .width = 1200, .minwidth = 0.1};
	struct lsc_profile_opts prof = {.name = "folded", .type = "samples", .unit = "count"};
	struct lsc_flame *f;
	uint64_t bad;
	char path[64];
	int fd = fuzz_memfd(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	if (lsc_flame_from_folded(path, &f, &bad) == 0) {
		lsc_render_folded(fuzz_sink(), f);
		lsc_render_svg(fuzz_sink(), f, &svg);
		lsc_render_pprof(fuzz_sink(), f, &prof);
		lsc_render_speedscope(fuzz_sink(), f, &prof);
		lsc_render_folded_diff(fuzz_sink(), f, f);
		lsc_flame_free(f);
	}
	close(fd);
	return 0;
}
