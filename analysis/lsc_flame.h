/*
 * lsc_flame.h — the call tree every profile output is drawn from: a trie of frames with self and
 * total weights, frame names interned once. Built from a recording's samples of one kind, or from
 * a folded-stack file ("root;...;leaf count" per line, flamegraph.pl's input); consumed by the
 * SVG, folded, pprof and speedscope renderers. Pure computation: no printing.
 */
#ifndef LSC_FLAME_H
#define LSC_FLAME_H

#include <stddef.h>
#include <stdint.h>

#include "lsc_recording.h"
#include "lsc_symbols.h"

/* How a frame is coloured: what kind of code it is. */
enum lsc_code_kind {
	LSC_CODE_NATIVE = 0,  /* the program's own native code */
	LSC_CODE_JIT = 1,     /* JIT / JavaScript */
	LSC_CODE_RUNTIME = 2, /* libuv, refloop, node, v8, libc */
	LSC_CODE_KERNEL = 3,
};

struct lsc_flame_node {
	uint32_t name;	 /* interned frame id */
	uint32_t parent; /* node 0 is the root and its own parent */
	uint32_t first_child;
	uint32_t next_sibling; /* 0: none (the root is never a child) */
	uint32_t nchildren;
	uint64_t self;
	uint64_t total;
};

struct lsc_flame;

int lsc_flame_new(struct lsc_flame **out);
void lsc_flame_free(struct lsc_flame *f);
/* Interns a frame; returns its id (>= 1) or a negative errno. */
int64_t lsc_flame_intern(struct lsc_flame *f, const char *name, size_t len, int kind,
			 const char *file, unsigned line);
/* Adds value at the path names[0] (outermost) .. names[n-1] (leaf). -ERANGE when the tree's
 * total would pass 2^64 - 1 (nothing is added): no total in a tree ever wraps. */
int lsc_flame_add(struct lsc_flame *f, const uint32_t *names, size_t n, uint64_t value);
/* Computes totals and orders children by name (flamegraph.pl's merge order). Call once after
 * the last add, before reading nodes. */
void lsc_flame_finish(struct lsc_flame *f);

const struct lsc_flame_node *lsc_flame_nodes(const struct lsc_flame *f, size_t *n);
const char *lsc_flame_name(const struct lsc_flame *f, uint32_t id);
int lsc_flame_kind(const struct lsc_flame *f, uint32_t id);
const char *lsc_flame_file(const struct lsc_flame *f, uint32_t id, unsigned *line);
size_t lsc_flame_nnames(const struct lsc_flame *f);
uint64_t lsc_flame_total(const struct lsc_flame *f);

/* Folded stacks from a file (or "-" for stdin). Lines that are not "stack count" fail the read
 * with LSC_EBADFOLDED and *bad_line set, so a wrong input is named, not half-drawn; so does the
 * line whose count takes the total past 2^64 - 1. */
int lsc_flame_from_folded(const char *path, struct lsc_flame **out, uint64_t *bad_line);

/* The kind of code a frame name suggests (JIT names, runtime prefixes, flamegraph.pl's _[k] /
 * _[j] annotations). *len is shortened when an annotation is stripped. */
int lsc_flame_guess_kind(const char *name, size_t *len);

/* For each node of a (finished), the node of b (finished) at the same path of frame names, or 0
 * (differential flame graphs). match holds as many entries as a has nodes. */
int lsc_flame_match(const struct lsc_flame *a, const struct lsc_flame *b, uint32_t *match);

/* Samples of one kind from a recording. tid 0: all threads. sym may be NULL; it is asked only for
 * addresses the recording's own symbols do not cover. -ERANGE when the values add up past
 * 2^64 - 1 (a corrupt recording). */
int lsc_flame_from_recording(const struct lsc_recording *r, int sample_kind, uint32_t tid,
			     struct lsc_symbolizer *sym, struct lsc_flame **out);

/* One frame of a recorded stack as a name, the way flame graphs and reports show it. Its kind
 * says whose code it is: native frames in a shared library (libc) or in a runtime's source tree
 * (refloop's runtime/, libuv, node's deps) count as runtime, so that "the program's own code" is
 * what is left: JIT frames and the program's native functions. */
struct lsc_named_frame {
	char name[512];
	const char *file; /* borrowed from the recording or symbolizer; may be NULL */
	unsigned line;
	int kind;
	const char *module; /* path of the mapped file, borrowed; NULL for JIT/kernel/unknown */
};
void lsc_frame_name(const struct lsc_recording *r, struct lsc_symbolizer *sym, uint64_t addr,
		    int is_return, int kernel, struct lsc_named_frame *out);

#endif
