/*
 * heapsnap_dom.c — what holds the memory of a heap snapshot (lsc_heapsnap.h): the dominator tree
 * by Cooper, Harvey and Kennedy's iteration ("A Simple, Fast Dominance Algorithm", 2001) over a
 * post-order of the nodes reachable from the root, retained sizes summed up that tree, the
 * distance of each node from the root, aggregates by class and the largest retainers with their
 * shortest retainer path.
 *
 * The choices DevTools makes, made the same way (docs/heap.md): weak references keep nothing
 * alive, so they are not edges of the graph here; a shortcut reference counts only from the
 * root (it marks the user's global objects); a node no strong path reaches is dominated by the
 * root. A class's retained size counts an object only when no object of the same class
 * dominates it (a Map inside a Map is not counted twice).
 */
#include "lsc_flame.h"
#include "lsc_heapsnap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNDEF UINT32_MAX

/* Whether e (from `from`) keeps its target alive, for the dominators (DevTools' rules): not a
 * weak reference, not to itself; from the root anything, shortcuts included (they mark the
 * user's global objects); from elsewhere no shortcut, nothing from the engine's objects into
 * the program's (a debugger's or the engine's handle on a program's object does not own it),
 * and not the WeakMap table's half of a key-value pair (the key's half is the one kept). */
static int essential(const struct lsc_snap *s, uint32_t from, uint32_t e)
{
	int t = s->etype[e];
	uint32_t to = s->eto[e];

	if (t == s->t.weak || to == from)
		return 0;
	if (!from)
		return 1;
	if (t == s->t.shortcut || (s->page[to] && !s->page[from]))
		return 0;
	if (t == s->t.internal) {
		const char *n = strstr(lsc_snap_string(s, s->ename[e]), "in WeakMap (table @");

		if (n && strtoul(n + 19, NULL, 10) == s->id[from])
			return 0;
	}
	return 1;
}

/* The program's objects: everything reachable without a weak reference from the user roots,
 * the targets of the root's shortcut references (and (Document DOM trees) in a browser's). */
static int page_objects(struct lsc_snap *s)
{
	uint32_t *todo = malloc((size_t)s->nnodes * sizeof(*todo)), n = 0, e;

	s->page = calloc(s->nnodes, 1);
	if (!todo || !s->page) {
		free(todo);
		return -ENOMEM;
	}
	for (e = s->first_edge[0]; e < s->first_edge[1]; e++) {
		uint32_t v = s->eto[e];
		int t = s->etype[e];

		if (t == s->t.shortcut ||
		    (t == s->t.element && s->type[v] == s->t.synthetic &&
		     !strcmp(lsc_snap_string(s, s->name[v]), "(Document DOM trees)")))
			if (!s->page[v]) {
				s->page[v] = 2; /* a user root */
				todo[n++] = v;
			}
	}
	while (n) {
		uint32_t v = todo[--n];

		for (e = s->first_edge[v]; e < s->first_edge[v + 1]; e++)
			if (!s->page[s->eto[e]] && s->etype[e] != s->t.weak) {
				s->page[s->eto[e]] = 1;
				todo[n++] = s->eto[e];
			}
	}
	free(todo);
	return 0;
}

/* The retainers of every node, by their essential edges (CSR): the edge and its source. Two
 * passes over the nodes rather than an array of every edge's source (4 bytes an edge). */
static int retainers(struct lsc_snap *s)
{
	uint32_t i, e;

	s->ret_first = calloc((size_t)s->nnodes + 2, sizeof(*s->ret_first));
	if (!s->ret_first)
		return -ENOMEM;
	for (i = 0; i < s->nnodes; i++)
		for (e = s->first_edge[i]; e < s->first_edge[i + 1]; e++)
			if (essential(s, i, e))
				s->ret_first[s->eto[e] + 2]++;
	for (i = 0; i < s->nnodes; i++)
		s->ret_first[i + 2] += s->ret_first[i + 1];
	s->ret_edge = malloc(((size_t)s->ret_first[s->nnodes + 1] + 1) * sizeof(*s->ret_edge));
	s->ret_from = malloc(((size_t)s->ret_first[s->nnodes + 1] + 1) * sizeof(*s->ret_from));
	if (!s->ret_edge || !s->ret_from)
		return -ENOMEM;
	for (i = 0; i < s->nnodes; i++)
		for (e = s->first_edge[i]; e < s->first_edge[i + 1]; e++)
			if (essential(s, i, e)) {
				uint32_t k = s->ret_first[s->eto[e] + 1]++;

				s->ret_edge[k] = e;
				s->ret_from[k] = i;
			}
	return 0;
}

