/*
 * heapsnap_summary.c — the heap snapshots a run had Node write (`run --heap-snapshot-on`, the
 * recording's HeapSnapshotFile records), read from beside the recording and summed up for the
 * report: each one's largest retainers with their paths, and for a process with several, what
 * kept growing from one to the next (lsc_snap_compare). One snapshot is in memory at a time;
 * the earlier ones of a process are kept as their ids (lsc_snap_ids).
 */
#include "lsc_heapsnap.h"
#include "lsc_error.h"
#include "lsc_recording.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_pid_then_time(const void *a, const void *b)
{
	const Loopscope__HeapSnapshotFile *x = *(const Loopscope__HeapSnapshotFile *const *)a;
	const Loopscope__HeapSnapshotFile *y = *(const Loopscope__HeapSnapshotFile *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->unix_ns != y->unix_ns)
		return x->unix_ns < y->unix_ns ? -1 : 1;
	return strcmp(x->path ? x->path : "", y->path ? y->path : "");
}

/* Reads and sums up one snapshot into f; the snapshot, analysed, or NULL (f says why). */
static struct lsc_snap *one_file(const char *dir, const Loopscope__HeapSnapshotFile *file,
				 struct lsc_snap_summary_file *f)
{
	struct lsc_snap *s = NULL;
	char path[4096], err[300] = "";
	uint32_t top[LSC_SNAP_SUMMARY_TOP];
	size_t k;
	int e;

	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", file->path ? file->path : "");
	snprintf(f->trigger, sizeof(f->trigger), "%s", file->trigger ? file->trigger : "");
	f->pid = file->pid;
	f->bytes = file->bytes;
	f->unix_ns = file->unix_ns;
	if (strchr(f->name, '/') || !f->name[0]) { /* only a name beside the recording */
		snprintf(f->error, sizeof(f->error), "not a file name beside the recording");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, f->name);
	e = lsc_snap_read(path, &s, err, sizeof(err));
	if (e) {
		snprintf(f->error, sizeof(f->error), "%s", err[0] ? err : lsc_strerror(e));
		return NULL;
	}
	if (lsc_snap_analyse(s)) {
		snprintf(f->error, sizeof(f->error), "out of memory analysing it");
		lsc_snap_free(s);
		return NULL;
	}
	f->read = 1;
	f->objects = s->nnodes;
	f->self = s->total_self;
	f->ntop = lsc_snap_top_retainers(s, top, LSC_SNAP_SUMMARY_TOP);
	for (k = 0; k < f->ntop; k++) {
		lsc_snap_node_name(s, top[k], f->top[k].name, sizeof(f->top[k].name));
		lsc_snap_path(s, top[k], f->top[k].path, sizeof(f->top[k].path));
		f->top[k].retained = s->retained[top[k]];
		f->top[k].id = s->id[top[k]];
	}
	return s;
}

static int is_exit(const Loopscope__HeapSnapshotFile *f)
{
	return f->trigger && !strcmp(f->trigger, "exit");
}

/* Whether f is one of the compared snapshots of its process (running: how many of them were
 * taken while it ran). */
static int compared(const Loopscope__HeapSnapshotFile *f, size_t running)
{
	return running < 2 || !is_exit(f);
}

/* What grew from each of the compared snapshots to the next (ids: the earlier ones; s: the
 * last), into out. */
static void growth(const struct lsc_snap_ids *ids, size_t nids, const struct lsc_snap *s,
		   uint32_t pid, struct lsc_snap_summary *out)
{
	struct lsc_snap_compared *c = calloc(1, sizeof(*c));
	size_t k;

	if (c && !lsc_snap_compare(ids, nids, s, c))
		for (k = 0; k < c->ngrowing && out->ngrowing < LSC_SNAP_SUMMARY_GROWING; k++) {
			struct lsc_snap_summary_growth *g = &out->growing[out->ngrowing++];

			g->pid = pid;
			g->n = c->n;
			memcpy(g->retained, c->growing[k].retained, sizeof(g->retained));
			lsc_snap_node_name(s, c->growing[k].node, g->name, sizeof(g->name));
			lsc_snap_path(s, c->growing[k].node, g->path, sizeof(g->path));
		}
	free(c);
}

/*
 * The snapshots of one process (files[0..n), by time): each summed up; the ones taken while it
 * ran compared (a snapshot at exit is taken once the program let go of what it held, which is
 * no part of a growth: it is compared only when there is one other), the exit ones after.
 */
static void one_process(const char *dir, const Loopscope__HeapSnapshotFile *const *files, size_t n,
			struct lsc_snap_summary *out)
{
	struct lsc_snap_ids ids[LSC_SNAP_MAX] = {{0}};
	size_t i, k, nids = 0, running = 0, first = out->n;
	int pass;

	for (i = 0; i < n; i++)
		running += !is_exit(files[i]);
	for (pass = 0; pass < 2; pass++) {
		size_t m = 0, last = n;

		/* pass 0: the compared ones; pass 1: the others */
		for (i = 0; i < n; i++)
			if (compared(files[i], running) == !pass)
				last = i, m++;
		for (i = 0; i < n && out->n < LSC_SNAP_SUMMARY_FILES; i++) {
			struct lsc_snap *s;

			if (compared(files[i], running) != !pass)
				continue;
			s = one_file(dir, files[i], &out->f[out->n++]);
			if (!s)
				continue;
			if (!pass && i != last && nids < LSC_SNAP_MAX - 1 &&
			    !lsc_snap_ids(s, &ids[nids]))
				nids++;
			if (!pass && i == last && nids >= 1 && m >= 2)
				growth(ids, nids, s, files[i]->pid, out);
			lsc_snap_free(s);
		}
	}
	for (k = 0; k < nids; k++)
		lsc_snap_ids_free(&ids[k]);
	/* listed in time order */
	for (i = first + 1; i < out->n; i++)
		for (k = i; k > first && out->f[k].unix_ns < out->f[k - 1].unix_ns; k--) {
			struct lsc_snap_summary_file t = out->f[k];

			out->f[k] = out->f[k - 1];
			out->f[k - 1] = t;
		}
}

int lsc_snap_summarise(const char *dir, const Loopscope__HeapSnapshotFile *const *files, size_t n,
		       struct lsc_snap_summary *out)
{
	const Loopscope__HeapSnapshotFile **v;
	size_t i, j;

	memset(out, 0, sizeof(*out));
	if (!n)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, files, n * sizeof(*v));
	qsort(v, n, sizeof(*v), by_pid_then_time);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j]->pid == v[i]->pid; j++)
			;
		/* the last LSC_SNAP_MAX of a process (the comparison takes that many) */
		one_process(dir, v + (j - i > LSC_SNAP_MAX ? j - LSC_SNAP_MAX : i),
			    j - i > LSC_SNAP_MAX ? LSC_SNAP_MAX : j - i, out);
	}
	free(v);
	return 0;
}
