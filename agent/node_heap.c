/*
 * node_heap.c — Node.js's JavaScript heap by allocation site, from V8's own sampling heap
 * profiler (the one behind `node --heap-prof` and the inspector's HeapProfiler.startSampling),
 * started by the agent with no flag. V8 draws a sample point every `interval` bytes allocated
 * on average (Poisson), keeps the JS stack of the allocation there, and forgets the sample when
 * its object dies: what it holds at any time is the live heap by allocation stack, each sample
 * standing for interval-scaled bytes (V8 scales the counts).
 *
 * Started with the GC callbacks (node.c), on the main thread, once V8 is up. Read once a window
 * on the main thread at a poll (outside JavaScript, the isolate entered): GetAllocationProfile()
 * builds the tree of stacks (a node per function on the path, with the live allocations made
 * right there); the walk pushes a record per node that has live allocations or is new since the
 * last complete reading (V8 numbers nodes and never reuses a number: a node's path never
 * changes), with the function's name and script for the new ones, then an end record. The
 * writer (jsheap.c) turns them into stacks and heap-snapshot columns. The profile is deleted at
 * once; nothing is kept here but the highest node number sent.
 *
 * Exported V8 API called as plain functions (the object first): v8::Isolate::GetHeapProfiler,
 * v8::HeapProfiler::StartSamplingHeapProfiler / GetAllocationProfile, v8::HandleScope's
 * constructor and destructor (the profile's strings are handles in the caller's scope),
 * v8::String::Utf8Length / WriteUtf8; and the profile's concrete class's GetRootNode and
 * deleting destructor (v8::internal::AllocationProfile, in the dynamic symbol table).
 *
 * Version-bound, checked at run time: the layout of v8::AllocationProfile::Node of V8 10-12
 * (Node 18-22): name, script_name (handles), script_id, start_position, line_number,
 * column_number, node_id, then the std::vectors children (Node *) and allocations ({size_t size;
 * unsigned count}). The first reading's root must be named "(root)" with sane vectors;
 * otherwise the profiler is stopped and the recording says why.
 *
 * Cost: V8's sampling itself (an allocation observer every ~interval bytes, a stack walk of up
 * to STACK_DEPTH frames per sample) and, once a window, the reading: a few hundred microseconds
 * for a thousand nodes, on the loop thread (measured: bench/js_heap.sh, docs/performance.md).
 */
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#define A	    lsc__A
#define T	    lsc__T

#define STACK_DEPTH 32	  /* JS frames V8 keeps per sample */
#define MAX_NODES   65536 /* per reading; a deeper or wider tree is cut there */
#define WALK_DEPTH  (STACK_DEPTH + 8)

struct v8_vec {
	void *begin, *end, *cap;
};

struct v8_alloc {
	size_t size;
	unsigned int count;
};

struct v8_node {
	void *name, *script_name; /* Local<String>: a handle's address */
	int script_id, start_position, line_number, column_number;
	uint32_t node_id;
	struct v8_vec children;	   /* struct v8_node * */
	struct v8_vec allocations; /* struct v8_alloc */
};

_Static_assert(offsetof(struct v8_node, children) == 40, "v8::AllocationProfile::Node layout");
_Static_assert(offsetof(struct v8_node, allocations) == 64, "v8::AllocationProfile::Node layout");
_Static_assert(sizeof(struct v8_alloc) == 16, "v8::AllocationProfile::Allocation layout");

static void *(*get_profiler)(void *isolate);
static int (*start_sampling)(void *profiler, uint64_t interval, int depth, int flags);
static void (*stop_sampling)(void *profiler);
static void *(*get_profile)(void *profiler);
static struct v8_node *(*root_of)(void *profile);
static void (*delete_profile)(void *profile);

static void *isolate, *profiler;
static uint64_t heap_ns, res_ns; /* the last readings; 0: none yet (the first poll reads) */
static unsigned gcs_read;	 /* lsc__node_full_gcs at the last heap reading */
static uint32_t sent_upto;	 /* every node up to this number was sent in a complete reading */
static uint32_t reading = 1;	 /* this reading's number, in each of its records */
static int checked;

