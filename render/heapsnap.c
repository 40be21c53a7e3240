/*
 * heapsnap.c — `loopscope heap FILE.heapsnapshot` as text and JSON: the snapshot's size, the
 * largest retainers with their paths from a GC root, and the classes by retained size
 * (analysis/heapsnap*.c computes them).
 */
#include "lsc_render.h"
#include "render_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>

#define MIB (1024.0 * 1024.0)

static void size_text(char *buf, size_t cap, uint64_t b)
{
	if (b >= 1048576)
		snprintf(buf, cap, "%.1f MiB", (double)b / MIB);
	else
		snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
}

int lsc_render_snap_text(FILE *out, const struct lsc_snap_view *v)
{
	const struct lsc_snap *s = v->snap;
	char a[32], b[32], name[160], path[2048];
	size_t i;

	size_text(a, sizeof(a), s->total_self);
	fprintf(out, "loopscope heap: %s: %u objects, %u references, %s in all\n", v->source,
		s->nnodes, s->nedges, a);
	fputs("\nLargest retainers (what each keeps alive, and the shortest path to it from a GC "
	      "root)\n",
	      out);
	for (i = 0; i < v->ntop && i < 10; i++) {
		uint32_t n = v->top[i];

		size_text(a, sizeof(a), s->retained[n]);
		lsc_snap_node_name(s, n, name, sizeof(name));
		lsc_snap_path(s, n, path, sizeof(path));
		fprintf(out, "  %10s  %5.1f %%  %s @%u\n              %s\n", a,
			s->total_self ? 100.0 * (double)s->retained[n] / (double)s->total_self : 0,
			name, s->id[n], path);
	}
	fprintf(out,
		"\nBy class (retained: each object once, not under another of its class)\n"
		"  %10s %10s %10s  class\n",
		"retained", "self", "count");
	for (i = 0; i < v->nclasses && i < 20; i++) {
		size_text(a, sizeof(a), v->classes[i].retained);
		size_text(b, sizeof(b), v->classes[i].self);
		fprintf(out, "  %10s %10s %10llu  %s\n", a, b,
			(unsigned long long)v->classes[i].count, v->classes[i].name);
	}
	return ferror(out) ? -EIO : 0;
}

int lsc_render_snap_json(FILE *out, const struct lsc_snap_view *v)
{
	const struct lsc_snap *s = v->snap;
	json_object *root = json_object_new_object(), *top = json_object_new_array(),
		    *cls = json_object_new_array();
	char name[160], path[2048];
	size_t i;

	json_object_object_add(root, "source", json_object_new_string(v->source));
	json_object_object_add(root, "objects", json_object_new_uint64(s->nnodes));
	json_object_object_add(root, "references", json_object_new_uint64(s->nedges));
	json_object_object_add(root, "self_bytes", json_object_new_uint64(s->total_self));
	for (i = 0; i < v->ntop; i++) {
		json_object *o = json_object_new_object();
		uint32_t n = v->top[i];

		lsc_snap_node_name(s, n, name, sizeof(name));
		lsc_snap_path(s, n, path, sizeof(path));
		json_object_object_add(o, "name", json_object_new_string(name));
		lsc_snap_class(s, n, name, sizeof(name));
		json_object_object_add(o, "class", json_object_new_string(name));
		json_object_object_add(o, "id", json_object_new_uint64(s->id[n]));
		json_object_object_add(o, "self", json_object_new_uint64(s->self[n]));
		json_object_object_add(o, "retained", json_object_new_uint64(s->retained[n]));
		json_object_object_add(o, "path", json_object_new_string(path));
		json_object_array_add(top, o);
	}
	json_object_object_add(root, "retainers", top);
	for (i = 0; i < v->nclasses; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(v->classes[i].name));
		json_object_object_add(o, "count", json_object_new_uint64(v->classes[i].count));
		json_object_object_add(o, "self", json_object_new_uint64(v->classes[i].self));
		json_object_object_add(o, "retained",
				       json_object_new_uint64(v->classes[i].retained));
		json_object_array_add(cls, o);
	}
	json_object_object_add(root, "classes", cls);
	return lsc__emit_json(out, root);
}

