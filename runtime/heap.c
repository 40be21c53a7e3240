/*
 * heap.c — refloop's managed heap: typed objects on mmap'd pages and a mark-sweep collector.
 *
 * Small objects (up to 8 KiB) live in 256 KiB pages, one size class per page, free slots threaded
 * into a per-class free list; larger objects get a mapping of their own. Pages come from mmap,
 * never malloc, so native and managed memory stay two separate views (as V8's do), and a page left
 * empty by a sweep is unmapped, so the committed size follows the live set down.
 *
 * The collector marks from the root slots with an explicit stack (no recursion, any depth) and then
 * sweeps every page. It runs only at safe points (rl__heap_safepoint(), called by the dispatcher
 * between callbacks) once the bytes allocated since the last collection exceed a budget that grows
 * with the live size, as V8's allocation limit does; its pause is real work proportional to the
 * heap.
 *
 * Invariant: a slot with type 0 is free; a live object's MARK bit is clear outside a collection.
 */
#include "rl_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_BYTES     (256u * 1024u)
#define PAGE_HEADER    64u
#define ALIGN	       16u
#define MAX_SMALL      8192u
#define MAX_TYPES      256
#define MAX_CLASSES    48
#define DEFAULT_BUDGET (8u << 20)

#define F_MARK	       1u
#define F_LARGE	       2u

struct rl_object {
	uint32_t type; /* 0: a free slot */
	uint32_t nrefs;
	uint32_t size; /* payload bytes */
	uint16_t flags;
	uint8_t cls;
	uint8_t pad;
	/* struct rl_object *refs[nrefs]; then the payload */
};

/* A free slot reuses the object's size/flags words for the free-list link. */
struct free_slot {
	uint32_t type; /* 0 */
	uint32_t unused;
	struct free_slot *next;
};

struct page {
	struct page *next;
	uint32_t cls;
	uint32_t slot;
	uint32_t nslots;
	uint32_t nlive;
};

struct large {
	struct large *next, *prev;
	size_t map_len;
	uint64_t pad;
	/* struct rl_object follows, 16-byte aligned */
};

static struct {
	uint32_t class_size[MAX_CLASSES];
	int nclasses;
	struct free_slot *free[MAX_CLASSES];
	struct page *pages[MAX_CLASSES];
	struct large *large;

	char *type_name[MAX_TYPES];
	int ntypes; /* ids 1..ntypes */
	uint64_t type_count[MAX_TYPES];
	uint64_t type_bytes[MAX_TYPES];
	struct rl_type_stat type_stats[MAX_TYPES];
	uint32_t ntype_stats;

	struct rl_object ***roots;
	size_t nroots, roots_cap;
	struct rl_object **mark_stack;
	size_t mark_cap;

	uint64_t min_budget;
	uint64_t budget;
	uint64_t since_gc;
	int gc_due;
	int in_gc;
	uint64_t init_ns;

	struct rl_heap_stats st;
	struct rl__gc_record history[RL_GC_HISTORY];
	uint64_t nhistory; /* total recorded; the ring keeps the last RL_GC_HISTORY */
} heap;

static inline struct rl_object **refs_of(const struct rl_object *o)
{
	return (struct rl_object **)(o + 1);
}

static inline size_t object_bytes(uint32_t nrefs, size_t payload)
{
	return (sizeof(struct rl_object) + (size_t)nrefs * sizeof(void *) + payload + ALIGN - 1) &
	       ~(size_t)(ALIGN - 1);
}

static inline size_t size_of(const struct rl_object *o)
{
	return object_bytes(o->nrefs, o->size);
}

/* Classes: every 16 bytes up to 256, then four steps per doubling up to MAX_SMALL. */
static void classes_init(void)
{
	uint32_t s, step;
	int n = 0;

	for (s = ALIGN; s <= 256; s += ALIGN)
		heap.class_size[n++] = s;
	for (step = 64; s <= MAX_SMALL; step *= 2)
		for (int i = 0; i < 4 && s <= MAX_SMALL; i++, s += step)
			heap.class_size[n++] = s;
	heap.nclasses = n;
}

