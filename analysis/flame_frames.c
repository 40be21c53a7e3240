/*
 * flame_frames.c — a recording's stacks into the call tree (lsc_flame.h): every frame named and
 * given its kind in one place (lsc_frame_name, for colours and for the report's owner frame
 * alike), samples of one kind and thread added by stack, and two trees matched by path of names
 * for the differential view. Uses only the tree's public functions (flame.c).
 */
#include "lsc_flame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int is_library(const char *module)
{
	const char *b = module ? strrchr(module, '/') : NULL;

	b = b ? b + 1 : module;
	return b && (strncmp(b, "lib", 3) == 0 || strncmp(b, "ld-", 3) == 0) && strstr(b, ".so");
}

/* Runtime source trees whose static functions carry no prefix: refloop's runtime/, libuv, node's
 * deps. Their frames are runtime code even when their names say nothing. */
static int is_runtime_file(const char *file)
{
	return file && (strstr(file, "/runtime/") || strstr(file, "/src/unix/") ||
			strstr(file, "/deps/uv/") || strstr(file, "/deps/v8/"));
}

static void classify(struct lsc_named_frame *out)
{
	if (out->kind == LSC_CODE_NATIVE && (is_library(out->module) || is_runtime_file(out->file)))
		out->kind = LSC_CODE_RUNTIME;
	/* Node's own JavaScript (its built-in modules: "node:fs", or "JS:~readSync node:fs:708:18"
	 * as a perf map names it) is runtime code too. */
	if (out->kind == LSC_CODE_JIT &&
	    (strstr(out->name, " node:") || (out->file && !strncmp(out->file, "node:", 5))))
		out->kind = LSC_CODE_RUNTIME;
}

void lsc_frame_name(const struct lsc_recording *r, struct lsc_symbolizer *sym, uint64_t addr,
		    int is_return, int kernel, struct lsc_named_frame *out)
{
	const Loopscope__Symbol *s = lsc_recording_symbol(r, addr);
	const Loopscope__Mapping *m;
	struct lsc_frame fr;
	size_t len;

	memset(out, 0, sizeof(*out));
	m = kernel ? NULL : lsc_recording_mapping(r, addr);
	out->module = m && m->path && *m->path ? m->path : NULL;
	if (s && s->function && *s->function) {
		snprintf(out->name, sizeof(out->name), "%s", s->function);
		out->file = s->file && *s->file ? s->file : NULL;
		out->line = s->line;
		len = strlen(out->name);
		out->kind = s->kernel ? LSC_CODE_KERNEL
			    : s->jit  ? LSC_CODE_JIT
				      : lsc_flame_guess_kind(out->name, &len);
		classify(out);
		return;
	}
	if (sym &&
	    lsc_symbolizer_lookup(sym, addr - (is_return && !kernel ? 1 : 0), kernel, &fr) == 0) {
		snprintf(out->name, sizeof(out->name), "%s", fr.function);
		out->file = fr.file;
		if (!out->module)
			out->module = fr.module;
		out->line = fr.line;
		len = strlen(out->name);
		out->kind = kernel		       ? LSC_CODE_KERNEL
			    : fr.kind == LSC_FRAME_JIT ? LSC_CODE_JIT
						       : lsc_flame_guess_kind(out->name, &len);
		classify(out);
		return;
	}
	if (m && m->path)
		snprintf(out->name, sizeof(out->name), "%s+0x%llx", base_name(m->path),
			 (unsigned long long)(addr - m->start + m->file_offset));
	else
		snprintf(out->name, sizeof(out->name), "%s0x%llx", kernel ? "[kernel] " : "",
			 (unsigned long long)addr);
	out->kind = kernel ? LSC_CODE_KERNEL : LSC_CODE_NATIVE;
	classify(out);
}