int lsc__node_heap_lookup(void)
{
#define SYM(var, name) var = (__typeof__(var))dlsym(RTLD_DEFAULT, name)
	SYM(get_profiler, "_ZN2v87Isolate15GetHeapProfilerEv");
	SYM(start_sampling,
	    "_ZN2v812HeapProfiler25StartSamplingHeapProfilerEmiNS0_13SamplingFlagsE");
	SYM(stop_sampling, "_ZN2v812HeapProfiler24StopSamplingHeapProfilerEv");
	SYM(get_profile, "_ZN2v812HeapProfiler20GetAllocationProfileEv");
	SYM(root_of, "_ZN2v88internal17AllocationProfile11GetRootNodeEv");
	SYM(delete_profile, "_ZN2v88internal17AllocationProfileD0Ev");
#undef SYM
	return lsc__v8.in_context && get_profiler && start_sampling && stop_sampling &&
			       get_profile && root_of && delete_profile && lsc__v8.scope_open &&
			       lsc__v8.scope_close && lsc__v8.write_utf8
		       ? 0
		       : -1;
}

/* The isolate kept for the readings at polls (Node's resources are read even without the heap
 * profiler); the profiler started unless the heap is not recorded. */
void lsc__node_heap_start(void *iso)
{
	if (!iso || lsc__node_heap_lookup())
		return;
	isolate = iso;
	if (A.cfg.heap_mode == LSC_HEAP_OFF || !A.cfg.js_heap_interval)
		return;
	profiler = get_profiler(iso);
	if (profiler && !start_sampling(profiler, A.cfg.js_heap_interval, STACK_DEPTH, 0))
		profiler = NULL;
}

/* A V8 string into buf (UTF-8, cut at cap bytes, invalid sequences replaced); its length. */
static uint16_t utf8(const void *str, char *buf, int cap)
{
	int n;

	if (!str)
		return 0;
	n = lsc__v8.write_utf8(str, isolate, buf, cap, NULL,
			       2 /* NO_NULL_TERMINATION */ | 8 /* REPLACE */);
	return n > 0 ? (uint16_t)n : 0;
}

static int vec_ok(const struct v8_vec *v, size_t elem)
{
	const char *b = v->begin, *e = v->end, *c = v->cap;

	return b <= e && e <= c && (size_t)(e - b) % elem == 0 &&
	       (size_t)(e - b) / elem < (1u << 24);
}

/* The root is "(root)" and its vectors are vectors: the layout above is this V8's. */
static int layout_ok(const struct v8_node *root)
{
	char name[16];
	uint16_t n;

	if (!vec_ok(&root->children, sizeof(void *)) ||
	    !vec_ok(&root->allocations, sizeof(struct v8_alloc)))
		return 0;
	n = utf8(root->name, name, sizeof(name));
	return n == 6 && !memcmp(name, "(root)", 6);
}

static int push_node(const struct v8_node *n, uint32_t parent)
{
	struct lsc_ev_jsnode ev = {0};
	const struct v8_alloc *a;
	char text[256 + 1024];

	for (a = n->allocations.begin; (const void *)a < n->allocations.end; a++) {
		ev.bytes += (uint64_t)a->size * a->count;
		ev.count += a->count;
	}
	if (!ev.count && n->node_id <= sent_upto)
		return 0; /* nothing live right here, and the writer knows where it is */
	ev.node_id = n->node_id;
	ev.parent_id = parent;
	ev.reading = reading;
	ev.line = n->line_number > 0 ? (uint32_t)n->line_number : 0;
	ev.column = n->column_number > 0 ? (uint32_t)n->column_number : 0;
	if (n->node_id > sent_upto) {
		ev.namelen = utf8(n->name, text, 256);
		ev.scriptlen = utf8(n->script_name, text + ev.namelen, 1024);
	}
	return lsc__push_wait(LSC_EV_JSNODE, &ev, sizeof(ev), text,
			      (size_t)ev.namelen + ev.scriptlen, 0);
}

