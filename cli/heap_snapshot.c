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

static int render_snaps_text(FILE *f, const void *v)
{
	return lsc_render_snaps_text(f, v);
}

static int render_snaps_json(FILE *f, const void *v)
{
	return lsc_render_snaps_json(f, v);
}

int lsc_cli_heap_snapshots(const char *const *paths, size_t n, const char *out, int json)
{
	struct lsc_snap *snaps[LSC_SNAP_MAX] = {0};
	struct lsc_snap_compared *cmp = calloc(1, sizeof(*cmp));
	struct lsc_snaps_view v = {.sources = paths, .snaps = snaps, .n = n, .cmp = cmp};
	char err[300] = "";
	size_t i;
	int ret = LSC_EXIT_FAIL, e;

	if (n > LSC_SNAP_MAX) {
		free(cmp);
		return lsc_usage_error("heap", "at most %d snapshots at once", LSC_SNAP_MAX);
	}
	if (!cmp)
		return lsc_fail("out of memory");
	for (i = 0; i < n; i++) {
		e = lsc_snap_read(paths[i], &snaps[i], err, sizeof(err));
		if (e) {
			lsc_fail("cannot read the heap snapshot '%s': %s", paths[i],
				 err[0] ? err : lsc_strerror(e));
			goto out;
		}
		if (lsc_snap_analyse(snaps[i])) {
			lsc_fail("out of memory analysing '%s'", paths[i]);
			goto out;
		}
	}
	if (lsc_snap_compare(snaps, n, cmp)) {
		lsc_fail("out of memory comparing the snapshots");
		goto out;
	}
	ret = lsc_cli_emit(out, json ? render_snaps_json : render_snaps_text, &v);
out:
	for (i = 0; i < n; i++)
		lsc_snap_free(snaps[i]);
	free(cmp);
	return ret;
}
