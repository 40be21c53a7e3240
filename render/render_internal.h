/* render_internal.h — what the renderers share: the depth-first walk over stacks with weight. */
#ifndef LSC_RENDER_INTERNAL_H
#define LSC_RENDER_INTERNAL_H

#include "lsc_flame.h"

/* Calls fn for every node with self weight, with its root-first path of node ids; stops at the
 * first non-zero return and returns it. Children are visited in the tree's (name) order. */
int lsc__flame_walk(const struct lsc_flame *f,
		    int (*fn)(void *ctx, const uint32_t *path, size_t depth, uint64_t self),
		    void *ctx);

#endif