/* ------------------------------------------------------------------ several snapshots */

int lsc_render_snaps_text(FILE *out, const struct lsc_snaps_view *v)
{
	const struct lsc_snap *last = v->last;
	const struct lsc_snap_compared *c = v->cmp;
	char a[32], name[160], path[2048];
	size_t i, j, shown;
	uint64_t all = 0;

	fprintf(out, "loopscope heap: %zu snapshots of one process, in order\n", c->n);
	for (i = 0; i < c->n; i++) {
		size_text(a, sizeof(a), c->self[i]);
		fprintf(out, "  %zu. %s: %u objects, %s\n", i + 1, v->sources[i], c->objects[i], a);
	}
	if (!c->ngrowing)
		fputs("\nNothing keeps growing: no large retainer rose from each snapshot to the "
		      "next (by half and 1 MiB at least).\n",
		      out);
	else
		fputs("\nKeeps growing (retained size in each snapshot): a leak\n", out);
	for (i = 0; i < c->ngrowing; i++) {
		const struct lsc_snap_growth *g = &c->growing[i];

		lsc_snap_node_name(last, g->node, name, sizeof(name));
		lsc_snap_path(last, g->node, path, sizeof(path));
		fprintf(out, "  %s @%u:", name, last->id[g->node]);
		for (j = 0; j < c->n; j++) {
			size_text(a, sizeof(a), g->retained[j]);
			fprintf(out, "%s %s", j ? " →" : "", a);
		}
		fprintf(out, "\n      %s\n", path);
	}
	fprintf(out,
		"\nMade between snapshots 1 and 2 and still alive in %zu (by class and what "
		"holds them, the most bytes first)\n",
		c->n);
	for (i = 0; i < c->nsurvivors; i++)
		all += c->survivors[i].self;
	/* by holder, the holders in the order of their largest group (those with 1 % of the
	 * bytes at least); each with its classes */
	for (i = 0, shown = 0; i < c->nsurvivors && shown < 6; i++) {
		const struct lsc_snap_group *g = &c->survivors[i];
		uint64_t count = 0, bytes = 0;
		size_t k, listed = 0;

		for (k = 0; k < i && c->survivors[k].holder != g->holder; k++)
			;
		if (k < i)
			continue; /* this holder is listed */
		shown++;
		for (k = i; k < c->nsurvivors; k++)
			if (c->survivors[k].holder == g->holder) {
				count += c->survivors[k].count;
				bytes += c->survivors[k].self;
			}
		if (shown > 1 && bytes * 100 < all)
			continue;
		size_text(a, sizeof(a), bytes);
		if (g->holder) {
			lsc_snap_node_name(last, g->holder, name, sizeof(name));
			lsc_snap_path(last, g->holder, path, sizeof(path));
			fprintf(out, "  held by %s @%u: %llu objects, %s\n      %s\n", name,
				last->id[g->holder], (unsigned long long)count, a, path);
		} else {
			fprintf(out, "  held by nothing older than them: %llu objects, %s\n",
				(unsigned long long)count, a);
		}
		for (k = i; k < c->nsurvivors && listed < 6; k++) {
			const struct lsc_snap_group *m = &c->survivors[k];

			if (m->holder != g->holder)
				continue;
			listed++;
			size_text(a, sizeof(a), m->self);
			fprintf(out, "      %10llu %10s  %s\n", (unsigned long long)m->count, a,
				m->name);
		}
	}
	if (!c->nsurvivors)
		fputs("  none\n", out);
	return ferror(out) ? -EIO : 0;
}