static int class_of(size_t bytes)
{
	int lo = 0, hi = heap.nclasses - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (heap.class_size[mid] >= bytes)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int rl__heap_init(uint64_t min_budget)
{
	memset(&heap, 0, sizeof(heap));
	classes_init();
	heap.min_budget = min_budget ? min_budget : DEFAULT_BUDGET;
	heap.budget = heap.min_budget;
	heap.init_ns = uv_hrtime();
	return 0;
}

int rl_type_register(const char *name)
{
	int i;

	if (!name || !*name)
		return UV_EINVAL;
	for (i = 1; i <= heap.ntypes; i++)
		if (strcmp(heap.type_name[i], name) == 0)
			return i;
	if (heap.ntypes + 1 >= MAX_TYPES)
		return UV_ENOSPC;
	heap.type_name[heap.ntypes + 1] = strdup(name);
	if (!heap.type_name[heap.ntypes + 1])
		return UV_ENOMEM;
	return ++heap.ntypes;
}

const char *rl_type_name(int type)
{
	return type > 0 && type <= heap.ntypes ? heap.type_name[type] : "(unknown)";
}

static struct page *page_new(int cls)
{
	struct page *p;
	char *slot;
	uint32_t i;

	p = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	p->cls = cls;
	p->slot = heap.class_size[cls];
	p->nslots = (PAGE_BYTES - PAGE_HEADER) / p->slot;
	p->next = heap.pages[cls];
	heap.pages[cls] = p;
	heap.st.committed_bytes += PAGE_BYTES;
	/* Thread the slots so the lowest address is handed out first. */
	slot = (char *)p + PAGE_HEADER;
	for (i = p->nslots; i-- > 0;) {
		struct free_slot *f = (struct free_slot *)(slot + (size_t)i * p->slot);

		f->next = heap.free[cls];
		heap.free[cls] = f;
	}
	return p;
}

static struct rl_object *alloc_large(size_t bytes)
{
	size_t len = sizeof(struct large) + bytes;
	struct large *l;

	len = (len + 4095) & ~(size_t)4095;
	l = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l == MAP_FAILED)
		return NULL;
	l->map_len = len;
	l->prev = NULL;
	l->next = heap.large;
	if (heap.large)
		heap.large->prev = l;
	heap.large = l;
	heap.st.committed_bytes += len;
	return (struct rl_object *)(l + 1);
}

struct rl_object *rl_alloc(int type, uint32_t nrefs, size_t payload)
{
	size_t bytes = object_bytes(nrefs, payload);
	struct rl_object *o;
	int cls = -1;

	if (type <= 0 || type > heap.ntypes || payload > UINT32_MAX)
		return NULL;
	if (bytes <= MAX_SMALL) {
		struct free_slot *f;

		cls = class_of(bytes);
		if (!heap.free[cls] && !page_new(cls))
			return NULL;
		f = heap.free[cls];
		heap.free[cls] = f->next;
		o = (struct rl_object *)f;
	} else {
		o = alloc_large(bytes);
		if (!o)
			return NULL;
	}
	memset(o, 0, bytes);
	o->type = type;
	o->nrefs = nrefs;
	o->size = payload;
	o->flags = cls < 0 ? F_LARGE : 0;
	o->cls = cls < 0 ? 0 : cls;

	heap.st.used_bytes += bytes;
	heap.st.allocated_total += bytes;
	heap.st.objects_allocated++;
	heap.since_gc += bytes;
	if (heap.since_gc >= heap.budget)
		heap.gc_due = 1;
	return o;
}

struct rl_object *rl_obj_ref(const struct rl_object *o, uint32_t i)
{
	return i < o->nrefs ? refs_of(o)[i] : NULL;
}

void rl_obj_set_ref(struct rl_object *o, uint32_t i, struct rl_object *v)
{
	if (i < o->nrefs)
		refs_of(o)[i] = v;
}

uint32_t rl_obj_nrefs(const struct rl_object *o)
{
	return o->nrefs;
}

