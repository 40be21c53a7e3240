/* render_internal.h — what the renderers share: the depth-first walk over stacks with weight,
 * XML escaping, a frame as JSON. */
#ifndef LSC_RENDER_INTERNAL_H
#define LSC_RENDER_INTERNAL_H

#include <stdio.h>

#include "lsc_flame.h"
#include "lsc_report.h"

struct json_object;

/* Calls fn for every node with self weight, with its root-first path of node ids; stops at the
 * first non-zero return and returns it. Children are visited in the tree's (name) order. */
int lsc__flame_walk(const struct lsc_flame *f,
		    int (*fn)(void *ctx, const uint32_t *path, size_t depth, uint64_t self),
		    void *ctx);

/* Writes s escaped for XML text and attributes, at most max characters of it. */
void lsc__xml_escape(FILE *out, const char *s, size_t max);
/* A report of loops (report_json.c) as the object `report --json` prints. */
struct lsc_report_loops;
struct json_object *lsc__report_loops_json(const struct lsc_report_loops *l);
/* Prints root (pretty), frees it; -EIO when the write failed. */
int lsc__emit_json(FILE *out, struct json_object *root);
/* The heap report's body (heap.c), headings at <hLEVEL>; the pages' shared style. */
struct lsc_heap_report;
int lsc_render_heap_section(FILE *out, const struct lsc_heap_report *h, int level);
extern const char lsc__html_css[];
/* {"function", "file", "line"} */
struct json_object *lsc__frame_json(const struct lsc_report_frame *f);
/* heapsnap.c: the run's heap snapshots, summed up (the report's "heap_snapshots") */
struct lsc_snap_summary;
struct json_object *lsc__snap_summary_json(const struct lsc_snap_summary *m);
int lsc__snap_summary_html(FILE *out, const struct lsc_snap_summary *m, int level);

#endif
