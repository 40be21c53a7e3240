/*
 * folded.c — flame trees as folded stacks ("root;...;leaf count", one line per distinct stack,
 * children in name order): flamegraph.pl's input, and the easiest format to diff or grep.
 */
#include "lsc_render.h"
#include "render_internal.h"

#include <errno.h>
#include <stdlib.h>

/* Walks every node with self weight, root to leaf path in hand; calls fn for each. */
int lsc__flame_walk(const struct lsc_flame *f,
		    int (*fn)(void *ctx, const uint32_t *path, size_t depth, uint64_t self),
		    void *ctx)
{
	size_t n, depth = 0, cap = 256;
	const struct lsc_flame_node *nodes = lsc_flame_nodes(f, &n);
	uint32_t *path = malloc(cap * sizeof(*path)), node;
	int err = 0;

	if (!path)
		return -ENOMEM;
	node = nodes[0].first_child;
	while (node && !err) {
		if (depth == cap) {
			uint32_t *np = realloc(path, (cap *= 2) * sizeof(*np));

			if (!np) {
				err = -ENOMEM;
				break;
			}
			path = np;
		}
		path[depth++] = node;
		if (nodes[node].self)
			err = fn(ctx, path, depth, nodes[node].self);
		if (nodes[node].first_child) {
			node = nodes[node].first_child;
			continue;
		}
		/* Up until a node has a next sibling. */
		while (depth && !nodes[path[depth - 1]].next_sibling)
			depth--;
		if (!depth)
			break;
		node = nodes[path[depth - 1]].next_sibling;
		depth--;
	}
	free(path);
	return err;
}

struct folded_ctx {
	FILE *out;
	const struct lsc_flame *f;
};

static int folded_line(void *ctx, const uint32_t *path, size_t depth, uint64_t self)
{
	struct folded_ctx *c = ctx;
	size_t n, i;
	const struct lsc_flame_node *nodes = lsc_flame_nodes(c->f, &n);

	for (i = 0; i < depth; i++) {
		if (i)
			fputc(';', c->out);
		fputs(lsc_flame_name(c->f, nodes[path[i]].name), c->out);
	}
	return fprintf(c->out, " %llu\n", (unsigned long long)self) < 0 ? -EIO : 0;
}

int lsc_render_folded(FILE *out, const struct lsc_flame *f)
{
	struct folded_ctx c = {out, f};

	return lsc__flame_walk(f, folded_line, &c);
}