void *rl_obj_payload(struct rl_object *o)
{
	return refs_of(o) + o->nrefs;
}

size_t rl_obj_payload_size(const struct rl_object *o)
{
	return o->size;
}

int rl_obj_type(const struct rl_object *o)
{
	return o->type;
}

int rl_root_add(struct rl_object **slot)
{
	if (heap.nroots == heap.roots_cap) {
		size_t ncap = heap.roots_cap ? heap.roots_cap * 2 : 64;
		struct rl_object ***nr = realloc(heap.roots, ncap * sizeof(*nr));

		if (!nr)
			return UV_ENOMEM;
		heap.roots = nr;
		heap.roots_cap = ncap;
	}
	heap.roots[heap.nroots++] = slot;
	return 0;
}

void rl_root_remove(struct rl_object **slot)
{
	size_t i;

	/* Newest first: requests and temporaries are removed in roughly LIFO order. */
	for (i = heap.nroots; i-- > 0;) {
		if (heap.roots[i] == slot) {
			heap.roots[i] = heap.roots[--heap.nroots];
			return;
		}
	}
}

/* ------------------------------------------------------------------ collection */

static int mark_push(struct rl_object *o, size_t *sp)
{
	if (!o || (o->flags & F_MARK))
		return 0;
	o->flags |= F_MARK;
	if (o->nrefs == 0)
		return 0;
	if (*sp == heap.mark_cap) {
		size_t ncap = heap.mark_cap ? heap.mark_cap * 2 : 4096;
		struct rl_object **ns = realloc(heap.mark_stack, ncap * sizeof(*ns));

		if (!ns)
			return UV_ENOMEM;
		heap.mark_stack = ns;
		heap.mark_cap = ncap;
	}
	heap.mark_stack[(*sp)++] = o;
	return 0;
}

/*
 * If the mark stack cannot grow, the collection is abandoned before anything is swept: marks are
 * cleared by the sweep-less path below and the heap simply keeps growing. Never free a live object.
 */
static int mark(void)
{
	size_t sp = 0, i;

	for (i = 0; i < heap.nroots; i++)
		if (mark_push(*heap.roots[i], &sp))
			return UV_ENOMEM;
	while (sp) {
		struct rl_object *o = heap.mark_stack[--sp];
		struct rl_object **r = refs_of(o);

		for (i = 0; i < o->nrefs; i++)
			if (mark_push(r[i], &sp))
				return UV_ENOMEM;
	}
	return 0;
}

static void account_live(struct rl_object *o)
{
	o->flags &= ~F_MARK;
	heap.type_count[o->type]++;
	heap.type_bytes[o->type] += size_of(o);
}

static void sweep_pages(int cls, int free_dead)
{
	struct page **pp = &heap.pages[cls], *p;

	heap.free[cls] = NULL;
	while ((p = *pp)) {
		char *base = (char *)p + PAGE_HEADER;
		uint32_t i;

		p->nlive = 0;
		for (i = 0; i < p->nslots; i++) {
			struct rl_object *o = (struct rl_object *)(base + (size_t)i * p->slot);

			if (o->type == 0)
				continue;
			if ((o->flags & F_MARK) || !free_dead) {
				account_live(o);
				p->nlive++;
				continue;
			}
			heap.st.used_bytes -= size_of(o);
			heap.st.objects_freed++;
			o->type = 0;
		}
		if (p->nlive == 0) {
			*pp = p->next;
			munmap(p, PAGE_BYTES);
			heap.st.committed_bytes -= PAGE_BYTES;
			continue;
		}
		for (i = p->nslots; i-- > 0;) {
			struct free_slot *f = (struct free_slot *)(base + (size_t)i * p->slot);

			if (f->type == 0) {
				f->next = heap.free[cls];
				heap.free[cls] = f;
			}
		}
		pp = &p->next;
	}
}

