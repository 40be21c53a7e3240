/*
 * heap_snapshot.c — `loopscope heap FILE.heapsnapshot`: a V8 heap snapshot read
 * (analysis/heapsnap.c), its dominator tree and retained sizes computed (heapsnap_dom.c), and
 * the largest retainers and the classes written as text or JSON (render/heapsnap.c).
 */
#include "cli.h"
#include "lsc_render.h"

#include <libgen.h>
#include <limits.h>
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

/* Each snapshot read and analysed in turn, the earlier ones kept only as their ids: the memory
 * of the largest, not of all of them. */
int lsc_cli_heap_snapshots(const char *const *paths, size_t n, const char *out, int json)
{
	struct lsc_snap_ids ids[LSC_SNAP_MAX] = {{0}};
	struct lsc_snap *s = NULL;
	struct lsc_snap_compared *cmp = calloc(1, sizeof(*cmp));
	struct lsc_snaps_view v = {.sources = paths, .cmp = cmp};
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
		e = lsc_snap_read(paths[i], &s, err, sizeof(err));
		if (e) {
			lsc_fail("cannot read the heap snapshot '%s': %s", paths[i],
				 err[0] ? err : lsc_strerror(e));
			goto out;
		}
		if (lsc_snap_analyse(s) || (i + 1 < n && lsc_snap_ids(s, &ids[i]))) {
			lsc_fail("out of memory analysing '%s'", paths[i]);
			goto out;
		}
		if (i + 1 < n) {
			lsc_snap_free(s);
			s = NULL;
		}
	}
	if (lsc_snap_compare(ids, n - 1, s, cmp)) {
		lsc_fail("out of memory comparing the snapshots");
		goto out;
	}
	v.last = s;
	ret = lsc_cli_emit(out, json ? render_snaps_json : render_snaps_text, &v);
out:
	for (i = 0; i < n; i++)
		lsc_snap_ids_free(&ids[i]);
	lsc_snap_free(s);
	free(cmp);
	return ret;
}

struct lsc_snap_summary *lsc_cli_snap_summary(const char *recpath, const struct lsc_recording *r)
{
	struct lsc_snap_summary *m;
	char tmp[PATH_MAX];

	if (!r->nheap_snapshots)
		return NULL;
	m = malloc(sizeof(*m));
	snprintf(tmp, sizeof(tmp), "%s", recpath);
	if (!m || lsc_snap_summarise(dirname(tmp), r->heap_snapshots, r->nheap_snapshots, m)) {
		free(m);
		lsc_warn("out of memory reading the heap snapshots of '%s'", recpath);
		return NULL;
	}
	return m;
}
