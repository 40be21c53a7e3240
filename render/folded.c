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

/* ------------------------------------------------------------------ two columns (diff) */

struct diff_ctx {
	FILE *out;
	const struct lsc_flame *f, *other;
	const uint32_t *match; /* f's nodes -> other's */
	int f_is_base;
};

static int diff_line(void *ctx, const uint32_t *path, size_t depth, uint64_t self)
{
	struct diff_ctx *c = ctx;
	size_t n, no, i;
	const struct lsc_flame_node *nodes = lsc_flame_nodes(c->f, &n),
				    *other = lsc_flame_nodes(c->other, &no);
	uint32_t m = c->match[path[depth - 1]];
	uint64_t theirs = m ? other[m].self : 0;

	/* A stack both trees have is printed once, from the new tree's walk. */
	if (c->f_is_base && theirs)
		return 0;
	for (i = 0; i < depth; i++) {
		if (i)
			fputc(';', c->out);
		fputs(lsc_flame_name(c->f, nodes[path[i]].name), c->out);
	}
	return fprintf(c->out, " %llu %llu\n", (unsigned long long)(c->f_is_base ? self : theirs),
		       (unsigned long long)(c->f_is_base ? 0 : self)) < 0
		       ? -EIO
		       : 0;
}

int lsc_render_folded_diff(FILE *out, const struct lsc_flame *base, const struct lsc_flame *cur)
{
	size_t nb, nc;
	uint32_t *bc, *cb;
	struct diff_ctx c;
	int err;

	lsc_flame_nodes(base, &nb);
	lsc_flame_nodes(cur, &nc);
	bc = calloc(nb, sizeof(*bc));
	cb = calloc(nc, sizeof(*cb));
	if (!bc || !cb) {
		free(bc);
		free(cb);
		return -ENOMEM;
	}
	lsc_flame_match(base, cur, bc);
	lsc_flame_match(cur, base, cb);
	c = (struct diff_ctx){out, cur, base, cb, 0};
	err = lsc__flame_walk(cur, diff_line, &c);
	if (!err) {
		c = (struct diff_ctx){out, base, cur, bc, 1};
		err = lsc__flame_walk(base, diff_line, &c);
	}
	free(bc);
	free(cb);
	return err;
}
