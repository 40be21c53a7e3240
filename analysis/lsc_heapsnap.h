/*
 * lsc_heapsnap.h — V8 heap snapshots (`.heapsnapshot`: v8.writeHeapSnapshot(), DevTools,
 * --heapsnapshot-signal) read into compact arrays, and what holds the memory: the dominator
 * tree, each object's retained size, aggregates by constructor, the largest retainers with their
 * shortest path from a GC root. heapsnap.c reads; heapsnap_dom.c analyses. docs/heap.md.
 */
#ifndef LSC_HEAPSNAP_H
#define LSC_HEAPSNAP_H

#include <stddef.h>
#include <stdint.h>

/* The node and edge types a snapshot's meta names, as indices into its own type lists
 * (resolved by name when read: -1 when the snapshot has no such type). */
struct lsc_snap_types {
	int hidden, array, string, object, code, closure, regexp, number, native, synthetic, concat,
		sliced, symbol, bigint, shape;
	int context, element, property, internal, ehidden, shortcut, weak;
};

struct lsc_snap {
	uint32_t nnodes, nedges, nstrings;
	/* per node (index 0: the root) */
	uint8_t *type;
	uint32_t *name; /* a string index */
	uint32_t *id;
	uint64_t *self;
	uint32_t *first_edge; /* nnodes + 1: node i's edges are [first_edge[i], first_edge[i+1]) */
	/* per edge */
	uint8_t *etype;
	uint32_t *ename; /* a string index, or an element index (element and hidden edges) */
	uint32_t *eto;	 /* a node index */
	/* strings, NUL-terminated, UTF-8 */
	char *strbuf;
	uint64_t *stroff;
	char type_names[32][32]; /* the meta's node types */
	unsigned ntypes;
	char etype_names[16][32];
	unsigned netypes;
	struct lsc_snap_types t;
	uint64_t total_self;
	/* the analysis (lsc_snap_analyse) */
	uint32_t *dom;	     /* each node's immediate dominator (the root's: itself) */
	uint64_t *retained;  /* self plus everything it alone keeps alive */
	uint32_t *dist;	     /* references from the root (UINT32_MAX: not reached) */
	uint32_t *ret_first; /* the retainers, by node: [ret_first[i], ret_first[i+1]) */
	uint32_t *ret_edge;  /* edge indices into the arrays above */
	uint32_t *ret_from;  /* and the edge's source node */
	uint32_t *kid_first; /* the dominator tree's children: [kid_first[i], kid_first[i+1]) */
	uint32_t *kid;
	uint8_t *page; /* 1: reachable from a user root (a global object): owned by the program;
			* 2: a user root */
};

/* Reads path. On failure returns LSC_ECORRUPT (or a negative errno) with one line in err
 * naming the byte and what was expected there. */
int lsc_snap_read(const char *path, struct lsc_snap **out, char *err, size_t errlen);
/* The same from memory (fuzzing, tests). */
int lsc_snap_parse(const char *buf, size_t len, struct lsc_snap **out, char *err, size_t errlen);
void lsc_snap_free(struct lsc_snap *s);
const char *lsc_snap_string(const struct lsc_snap *s, uint32_t i);

/* The dominator tree (Cooper, Harvey and Kennedy's iteration over the post-order), retained
 * sizes and distances from the root. 0 or -ENOMEM. */
int lsc_snap_analyse(struct lsc_snap *s);

/* What a person calls node i: its constructor ("Map"), a closure's function ("handler()"), a
 * string's start; and its class for the aggregates ("Map", "(closure)", "(string)"). */
void lsc_snap_node_name(const struct lsc_snap *s, uint32_t i, char *buf, size_t cap);
void lsc_snap_class(const struct lsc_snap *s, uint32_t i, char *buf, size_t cap);
/* The shortest retainer path from a GC root to node i, as "root → a → .cache → Map": the
 * nodes and the references between them, most of a long path elided in the middle. */
void lsc_snap_path(const struct lsc_snap *s, uint32_t i, char *buf, size_t cap);

/* Whether node i is an object a person made or can name (a Map, a Session, a closure): not the
 * engine's internals, a string or a number, not a global object. */
int lsc_snap_named(const struct lsc_snap *s, uint32_t i);

