/*
 * fuzz_heapsnap.c — the V8 heap snapshot reader and its analysis: a buffer is read into a
 * snapshot (then dominators, retained sizes, classes, the top retainers and their paths are
 * computed and written) or refused with the byte where it went wrong.
 */
#include "fuzz.h"
#include "lsc_heapsnap.h"
#include "lsc_render.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lsc_snap *s;
	struct lsc_snap_class *classes = NULL;
	struct lsc_snap_view v = {.source = "fuzz"};
	uint32_t top[10];
	char err[300];
	size_t n = 0;

	if (lsc_snap_parse((const char *)data, size, &s, err, sizeof(err)))
		return 0;
	if (!lsc_snap_analyse(s) && !lsc_snap_classes(s, &classes, &n)) {
		v.snap = s;
		v.top = top;
		v.ntop = lsc_snap_top_retainers(s, top, 10);
		v.classes = classes;
		v.nclasses = n;
		lsc_render_snap_text(fuzz_sink(), &v);
		lsc_render_snap_json(fuzz_sink(), &v);
	}
	free(classes);
	lsc_snap_free(s);
	return 0;
}
