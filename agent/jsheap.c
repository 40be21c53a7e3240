/*
 * jsheap.c — the writer's side of the JS heap by allocation site: node_heap.c's readings of V8's
 * sampling heap profile become stacks of JS frames and heap snapshots of their own kinds
 * (JS_LIVE_BYTES, JS_LIVE_COUNT), written the way the native heap's are: the values of the
 * stacks that changed since the last snapshot, so a recording cut anywhere (a SIGKILL, a crash)
 * keeps the last complete one.
 *
 * A profile node is a path from the root; V8 numbers nodes and never reuses a number, so a node
 * number, once placed (its function and its parent's number), stands for one stack for good.
 * The frames are the functions' synthetic addresses (jsmap.c: the same ids CPU samples' JS frames
 * get, tier merged), leaf first. Two nodes can come to one stack (functions that share a name,
 * script and position): their values add up.
 *
 * Written here, not taken from a library: it lives in the agent, allocates nothing after start
 * (mmap'd, bounded: NODES_CAP nodes, VALS_CAP stacks; beyond that nodes are counted as dropped).
 */
#include "writer.h"

#include <stdio.h>
#include <string.h>

#define W	  lsc__W

#define NODES_CAP (1u << 18) /* slots at most (half may be used); from 4,096, doubling */
#define VALS_CAP  (1u << 16) /* and the stack index's slots from 2,048 to twice this */
#define FIRST	  4096u
#define BATCH	  8192
#define MAX_DEPTH (LSC_AGENT_MAX_FRAMES)

struct jnode {
	uint32_t id;	 /* V8's number; 0: a free slot */
	uint32_t parent; /* its parent's number; 0: under the root */
	uint64_t addr;	 /* the function's synthetic address */
	uint32_t val;	 /* its stack's place in J.vals + 1 */
	uint32_t depth;
};

struct jval {
	uint32_t stack, reading;
	uint64_t last_b, last_c, cur_b, cur_c;
};

static struct {
	int ready;
	struct jnode *nodes; /* open addressing over nodes_cap slots */
	struct jval *vals;
	uint32_t *vindex; /* stack id -> place + 1, open addressing over vindex_cap slots */
	uint32_t nnodes, nvals, nodes_cap, vindex_cap;
	uint32_t col_stack[BATCH];
	uint64_t col_b[BATCH], col_c[BATCH];
	uint64_t read_ns, readings, dropped;
} J;

static int ready(void)
{
	if (J.ready)
		return J.ready > 0;
	J.nodes_cap = FIRST;
	J.vindex_cap = FIRST / 2;
	J.nodes = lsc_map_table(J.nodes_cap * sizeof(*J.nodes));
	J.vals = lsc_map_zeroed(VALS_CAP * sizeof(*J.vals));
	J.vindex = lsc_map_table(J.vindex_cap * sizeof(*J.vindex));
	J.ready = J.nodes && J.vals && J.vindex ? 1 : -1;
	return J.ready > 0;
}

/* Where a key goes in a table of cap slots (a power of two). */
static uint32_t home(uint32_t key, uint32_t cap)
{
	return (key * 0x9e3779b1u) & (cap - 1);
}

/* The node table, twice as large (lsc_map_table: tables filled at random places grow). */
static int nodes_grow(void)
{
	uint32_t cap = J.nodes_cap * 2, i, j;
	struct jnode *t;

	if (cap > NODES_CAP || !(t = lsc_map_table(cap * sizeof(*t))))
		return 0;
	for (i = 0; i < J.nodes_cap; i++) {
		if (!J.nodes[i].id)
			continue;
		for (j = home(J.nodes[i].id, cap); t[j].id; j = (j + 1) & (cap - 1))
			;
		t[j] = J.nodes[i];
	}
	lsc_unmap(J.nodes, J.nodes_cap * sizeof(*J.nodes));
	J.nodes = t;
	J.nodes_cap = cap;
	return 1;
}

static uint32_t slot_of(uint32_t id, int add)
{
	uint32_t j = home(id, J.nodes_cap);

	for (;; j = (j + 1) & (J.nodes_cap - 1)) {
		if (J.nodes[j].id == id)
			return j + 1;
		if (!J.nodes[j].id)
			break;
	}
	if (!add)
		return 0;
	if ((J.nnodes + 1) * 2 > J.nodes_cap) {
		if (!nodes_grow())
			return 0;
		for (j = home(id, J.nodes_cap); J.nodes[j].id; j = (j + 1) & (J.nodes_cap - 1))
			;
	}
	J.nnodes++;
	J.nodes[j].id = id;
	return j + 1;
}

static int vindex_grow(void)
{
	uint32_t cap = J.vindex_cap * 2, i, j;
	uint32_t *t;

	if (cap > VALS_CAP * 2 || !(t = lsc_map_table(cap * sizeof(*t))))
		return 0;
	for (i = 0; i < J.nvals; i++) {
		for (j = home(J.vals[i].stack, cap); t[j]; j = (j + 1) & (cap - 1))
			;
		t[j] = i + 1;
	}
	lsc_unmap(J.vindex, J.vindex_cap * sizeof(*J.vindex));
	J.vindex = t;
	J.vindex_cap = cap;
	return 1;
}