int lsc_render_snaps_json(FILE *out, const struct lsc_snaps_view *v)
{
	const struct lsc_snap *last = v->last;
	const struct lsc_snap_compared *c = v->cmp;
	json_object *root = json_object_new_object(), *a = json_object_new_array();
	char name[160], path[2048];
	size_t i, j;

	for (i = 0; i < c->n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "source", json_object_new_string(v->sources[i]));
		json_object_object_add(o, "objects", json_object_new_uint64(c->objects[i]));
		json_object_object_add(o, "self_bytes", json_object_new_uint64(c->self[i]));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "snapshots", a);
	a = json_object_new_array();
	for (i = 0; i < c->ngrowing; i++) {
		const struct lsc_snap_growth *g = &c->growing[i];
		json_object *o = json_object_new_object(), *r = json_object_new_array();

		lsc_snap_node_name(last, g->node, name, sizeof(name));
		lsc_snap_path(last, g->node, path, sizeof(path));
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "id", json_object_new_uint64(last->id[g->node]));
		for (j = 0; j < c->n; j++)
			json_object_array_add(r, json_object_new_uint64(g->retained[j]));
		json_object_object_add(o, "retained", r);
		json_object_object_add(o, "path", json_object_new_string(path));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "growing", a);
	a = json_object_new_array();
	for (i = 0; i < c->nsurvivors; i++) {
		const struct lsc_snap_group *g = &c->survivors[i];
		json_object *o = json_object_new_object();

		lsc_snap_path(last, g->example, path, sizeof(path));
		json_object_object_add(o, "class", json_object_new_string(g->name));
		json_object_object_add(o, "count", json_object_new_uint64(g->count));
		json_object_object_add(o, "self", json_object_new_uint64(g->self));
		json_object_object_add(o, "largest_path", json_object_new_string(path));
		if (g->holder) {
			json_object *h = json_object_new_object();

			lsc_snap_node_name(last, g->holder, name, sizeof(name));
			lsc_snap_path(last, g->holder, path, sizeof(path));
			json_object_object_add(h, "name", json_object_new_string(name));
			json_object_object_add(h, "id",
					       json_object_new_uint64(last->id[g->holder]));
			json_object_object_add(h, "path", json_object_new_string(path));
			json_object_object_add(o, "held_by", h);
		}
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "survivors", a);
	return lsc__emit_json(out, root);
}

/* ------------------------------------------------------------------ in the report */

int lsc_render_snap_summary_text(FILE *out, const struct lsc_snap_summary *m)
{
	char a[32], b[32];
	size_t i, k, j;

	if (!m || !m->n)
		return 0;
	fprintf(out,
		"\nJS heap snapshots (run --heap-snapshot-on; 'loopscope heap FILE...' for all "
		"of each)\n");
	for (i = 0; i < m->n; i++) {
		const struct lsc_snap_summary_file *f = &m->f[i];

		if (!f->read) {
			fprintf(out, "  pid %u %s (%s): cannot be read: %s\n", f->pid, f->name,
				f->trigger, f->error);
			continue;
		}
		size_text(a, sizeof(a), f->self);
		fprintf(out, "  pid %u %s (%s): %u objects, %s\n", f->pid, f->name, f->trigger,
			f->objects, a);
		for (k = 0; k < f->ntop; k++) {
			size_text(b, sizeof(b), f->top[k].retained);
			fprintf(out, "    %10s  %s @%u\n                %s\n", b, f->top[k].name,
				f->top[k].id, f->top[k].path);
		}
	}
	for (i = 0; i < m->ngrowing; i++) {
		const struct lsc_snap_summary_growth *g = &m->growing[i];

		fprintf(out,
			"  [warning] pid %u: %s keeps growing across its %zu snapshots:", g->pid,
			g->name, g->n);
		for (j = 0; j < g->n; j++) {
			size_text(a, sizeof(a), g->retained[j]);
			fprintf(out, "%s %s", j ? " →" : "", a);
		}
		fprintf(out, "\n         %s\n", g->path);
	}
	return ferror(out) ? -EIO : 0;
}