/* The nodes in post-order of a depth-first walk from the root over essential edges, the ones
 * it does not reach before the root (which is last); post[] maps a node to its place. */
static int post_order(const struct lsc_snap *s, uint32_t *order, uint32_t *post, uint32_t *reached)
{
	uint32_t *stack = malloc((size_t)s->nnodes * sizeof(*stack));
	uint32_t *next = malloc((size_t)s->nnodes * sizeof(*next));
	uint32_t sp = 0, n = 0, i;

	if (!stack || !next) {
		free(stack);
		free(next);
		return -ENOMEM;
	}
	for (i = 0; i < s->nnodes; i++)
		post[i] = UNDEF;
	stack[sp++] = 0;
	next[0] = s->first_edge[0];
	post[0] = UNDEF - 1; /* on the stack */
	while (sp) {
		uint32_t v = stack[sp - 1];

		if (next[v] < s->first_edge[v + 1]) {
			uint32_t e = next[v]++, w = s->eto[e];

			if (post[w] == UNDEF && essential(s, v, e)) {
				post[w] = UNDEF - 1;
				next[w] = s->first_edge[w];
				stack[sp++] = w;
			}
			continue;
		}
		sp--;
		order[n++] = v;
	}
	*reached = n;
	/* the unreached, before the root */
	n--;
	for (i = 0; i < s->nnodes; i++)
		if (post[i] == UNDEF)
			order[n++] = i;
	order[n++] = 0;
	for (i = 0; i < n; i++)
		post[order[i]] = i;
	free(stack);
	free(next);
	return 0;
}

/* The arrays are made and let go in an order that keeps the peak low: the post-order's three
 * (12 bytes a node) are gone before the dominator tree's children and the distances are made. */
int lsc_snap_analyse(struct lsc_snap *s)
{
	uint32_t *order = malloc((size_t)s->nnodes * sizeof(*order));
	uint32_t *post = malloc((size_t)s->nnodes * sizeof(*post));
	uint32_t *dp = NULL; /* dominators, in post indices */
	uint32_t *queue = NULL, root, reached, i, p, head = 0, tail = 0;
	int err = -ENOMEM, changed = 1;

	if (!order || !post || page_objects(s) || retainers(s) ||
	    post_order(s, order, post, &reached))
		goto out;
	dp = malloc((size_t)s->nnodes * sizeof(*dp));
	if (!dp)
		goto out;
	root = s->nnodes - 1; /* the root's post index */
	for (p = 0; p < s->nnodes; p++)
		dp[p] = p >= reached - 1 ? root : UNDEF; /* the unreached: the root's */
	while (changed) {
		changed = 0;
		for (p = reached - 1; p-- > 0;) {
			uint32_t v = order[p], best = UNDEF, k;

			for (k = s->ret_first[v]; k < s->ret_first[v + 1]; k++) {
				uint32_t u = post[s->ret_from[k]];

				if (dp[u] == UNDEF)
					continue;
				if (best == UNDEF) {
					best = u;
					continue;
				}
				while (u !=
				       best) { /* the two fingers meet at the common dominator */
					while (u < best)
						u = dp[u];
					while (best < u)
						best = dp[best];
				}
			}
			if (best == UNDEF)
				best = root;
			if (dp[p] != best) {
				dp[p] = best;
				changed = 1;
			}
		}
	}
	s->dom = malloc((size_t)s->nnodes * sizeof(*s->dom));
	s->retained = malloc((size_t)s->nnodes * sizeof(*s->retained));
	if (!s->dom || !s->retained)
		goto out;
	for (p = 0; p < s->nnodes; p++) {
		s->dom[order[p]] = order[dp[p]];
		s->retained[order[p]] = s->self[order[p]];
	}
	/* a dominator comes after all it dominates in the post-order */
	for (p = 0; p + 1 < s->nnodes; p++)
		s->retained[s->dom[order[p]]] += s->retained[order[p]];
	free(order);
	free(post);
	free(dp);
	order = post = dp = NULL;
	/* the dominator tree's children (CSR) */
	s->kid_first = calloc((size_t)s->nnodes + 2, sizeof(*s->kid_first));
	s->kid = malloc((size_t)s->nnodes * sizeof(*s->kid));
	if (!s->kid_first || !s->kid)
		goto out;
	for (i = 1; i < s->nnodes; i++)
		s->kid_first[s->dom[i] + 2]++;
	for (i = 0; i < s->nnodes; i++)
		s->kid_first[i + 2] += s->kid_first[i + 1];
	for (i = 1; i < s->nnodes; i++)
		s->kid[s->kid_first[s->dom[i] + 1]++] = i;
	/* distances: breadth first over the essential edges */
	s->dist = malloc((size_t)s->nnodes * sizeof(*s->dist));
	queue = malloc((size_t)s->nnodes * sizeof(*queue));
	if (!s->dist || !queue)
		goto out;
	for (i = 0; i < s->nnodes; i++)
		s->dist[i] = UNDEF;
	s->dist[0] = 0;
	queue[tail++] = 0;
	while (head < tail) {
		uint32_t v = queue[head++], e;

		for (e = s->first_edge[v]; e < s->first_edge[v + 1]; e++) {
			uint32_t w = s->eto[e];

			if (s->dist[w] == UNDEF && essential(s, v, e)) {
				s->dist[w] = s->dist[v] + 1;
				queue[tail++] = w;
			}
		}
	}
	err = 0;
out:
	free(order);
	free(post);
	free(dp);
	free(queue);
	return err;
}