/* Aggregates by class, retained counted once (not under another object of the same class). */
struct lsc_snap_class {
	char name[128];
	uint64_t count, self, retained;
};
/* The classes by retained size, largest first (malloc'ed, *n of them). */
int lsc_snap_classes(const struct lsc_snap *s, struct lsc_snap_class **out, size_t *n);
/* The largest retainers: objects (not the engine's internals or the synthetic roots), by
 * retained size, none under another listed one; at most cap node indices into out. */
size_t lsc_snap_top_retainers(const struct lsc_snap *s, uint32_t *out, size_t cap);

/* The dominator tree as a flame graph (`flame --kind retained`): each object's own size at its
 * path of dominators, frames named by class, so a frame's width is the retained size of what
 * it names along that path. 0 or a negative errno. */
struct lsc_flame;
int lsc_snap_flame(const struct lsc_snap *s, struct lsc_flame **out);

/* heapsnap_diff.c: several snapshots of one process, in order. An earlier snapshot is kept only
 * as its ids (sorted) and their retained sizes, 12 bytes an object, so that it can be let go
 * before the next is read: three snapshots take the memory of the largest, not of all three. */
struct lsc_snap_ids {
	uint32_t n;
	uint32_t *id;
	uint64_t *retained;
	uint64_t total_self;
};
/* From an analysed snapshot. 0 or -ENOMEM. */
int lsc_snap_ids(const struct lsc_snap *s, struct lsc_snap_ids *out);
void lsc_snap_ids_free(struct lsc_snap_ids *d);

/* The comparison of the earlier snapshots (as ids) with the last (analysed): the largest
 * retainers of the last whose retained size rose from each snapshot to the next (by half and
 * 1 MiB at least over the series), and the objects made between the first two that are still
 * alive in the last, by class and by what holds them, the most bytes first, each group with
 * the object of it that retains the most. 0, -EINVAL (fewer than 2 or more than LSC_SNAP_MAX in
 * all), -ENOMEM. */
#define LSC_SNAP_MAX	 8
#define LSC_SNAP_GROWING 10
#define LSC_SNAP_GROUPS	 512
struct lsc_snap_compared {
	size_t n;			/* snapshots, the last included */
	uint32_t objects[LSC_SNAP_MAX]; /* each snapshot's objects and their bytes */
	uint64_t self[LSC_SNAP_MAX];
	size_t ngrowing;
	struct lsc_snap_growth {
		uint32_t node; /* in the last snapshot */
		uint64_t retained[LSC_SNAP_MAX];
	} growing[LSC_SNAP_GROWING];
	size_t nsurvivors;
	struct lsc_snap_group {
		char name[128];
		uint64_t count, self;
		uint32_t example; /* in the last snapshot */
		/* what holds them: the nearest object above them in the dominator tree that a
		 * person can name and that was there in the first snapshot (0: the root) */
		uint32_t holder;
	} survivors[LSC_SNAP_GROUPS];
};
int lsc_snap_compare(const struct lsc_snap_ids *earlier, size_t nearlier,
		     const struct lsc_snap *last, struct lsc_snap_compared *out);

/* heapsnap_summary.c: the snapshots a run noted in its recording (HeapSnapshotFile records,
 * names in dir), for the report: each one's largest retainers, and what grew across a process's
 * several. A file that cannot be read has its error instead. */
#define LSC_SNAP_SUMMARY_FILES	 16
#define LSC_SNAP_SUMMARY_TOP	 3
#define LSC_SNAP_SUMMARY_GROWING 8
struct lsc_snap_summary {
	size_t n;
	struct lsc_snap_summary_file {
		char name[256], trigger[32], error[300];
		uint32_t pid;
		uint64_t bytes, unix_ns;
		int read;
		uint32_t objects;
		uint64_t self;
		size_t ntop;
		struct {
			char name[160], path[1024];
			uint64_t retained;
			uint32_t id;
		} top[LSC_SNAP_SUMMARY_TOP];
	} f[LSC_SNAP_SUMMARY_FILES];
	size_t ngrowing;
	struct lsc_snap_summary_growth {
		uint32_t pid;
		size_t n; /* the snapshots compared */
		uint64_t retained[LSC_SNAP_MAX];
		char name[160], path[1024];
	} growing[LSC_SNAP_SUMMARY_GROWING];
};
typedef struct Loopscope__HeapSnapshotFile Loopscope__HeapSnapshotFile;
int lsc_snap_summarise(const char *dir, const Loopscope__HeapSnapshotFile *const *files, size_t n,
		       struct lsc_snap_summary *out);

#endif