/* Depth first, parents before children, without recursion. Returns nodes sent, or -1. */
static int walk(const struct v8_node *root, uint32_t *upto)
{
	struct {
		const struct v8_node *const *next, *const *end;
		uint32_t id;
	} st[WALK_DEPTH];
	int depth = 0, sent = 0, seen = 0;

	st[0].next = root->children.begin;
	st[0].end = root->children.end;
	st[0].id = 0;
	while (depth >= 0) {
		const struct v8_node *n;

		if (st[depth].next >= st[depth].end) {
			depth--;
			continue;
		}
		n = *st[depth].next++;
		if (++seen > MAX_NODES)
			break;
		if (!vec_ok(&n->children, sizeof(void *)) ||
		    !vec_ok(&n->allocations, sizeof(struct v8_alloc)))
			continue;
		if (push_node(n, st[depth].id))
			return -1;
		sent++;
		if (n->node_id > *upto)
			*upto = n->node_id;
		if (depth + 1 < WALK_DEPTH) {
			depth++;
			st[depth].next = n->children.begin;
			st[depth].end = n->children.end;
			st[depth].id = n->node_id;
		}
	}
	return sent;
}

/* The live JS heap by allocation stack, pushed node by node, then the end of the reading. */
static void heap_reading(uint64_t t0)
{
	alignas(16) char scope[64]; /* v8::HandleScope: 24 bytes in V8 10-12 */
	struct lsc_ev_jsheap_end end = {0};
	uint32_t upto = sent_upto;
	void *profile;
	int sent;

	lsc__v8.scope_open(scope, isolate);
	profile = get_profile(profiler);
	if (profile) {
		const struct v8_node *root = root_of(profile);

		if (!checked) {
			checked = 1;
			if (!root || !layout_ok(root)) { /* not the layout this was written for */
				delete_profile(profile);
				lsc__v8.scope_close(scope);
				stop_sampling(profiler);
				profiler = NULL;
				atomic_fetch_add_explicit(&A.dropped_events, 1,
							  memory_order_relaxed);
				return;
			}
		}
		sent = root ? walk(root, &upto) : 0;
		delete_profile(profile);
		end.ok = sent >= 0;
		end.nodes = sent > 0 ? (uint32_t)sent : 0;
	}
	lsc__v8.scope_close(scope);
	if (end.ok)
		sent_upto = upto; /* the writer has every node's place up to there */
	end.t_ns = t0 - A.t0;
	end.took_ns = lsc__now_ns() - t0;
	end.reading = reading++;
	lsc__push_wait(LSC_EV_JSHEAP_END, &end, sizeof(end), NULL, 0, 0);
}

/*
 * The main thread at a poll. Node's resources once a window. The JS heap once a window too, but
 * right after a full collection when there was one since the last reading: V8 forgets a sample
 * when the collector finds its object dead, so between full collections the profile still holds
 * the old generation's garbage; read after one it is what survived it, the managed heap's own
 * definition (heap.md). Without a full collection it is read anyway after HEAP_STALE windows,
 * or after one before the loop waits. Before the loop waits, both are read sooner (a tenth of a
 * window after the last reading): the state then holds for as long as the loop waits, and a
 * program that exits once it wakes (a timer's process.exit()) leaves its last state, not one a
 * window old.
 */
#define HEAP_STALE 5

void lsc__node_heap_poll(int will_wait)
{
	uint64_t t0 = lsc__now_ns(), w = will_wait ? A.cfg.window_ns / 10 : A.cfg.window_ns;
	int heap_due, res_due;

	if (!isolate)
		return;
	heap_due = profiler &&
		   (!heap_ns || (t0 >= heap_ns + w &&
				 (lsc__node_full_gcs != gcs_read ||
				  t0 >= heap_ns + (will_wait ? 1 : HEAP_STALE) * A.cfg.window_ns)));
	res_due = t0 >= res_ns + w;
	if ((!heap_due && !res_due) || !lsc__v8.in_context(isolate))
		return;
	if (heap_due) {
		heap_ns = t0;
		gcs_read = lsc__node_full_gcs;
		heap_reading(t0);
	}
	if (res_due) {
		res_ns = t0;
		lsc__node_resources_read(isolate);
	}
}