/* ------------------------------------------------------------------ names */

static int is_string(const struct lsc_snap *s, int t)
{
	return t == s->t.string || t == s->t.concat || t == s->t.sliced;
}

void lsc_snap_node_name(const struct lsc_snap *s, uint32_t i, char *buf, size_t cap)
{
	const char *n = lsc_snap_string(s, s->name[i]);
	int t = s->type[i];

	if (t == s->t.closure)
		snprintf(buf, cap, "%s()", *n ? n : "(anonymous)");
	else if (is_string(s, t))
		snprintf(buf, cap, "\"%.40s%s\"", n, strlen(n) > 40 ? "..." : "");
	else if (*n)
		snprintf(buf, cap, "%.120s", n);
	else
		lsc_snap_class(s, i, buf, cap);
}

void lsc_snap_class(const struct lsc_snap *s, uint32_t i, char *buf, size_t cap)
{
	int t = s->type[i];

	if ((t == s->t.object || t == s->t.native || t == s->t.synthetic) &&
	    *lsc_snap_string(s, s->name[i]))
		snprintf(buf, cap, "%.120s", lsc_snap_string(s, s->name[i]));
	else if (!i)
		snprintf(buf, cap, "(root)");
	else if (t == s->t.hidden)
		snprintf(buf, cap, "(system)");
	else if (t == s->t.code)
		snprintf(buf, cap, "(compiled code)");
	else if (is_string(s, t))
		snprintf(buf, cap, "(string)");
	else if (t < (int)s->ntypes)
		snprintf(buf, cap, "(%s)", s->type_names[t]);
	else
		snprintf(buf, cap, "(?)");
}

/* How edge e is named along a path: ".key", "[3]", "cache (closure variable)", ... */
static void edge_label(const struct lsc_snap *s, uint32_t e, char *buf, size_t cap)
{
	int t = s->etype[e];
	const char *n = lsc_snap_string(s, s->ename[e]);

	if (t == s->t.element || t == s->t.ehidden)
		snprintf(buf, cap, "[%u]", s->ename[e]);
	else if (t == s->t.property)
		snprintf(buf, cap, ".%.80s", n);
	else if (t == s->t.context)
		snprintf(buf, cap, "%.80s (closure variable)", n);
	else
		snprintf(buf, cap, "%.80s", n);
}

void lsc_snap_path(const struct lsc_snap *s, uint32_t i, char *buf, size_t cap)
{
	uint32_t nodes[64], edges[64], froms[64], n = 0, v = i, k;
	size_t used = 0;

	/* up from i: each time the retainer nearest the root */
	while (v && n < 64 && s->dist[v] != UNDEF) {
		uint32_t best = UNDEF, be = 0;

		for (k = s->ret_first[v]; k < s->ret_first[v + 1]; k++) {
			uint32_t e = s->ret_edge[k], u = s->ret_from[k];

			if (s->dist[u] < s->dist[v] &&
			    (best == UNDEF || s->dist[u] < s->dist[best])) {
				best = u;
				be = e;
			}
		}
		if (best == UNDEF)
			break;
		nodes[n] = v;
		froms[n] = best;
		edges[n++] = be;
		v = best;
	}
	buf[0] = 0;
	/* root first (the synthetic root left out): NAME -label-> NAME ... */
	for (k = n; k-- > 0 && used + 1 < cap;) {
		char name[160], label[128];
		uint32_t from = froms[k];

		if (n > 12 && k < n - 5 && k > 5) { /* the middle of a long path */
			if (k == n - 6)
				used += (size_t)snprintf(buf + used, cap - used, " -…->");
			continue;
		}
		lsc_snap_node_name(s, nodes[k], name, sizeof(name));
		if (k == n - 1) {
			char first[160];

			if (from)
				lsc_snap_node_name(s, from, first, sizeof(first));
			edge_label(s, edges[k], label, sizeof(label));
			used += from ? (size_t)snprintf(buf + used, cap - used, "%s -%s-> %s",
							first, label, name)
				     : (size_t)snprintf(buf + used, cap - used, "%s", name);
			continue;
		}
		edge_label(s, edges[k], label, sizeof(label));
		used += (size_t)snprintf(buf + used, cap - used, " -%s-> %s", label, name);
	}
	if (!n)
		lsc_snap_node_name(s, i, buf, cap);
}