static uint32_t val_of(uint32_t stack)
{
	uint32_t j = home(stack, J.vindex_cap);

	for (;; j = (j + 1) & (J.vindex_cap - 1)) {
		if (!J.vindex[j])
			break;
		if (J.vals[J.vindex[j] - 1].stack == stack)
			return J.vindex[j];
	}
	if (J.nvals >= VALS_CAP)
		return 0;
	if ((J.nvals + 1) * 2 > J.vindex_cap) {
		if (!vindex_grow())
			return 0;
		for (j = home(stack, J.vindex_cap); J.vindex[j]; j = (j + 1) & (J.vindex_cap - 1))
			;
	}
	J.vals[J.nvals].stack = stack;
	J.vindex[j] = ++J.nvals;
	return J.nvals;
}

/* The function of a node, by name, script and line: what jsmap.c keys functions by (the same
 * function's frames on CPU stacks share its id). */
static uint64_t func_addr(const struct lsc_ev_jsnode *ev, const char *text)
{
	/* "(V8 API)", "(program)", "(garbage collector)": V8's own, not a JS function */
	int v8 = !ev->scriptlen && ev->namelen && text[0] == '(';

	return lsc__js_func_addr(text, ev->namelen, text + ev->namelen, ev->scriptlen, ev->line,
				 v8);
}

/* A new node placed: its function, its parent, its stack (its path, leaf first). */
static int place(struct jnode *nd, const struct lsc_ev_jsnode *ev, const char *text)
{
	uint64_t frames[MAX_DEPTH];
	uint32_t n = 0, p, stack;
	struct jnode *at;

	nd->addr = func_addr(ev, text);
	if (!nd->addr)
		return -1;
	if (ev->parent_id && !slot_of(ev->parent_id, 0))
		return -1; /* its parent was never placed */
	nd->parent = ev->parent_id;
	for (at = nd; at && n < MAX_DEPTH; at = p ? &J.nodes[p - 1] : NULL) {
		frames[n++] = at->addr;
		p = at->parent ? slot_of(at->parent, 0) : 0;
	}
	stack = lsc__w_intern(frames, n);
	if (!stack || !(nd->val = val_of(stack)))
		return -1;
	return 0;
}

void lsc__jsheap_node(const struct lsc_ev_jsnode *ev, const char *text)
{
	struct jnode *nd;
	struct jval *v;
	uint32_t s;

	if (!ready())
		return;
	s = slot_of(ev->node_id, 1);
	if (!s) {
		J.dropped++;
		return;
	}
	nd = &J.nodes[s - 1];
	if (!nd->val && place(nd, ev, text)) {
		J.dropped++;
		return;
	}
	v = &J.vals[nd->val - 1];
	if (v->reading != ev->reading) {
		v->reading = ev->reading;
		v->cur_b = v->cur_c = 0;
	}
	v->cur_b += ev->bytes;
	v->cur_c += ev->count;
}

static void put(int kind, uint64_t *values, size_t n, uint64_t t_ns, int end)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Samples s = LOOPSCOPE__SAMPLES__INIT;

	s.has_kind = s.has_t_ns = s.has_snapshot = s.has_period = 1;
	s.kind = kind;
	s.t_ns = t_ns;
	s.snapshot = W.snapshot;
	s.has_snapshot_end = s.snapshot_end = end;
	s.period = lsc__A.cfg.js_heap_interval;
	s.stack_id = J.col_stack;
	s.n_stack_id = n;
	s.value = values;
	s.n_value = n;
	r.body_case = LOOPSCOPE__RECORD__BODY_SAMPLES;
	r.samples = &s;
	lsc__w_put(&r);
}

static void put_batch(size_t n, uint64_t t_ns, int end)
{
	put(LOOPSCOPE__SAMPLE_KIND__JS_LIVE_BYTES, J.col_b, n, t_ns, 0);
	put(LOOPSCOPE__SAMPLE_KIND__JS_LIVE_COUNT, J.col_c, n, t_ns, end);
}

/* A complete reading: the stacks whose values changed (those it did not name are at 0 now). */
void lsc__jsheap_end(const struct lsc_ev_jsheap_end *ev)
{
	size_t n = 0;
	uint32_t i;

	if (!ready() || !ev->ok)
		return;
	J.read_ns += ev->took_ns;
	J.readings++;
	W.snapshot++;
	for (i = 0; i < J.nvals; i++) {
		struct jval *v = &J.vals[i];
		uint64_t b = v->reading == ev->reading ? v->cur_b : 0;
		uint64_t c = v->reading == ev->reading ? v->cur_c : 0;

		if (b == v->last_b && c == v->last_c)
			continue;
		v->last_b = b;
		v->last_c = c;
		J.col_stack[n] = v->stack;
		J.col_b[n] = b;
		J.col_c[n++] = c;
		if (n == BATCH) {
			put_batch(n, ev->t_ns, 0);
			n = 0;
		}
	}
	put_batch(n, ev->t_ns, 1);
}

uint64_t lsc__jsheap_read_ns(void)
{
	return J.read_ns;
}

uint64_t lsc__jsheap_readings(void)
{
	return J.readings;
}