json_object *lsc__snap_summary_json(const struct lsc_snap_summary *m)
{
	json_object *root = json_object_new_object(), *a = json_object_new_array();
	size_t i, k;

	for (i = 0; i < m->n; i++) {
		const struct lsc_snap_summary_file *f = &m->f[i];
		json_object *o = json_object_new_object(), *t = json_object_new_array();

		json_object_object_add(o, "file", json_object_new_string(f->name));
		json_object_object_add(o, "pid", json_object_new_uint64(f->pid));
		json_object_object_add(o, "trigger", json_object_new_string(f->trigger));
		json_object_object_add(o, "bytes", json_object_new_uint64(f->bytes));
		json_object_object_add(o, "unix_ns", json_object_new_uint64(f->unix_ns));
		if (!f->read) {
			json_object_object_add(o, "error", json_object_new_string(f->error));
			json_object_array_add(a, o);
			json_object_put(t);
			continue;
		}
		json_object_object_add(o, "objects", json_object_new_uint64(f->objects));
		json_object_object_add(o, "self_bytes", json_object_new_uint64(f->self));
		for (k = 0; k < f->ntop; k++) {
			json_object *r = json_object_new_object();

			json_object_object_add(r, "name", json_object_new_string(f->top[k].name));
			json_object_object_add(r, "id", json_object_new_uint64(f->top[k].id));
			json_object_object_add(r, "retained",
					       json_object_new_uint64(f->top[k].retained));
			json_object_object_add(r, "path", json_object_new_string(f->top[k].path));
			json_object_array_add(t, r);
		}
		json_object_object_add(o, "retainers", t);
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "files", a);
	a = json_object_new_array();
	for (i = 0; i < m->ngrowing; i++) {
		const struct lsc_snap_summary_growth *g = &m->growing[i];
		json_object *o = json_object_new_object(), *r = json_object_new_array();

		json_object_object_add(o, "pid", json_object_new_uint64(g->pid));
		json_object_object_add(o, "name", json_object_new_string(g->name));
		for (k = 0; k < g->n; k++)
			json_object_array_add(r, json_object_new_uint64(g->retained[k]));
		json_object_object_add(o, "retained", r);
		json_object_object_add(o, "path", json_object_new_string(g->path));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "growing", a);
	return root;
}

int lsc__snap_summary_html(FILE *out, const struct lsc_snap_summary *m, int level)
{
	char a[32];
	size_t i, k, j;

	if (!m || !m->n)
		return 0;
	fprintf(out,
		"<h%d id=\"heap-snapshots\">JS heap snapshots</h%d>\n<p class=\"note\">Written by "
		"Node under <code>run --heap-snapshot-on</code>, beside the recording; "
		"<code>loopscope heap FILE...</code> shows all of each.</p>\n",
		level, level);
	for (i = 0; i < m->ngrowing; i++) {
		const struct lsc_snap_summary_growth *g = &m->growing[i];

		fprintf(out, "<p class=\"finding warning\">pid %u: <b>", g->pid);
		lsc__xml_escape(out, g->name, 200);
		fprintf(out, "</b> keeps growing across its %zu snapshots:", g->n);
		for (j = 0; j < g->n; j++) {
			size_text(a, sizeof(a), g->retained[j]);
			fprintf(out, "%s %s", j ? " →" : "", a);
		}
		fputs("<br><code>", out);
		lsc__xml_escape(out, g->path, 2000);
		fputs("</code></p>\n", out);
	}
	fputs("<table><tr><th>pid</th><th>snapshot</th><th>objects</th><th>size</th>"
	      "<th>largest retainers (retained size, path from a GC root)</th></tr>\n",
	      out);
	for (i = 0; i < m->n; i++) {
		const struct lsc_snap_summary_file *f = &m->f[i];

		fprintf(out, "<tr><td>%u</td><td>", f->pid);
		lsc__xml_escape(out, f->name, 300);
		fputs(" (", out);
		lsc__xml_escape(out, f->trigger, 40);
		fputs(")</td>", out);
		if (!f->read) {
			fputs("<td colspan=\"3\">cannot be read: ", out);
			lsc__xml_escape(out, f->error, 300);
			fputs("</td></tr>\n", out);
			continue;
		}
		size_text(a, sizeof(a), f->self);
		fprintf(out, "<td>%u</td><td>%s</td><td>", f->objects, a);
		for (k = 0; k < f->ntop; k++) {
			size_text(a, sizeof(a), f->top[k].retained);
			fprintf(out, "%s%s <b>", k ? "<br>" : "", a);
			lsc__xml_escape(out, f->top[k].name, 160);
			fputs("</b> <code>", out);
			lsc__xml_escape(out, f->top[k].path, 1024);
			fputs("</code>", out);
		}
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
	return ferror(out) ? -EIO : 0;
}