/* Adds one recorded stack (leaf first in the recording, root first in the tree). */
static int add_recorded_stack(struct lsc_flame *f, const struct lsc_recording *r,
			      struct lsc_symbolizer *sym, uint32_t stack_id, uint64_t value,
			      uint32_t **path, size_t *cap)
{
	const Loopscope__Stack *st = lsc_recording_stack(r, stack_id);
	size_t n = st ? st->n_frames : 0, d;

	if (n + 1 > *cap) {
		uint32_t *np = realloc(*path, (*cap = n + 64) * sizeof(*np));

		if (!np)
			return -ENOMEM;
		*path = np;
	}
	if (n == 0) {
		int64_t id = lsc_flame_intern(f, "[no stack]", 10, LSC_CODE_NATIVE, NULL, 0);

		if (id < 0)
			return (int)id;
		(*path)[0] = (uint32_t)id;
		n = 1;
	}
	for (d = 0; st && d < st->n_frames; d++) {
		struct lsc_named_frame nf;
		int64_t id;

		lsc_frame_name(r, sym, st->frames[d], d > 0, d < st->kernel_frames, &nf);
		id = lsc_flame_intern(f, nf.name, strlen(nf.name), nf.kind, nf.file, nf.line);
		if (id < 0)
			return (int)id;
		(*path)[st->n_frames - 1 - d] = (uint32_t)id;
	}
	return lsc_flame_add(f, *path, n, value);
}

int lsc_flame_from_recording(const struct lsc_recording *r, int sample_kind, uint32_t tid,
			     struct lsc_symbolizer *sym, struct lsc_flame **out)
{
	struct lsc_flame *f;
	uint32_t *path = NULL;
	size_t cap = 0, i, k;
	int err, any = 0, any_events = 0;

	*out = NULL;
	err = lsc_flame_new(&f);
	if (!err && lsc_recording_kind_is_snapshot(r, sample_kind)) {
		/* Heap kinds: the last complete snapshot, not a sum over them. */
		struct lsc_heap_values hv;

		err = lsc_recording_heap_snapshot(r, sample_kind, 0, &hv);
		for (k = 0; !err && k < hv.n; k++) {
			any = 1;
			err = add_recorded_stack(f, r, sym, hv.stack_id[k], hv.value[k], &path,
						 &cap);
		}
		if (err != LSC_ENODATA)
			lsc_heap_values_free(&hv);
		if (err == LSC_ENODATA)
			err = 0;
	}
	for (i = 0; !err && i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if ((int)s->kind != sample_kind || s->snapshot)
			continue;
		for (k = 0; !err && k < s->n_stack_id; k++) {
			if (tid && s->n_tid && s->tid[k] != tid)
				continue;
			any = 1;
			err = add_recorded_stack(f, r, sym, s->stack_id[k], s->value[k], &path,
						 &cap);
		}
	}
	/* Blocking time without samples of its own: the blocking events, weighted by duration. */
	for (i = 0;
	     !err && !any && sample_kind == LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS && i < r->nevents;
	     i++) {
		const Loopscope__Event *e = r->events[i];

		if (e->body_case != LOOPSCOPE__EVENT__BODY_BLOCKING ||
		    (tid && e->blocking->tid != tid))
			continue;
		err = add_recorded_stack(f, r, sym, e->blocking->stack_id, e->blocking->duration_ns,
					 &path, &cap);
		any_events = 1;
	}
	free(path);
	if (!err && !any && !any_events)
		err = LSC_ENODATA;
	if (err) {
		lsc_flame_free(f);
		return err;
	}
	lsc_flame_finish(f);
	*out = f;
	return 0;
}

/* The child of node p in f named like name, or 0. */
static uint32_t child_named(const struct lsc_flame *f, const struct lsc_flame_node *nodes,
			    uint32_t p, const char *name)
{
	uint32_t c;

	for (c = nodes[p].first_child; c; c = nodes[c].next_sibling)
		if (!strcmp(lsc_flame_name(f, nodes[c].name), name))
			return c;
	return 0;
}

int lsc_flame_match(const struct lsc_flame *a, const struct lsc_flame *b, uint32_t *match)
{
	size_t na, nb, i;
	const struct lsc_flame_node *A = lsc_flame_nodes(a, &na), *B = lsc_flame_nodes(b, &nb);

	/* Parents come before their children in the node array: match in order. */
	match[0] = 0;
	for (i = 1; i < na; i++) {
		uint32_t p = match[A[i].parent];

		match[i] =
			p || !A[i].parent ? child_named(b, B, p, lsc_flame_name(a, A[i].name)) : 0;
		if (A[i].parent && !p)
			match[i] = 0;
	}
	return 0;
}