static void sweep_large(int free_dead)
{
	struct large *l = heap.large, *next;

	for (; l; l = next) {
		struct rl_object *o = (struct rl_object *)(l + 1);

		next = l->next;
		if ((o->flags & F_MARK) || !free_dead) {
			account_live(o);
			continue;
		}
		if (l->prev)
			l->prev->next = l->next;
		else
			heap.large = l->next;
		if (l->next)
			l->next->prev = l->prev;
		heap.st.used_bytes -= size_of(o);
		heap.st.objects_freed++;
		heap.st.committed_bytes -= l->map_len;
		munmap(l, l->map_len);
	}
}

static void collect_type_stats(void)
{
	int t;

	heap.ntype_stats = 0;
	for (t = 1; t <= heap.ntypes; t++) {
		struct rl_type_stat *s = &heap.type_stats[heap.ntype_stats++];

		s->name = heap.type_name[t];
		s->count = heap.type_count[t];
		s->bytes = heap.type_bytes[t];
	}
}

void rl_gc(void)
{
	uint64_t start, before = heap.st.used_bytes, pause;
	struct rl__gc_record *rec;
	struct rl_gc_info info;
	int ok, c;

	if (heap.in_gc)
		return;
	heap.in_gc = 1;
	RL_PROBE1(gc__begin, before);
	start = uv_hrtime();

	memset(heap.type_count, 0, sizeof(heap.type_count));
	memset(heap.type_bytes, 0, sizeof(heap.type_bytes));
	ok = mark() == 0;
	for (c = 0; c < heap.nclasses; c++)
		sweep_pages(c, ok);
	sweep_large(ok);
	collect_type_stats();

	heap.since_gc = 0;
	heap.gc_due = 0;
	heap.budget = heap.st.used_bytes > heap.min_budget ? heap.st.used_bytes : heap.min_budget;
	pause = uv_hrtime() - start;

	heap.st.collections++;
	heap.st.live_after_gc = heap.st.used_bytes;
	heap.st.pause_total_ns += pause;
	if (pause > heap.st.pause_max_ns)
		heap.st.pause_max_ns = pause;
	rec = &heap.history[heap.nhistory++ % RL_GC_HISTORY];
	*rec = (struct rl__gc_record){start - heap.init_ns, pause, before, heap.st.used_bytes};
	RL_PROBE3(gc__end, before, heap.st.used_bytes, pause);

	info = (struct rl_gc_info){
		heap.st.collections, start,	     pause, before, heap.st.used_bytes,
		heap.ntype_stats,    heap.type_stats};
	rl__obs_gc_end(&info);
	heap.in_gc = 0;
}

void rl__heap_safepoint(void)
{
	if (heap.gc_due)
		rl_gc();
}

void rl_heap_stats_get(struct rl_heap_stats *out)
{
	*out = heap.st;
}

size_t rl__heap_history_count(uint64_t *dropped)
{
	*dropped = heap.nhistory > RL_GC_HISTORY ? heap.nhistory - RL_GC_HISTORY : 0;
	return heap.nhistory > RL_GC_HISTORY ? RL_GC_HISTORY : heap.nhistory;
}

const struct rl__gc_record *rl__heap_history_get(size_t i)
{
	uint64_t oldest = heap.nhistory > RL_GC_HISTORY ? heap.nhistory - RL_GC_HISTORY : 0;

	return &heap.history[(oldest + i) % RL_GC_HISTORY];
}

const struct rl_type_stat *rl__heap_types(uint32_t *n)
{
	*n = heap.ntype_stats;
	return heap.type_stats;
}

void rl__heap_release(void)
{
	struct large *l, *next;
	struct page *p, *pn;
	int c, t;

	for (c = 0; c < heap.nclasses; c++)
		for (p = heap.pages[c]; p; p = pn) {
			pn = p->next;
			munmap(p, PAGE_BYTES);
		}
	for (l = heap.large; l; l = next) {
		next = l->next;
		munmap(l, l->map_len);
	}
	for (t = 1; t <= heap.ntypes; t++)
		free(heap.type_name[t]);
	free(heap.roots);
	free(heap.mark_stack);
	memset(&heap, 0, sizeof(heap));
}
