/*
 * heap_snapshot.c — `loopscope heap FILE.heapsnapshot`: a V8 heap snapshot read
 * (analysis/heapsnap.c), its dominator tree and retained sizes computed (heapsnap_dom.c), and
 * the largest retainers and the classes written as text or JSON (render/heapsnap.c).
 */
#include "cli.h"
#include "lsc_render.h"

#include <stdlib.h>
#include <string.h>

#define TOP 20 /* (the text shows the first ten) */

static int render_text(FILE *f, const void *v)
{
	return lsc_render_snap_text(f, v);
}

static int render_json(FILE *f, const void *v)
{
	return lsc_render_snap_json(f, v);
}

int lsc_cli_heap_snapshot(const char *path, const char *out, int json)
{
	struct lsc_snap *s = NULL;
	struct lsc_snap_class *classes = NULL;
	struct lsc_snap_view v = {.source = path};
	uint32_t top[TOP];
	char err[300] = "";
	size_t n = 0;
	int e, ret;

	e = lsc_snap_read(path, &s, err, sizeof(err));
	if (e)
		return lsc_fail("cannot read the heap snapshot '%s': %s", path,
				err[0] ? err : lsc_strerror(e));
	if (lsc_snap_analyse(s) || lsc_snap_classes(s, &classes, &n)) {
		lsc_snap_free(s);
		return lsc_fail("out of memory analysing '%s'", path);
	}
	v.snap = s;
	v.top = top;
	v.ntop = lsc_snap_top_retainers(s, top, TOP);
	v.classes = classes;
	v.nclasses = n;
	ret = lsc_cli_emit(out, json ? render_json : render_text, &v);
	free(classes);
	lsc_snap_free(s);
	return ret;
}