/* ------------------------------------------------------------------ aggregates */

struct cls {
	char name[128];
	uint64_t count, self, retained;
	uint32_t active; /* objects of it on the dominator-tree path being walked */
};

static int by_retained(const void *a, const void *b)
{
	const struct lsc_snap_class *x = a, *y = b;

	return x->retained < y->retained ? 1 : x->retained > y->retained ? -1 : 0;
}

static uint32_t class_of(struct cls **v, size_t *n, size_t *cap, const char *name, uint32_t *slot,
			 size_t nslots)
{
	uint64_t h = 1469598103934665603ULL;
	const char *c;
	size_t k;

	for (c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ULL;
	for (k = h & (nslots - 1); slot[k] != UNDEF; k = (k + 1) & (nslots - 1))
		if (!strcmp((*v)[slot[k]].name, name))
			return slot[k];
	if (*n == *cap) {
		void *m = realloc(*v, (*cap = *cap ? *cap * 2 : 256) * sizeof(**v));

		if (!m)
			return UNDEF;
		*v = m;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	snprintf((*v)[*n].name, sizeof((*v)[*n].name), "%s", name);
	slot[k] = (uint32_t)*n;
	return (uint32_t)(*n)++;
}

int lsc_snap_classes(const struct lsc_snap *s, struct lsc_snap_class **out, size_t *nout)
{
	size_t n = 0, cap = 0, nslots = 1 << 16, k;
	struct cls *v = NULL;
	uint32_t *slot = malloc(nslots * sizeof(*slot)), *of = malloc(s->nnodes * sizeof(*of));
	uint32_t *stack = NULL, *iter = NULL, i, sp = 0;
	int err = -ENOMEM;

	*out = NULL;
	*nout = 0;
	if (!slot || !of)
		goto out;
	for (k = 0; k < nslots; k++)
		slot[k] = UNDEF;
	for (i = 0; i < s->nnodes; i++) {
		char name[128];

		lsc_snap_class(s, i, name, sizeof(name));
		if ((of[i] = class_of(&v, &n, &cap, name, slot, nslots)) == UNDEF)
			goto out;
		v[of[i]].count++;
		v[of[i]].self += s->self[i];
	}
	/* the dominator tree walked from the root with, per class, how many of its objects are
	 * above: an object counts only when none is */
	stack = malloc((size_t)s->nnodes * sizeof(*stack));
	iter = malloc((size_t)s->nnodes * sizeof(*iter));
	if (!stack || !iter)
		goto out;
	stack[sp++] = 0;
	iter[0] = s->kid_first[0];
	if (!v[of[0]].active++)
		v[of[0]].retained += s->retained[0];
	while (sp) {
		uint32_t u = stack[sp - 1];

		if (iter[u] < s->kid_first[u + 1]) {
			uint32_t w = s->kid[iter[u]++];

			if (!v[of[w]].active++)
				v[of[w]].retained += s->retained[w];
			iter[w] = s->kid_first[w];
			stack[sp++] = w;
			continue;
		}
		v[of[u]].active--;
		sp--;
	}
	*out = malloc((n ? n : 1) * sizeof(**out));
	if (!*out)
		goto out;
	for (k = 0; k < n; k++) {
		snprintf((*out)[k].name, sizeof((*out)[k].name), "%s", v[k].name);
		(*out)[k].count = v[k].count;
		(*out)[k].self = v[k].self;
		(*out)[k].retained = v[k].retained;
	}
	qsort(*out, n, sizeof(**out), by_retained);
	*nout = n;
	err = 0;
out:
	free(v);
	free(slot);
	free(of);
	free(stack);
	free(iter);
	return err;
}

static const struct lsc_snap *sort_snap;

static int by_node_retained(const void *a, const void *b)
{
	uint64_t x = sort_snap->retained[*(const uint32_t *)a],
		 y = sort_snap->retained[*(const uint32_t *)b];

	return x < y ? 1 : x > y ? -1 : 0;
}

/* An object a person made or can name: not the engine's (hidden, code, shapes, internal
 * arrays, the synthetic roots, system / ... objects), not a string or number. */
static int candidate(const struct lsc_snap *s, uint32_t i)
{
	int t = s->type[i];
	const char *n = lsc_snap_string(s, s->name[i]);

	if (t != s->t.object && t != s->t.closure && t != s->t.native && t != s->t.regexp)
		return 0;
	/* (a global object holds all of the program's: what it holds is listed instead) */
	return s->dist[i] != UNDEF && s->page[i] != 2 && strncmp(n, "system /", 8) && n[0] &&
	       n[0] != '(';
}

int lsc_snap_named(const struct lsc_snap *s, uint32_t i)
{
	return candidate(s, i);
}

/* What of v's retained size one object below it holds nearly all of (a closure's Map, a global's
 * array): that object, the collection a person would name, followed down as far as it goes. */
static uint32_t essence(const struct lsc_snap *s, uint32_t v)
{
	uint32_t last = v, steps;

	/* down the chain of the one child that keeps nearly all (contexts, a Map's table:
	 * not what a person names, but the way to it) */
	for (steps = 0; steps < 1000; steps++) {
		uint32_t k, best = 0;

		for (k = s->kid_first[v]; k < s->kid_first[v + 1]; k++)
			if (s->retained[s->kid[k]] * 10 >= s->retained[v] * 9)
				best = s->kid[k];
		if (!best)
			break;
		v = best;
		if (candidate(s, v))
			last = v;
	}
	return last;
}

size_t lsc_snap_top_retainers(const struct lsc_snap *s, uint32_t *out, size_t cap)
{
	uint32_t *idx = malloc((size_t)s->nnodes * sizeof(*idx)), i, k, n = 0;
	uint8_t *picked = calloc(s->nnodes, 1);
	size_t got = 0;

	if (!idx || !picked) {
		free(idx);
		free(picked);
		return 0;
	}
	for (i = 1; i < s->nnodes; i++)
		if (candidate(s, i))
			idx[n++] = i;
	sort_snap = s;
	qsort(idx, n, sizeof(*idx), by_node_retained);
	for (k = 0; k < n && got < cap; k++) {
		uint32_t v = essence(s, idx[k]), u, steps = 0;

		for (u = v; u && steps < 100000 && !picked[u]; u = s->dom[u], steps++)
			;
		if (u && picked[u])
			continue; /* listed, or under one listed */
		picked[v] = 1;
		out[got++] = v;
	}
	free(idx);
	free(picked);
	return got;
}

/* ------------------------------------------------------------------ as a flame graph */

#define FLAME_DEPTH 128 /* deeper paths are drawn down to this depth, the rest at its end */

int lsc_snap_flame(const struct lsc_snap *s, struct lsc_flame **out)
{
	uint32_t *stack = malloc((size_t)s->nnodes * sizeof(*stack));
	uint32_t *iter = malloc((size_t)s->nnodes * sizeof(*iter));
	uint32_t names[FLAME_DEPTH], sp = 0;
	struct lsc_flame *f = NULL;
	int err = -ENOMEM;

	*out = NULL;
	if (!stack || !iter || (err = lsc_flame_new(&f)))
		goto out;
	/* each object under the objects that dominate it, named by class: ten thousand
	 * Sessions in one array are one frame of their summed sizes */
	stack[sp++] = 0;
	iter[0] = s->kid_first[0];
	while (sp) {
		uint32_t u = stack[sp - 1];

		if (iter[u] < s->kid_first[u + 1]) {
			uint32_t w = s->kid[iter[u]++];
			char cls[128];
			int64_t id;

			lsc_snap_class(s, w, cls, sizeof(cls));
			id = lsc_flame_intern(f, cls, strlen(cls),
					      s->page[w] ? LSC_CODE_JIT : LSC_CODE_RUNTIME, NULL,
					      0);
			if (id < 0) {
				err = (int)id;
				goto out;
			}
			if (sp <= FLAME_DEPTH)
				names[sp - 1] = (uint32_t)id;
			if (s->self[w] &&
			    (err = lsc_flame_add(f, names, sp < FLAME_DEPTH ? sp : FLAME_DEPTH,
						 s->self[w])))
				goto out;
			iter[w] = s->kid_first[w];
			stack[sp++] = w;
			continue;
		}
		sp--;
	}
	lsc_flame_finish(f);
	*out = f;
	f = NULL;
	err = 0;
out:
	lsc_flame_free(f);
	free(stack);
	free(iter);
	return err;
}
