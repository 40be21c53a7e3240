/*
 * flame.c — the call tree (lsc_flame.h): interning, insertion, totals, and the folded reader.
 * A recording's stacks come in through flame_frames.c, over this file's public functions.
 *
 * Why the folded reader looks the way it does: a folded file of 250 MB (300,000 lines over
 * 40,000 distinct stacks) must become a tree in well under a second and 200 MB. So the file is
 * read in 4 MiB pieces (a mapping would count the whole file as resident), and each line's
 * stack is first looked up whole in a table of the stacks already seen: a repeat adds its count
 * to a known leaf without being split. Only distinct stacks are split and interned. A stack is
 * known by its length and a 128-bit hash rather than by its text: keeping 40,000 stacks' text
 * cost 32 MB and comparing every repeat against it a quarter of the run, and two distinct stacks
 * of one file share length and hash with a probability of about 10^-29.
 */
#include "lsc_flame.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The tree's big arrays come from mmap with transparent huge pages requested: on a tree of a
 * million nodes, random probes into 4 KiB pages spend more time in TLB misses and page faults
 * than in the lookups themselves. Fresh mappings are zeroed, which the tables rely on (key 0 and
 * leaf 0 mean "empty").
 */
static void *big_grow(void *old, size_t old_bytes, size_t new_bytes)
{
	void *p;

	if (!old)
		p = mmap(NULL, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
	else
		p = mremap(old, old_bytes, new_bytes, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return NULL;
	if (new_bytes >= (2u << 20))
		madvise(p, new_bytes, MADV_HUGEPAGE);
	return p;
}

static void big_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

struct name {
	uint32_t off, len; /* in the arena */
	uint32_t file_off; /* 0: none */
	uint32_t line;
	uint8_t kind;
};

struct arena {
	char *p;
	size_t len, cap;
};

struct child_slot {
	uint64_t key; /* parent << 32 | name; 0: empty (names start at 1) */
	uint32_t node;
	uint32_t pad;
};

struct lsc_flame {
	struct lsc_flame_node *nodes;
	size_t nnodes, nodes_cap;
	struct name *names; /* index 0 unused */
	size_t nnames, names_cap;
	struct arena strings;
	/* name hash: open addressing over name ids */
	uint32_t *name_tab;
	size_t name_tab_cap;
	/* child hash: (parent << 32 | name) -> node id, key and value in one slot (one cache miss)
	 */
	struct child_slot *children;
	size_t child_cap, nchildren;
	uint64_t added; /* the sum of every value added: the root's total, at most 2^64 - 1 */
};

static uint64_t hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;

		memcpy(&w, p, len);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/*
 * 128 bits in one pass. Two hashes (a, b), each over every word with its own multipliers; each
 * runs as two interleaved lanes (even and odd words) so that the multiply chains overlap. This
 * loop is most of the time spent on a big folded file.
 */
static void hash128(const void *data, size_t len, uint64_t *ha, uint64_t *hb)
{
	const unsigned char *p = data;
	uint64_t a0 = 0x9e3779b97f4a7c15ULL ^ len, a1 = 0x243f6a8885a308d3ULL;
	uint64_t b0 = 0xc2b2ae3d27d4eb4fULL + len, b1 = 0x13198a2e03707344ULL, w0, w1;

	for (; len >= 16; p += 16, len -= 16) {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		a0 = (a0 ^ w0) * 0xff51afd7ed558ccdULL;
		a1 = (a1 ^ w1) * 0xc4ceb9fe1a85ec53ULL;
		b0 = (b0 ^ w0) * 0xbf58476d1ce4e5b9ULL;
		b1 = (b1 ^ w1) * 0x94d049bb133111ebULL;
		a0 ^= a0 >> 32;
		a1 ^= a1 >> 29;
		b0 ^= b0 >> 31;
		b1 ^= b1 >> 27;
	}
	w0 = w1 = 0;
	memcpy(&w0, p, len < 8 ? len : 8);
	if (len > 8)
		memcpy(&w1, p + 8, len - 8);
	a0 = (a0 ^ w0 ^ (a1 << 1)) * 0xff51afd7ed558ccdULL;
	b0 = (b0 ^ w1 ^ (b1 << 1)) * 0xc4ceb9fe1a85ec53ULL;
	a0 ^= (a1 ^ w1) * 0x9e3779b97f4a7c15ULL;
	b0 ^= (b1 ^ w0) * 0xd6e8feb86659fd93ULL;
	a0 ^= a0 >> 33;
	b0 ^= b0 >> 29;
	*ha = a0 * 0xbf58476d1ce4e5b9ULL ^ b0 >> 17;
	*hb = b0 * 0x94d049bb133111ebULL ^ a0 >> 23;
}

static int64_t arena_put(struct arena *a, const char *s, size_t len)
{
	size_t off;

	if (a->len + len + 1 > a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 65536;
		char *np;

		while (ncap < a->len + len + 1)
			ncap *= 2;
		np = realloc(a->p, ncap);
		if (!np)
			return -ENOMEM;
		a->p = np;
		a->cap = ncap;
	}
	off = a->len;
	memcpy(a->p + off, s, len);
	a->p[off + len] = 0;
	a->len += len + 1;
	return (int64_t)off;
}

int lsc_flame_new(struct lsc_flame **out)
{
	struct lsc_flame *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->nodes_cap = 1024;
	f->nodes = big_grow(NULL, 0, f->nodes_cap * sizeof(*f->nodes));
	f->names_cap = 1024;
	f->names = calloc(f->names_cap, sizeof(*f->names));
	f->nnames = 1;
	f->nnodes = 1; /* the root */
	if (!f->nodes || !f->names || arena_put(&f->strings, "", 0) < 0) {
		lsc_flame_free(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

void lsc_flame_free(struct lsc_flame *f)
{
	if (!f)
		return;
	big_free(f->nodes, f->nodes_cap * sizeof(*f->nodes));
	free(f->names);
	free(f->strings.p);
	free(f->name_tab);
	big_free(f->children, f->child_cap * sizeof(*f->children));
	free(f);
}

static int name_tab_grow(struct lsc_flame *f)
{
	size_t ncap = f->name_tab_cap ? f->name_tab_cap * 2 : 4096, i;
	uint32_t *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (i = 1; i < f->nnames; i++) {
		struct name *n = &f->names[i];
		size_t j = hash_bytes(f->strings.p + n->off, n->len) & (ncap - 1);

		while (nt[j])
			j = (j + 1) & (ncap - 1);
		nt[j] = (uint32_t)i;
	}
	free(f->name_tab);
	f->name_tab = nt;
	f->name_tab_cap = ncap;
	return 0;
}

/* JS functions are told apart by their script and line too: "(anonymous)", "handler" and
 * "next" are everywhere. (A native function's line is where its sample was: not its identity.) */
static int same_place(const struct lsc_flame *f, const struct name *n, const char *file,
		      unsigned line)
{
	const char *nf = n->file_off ? f->strings.p + n->file_off : NULL;

	if (n->kind != LSC_CODE_JIT)
		return 0;
	if (!nf || !file)
		return !nf && !file;
	return n->line == line && strcmp(nf, file) == 0;
}

int64_t lsc_flame_intern(struct lsc_flame *f, const char *s, size_t len, int kind, const char *file,
			 unsigned line)
{
	size_t j;
	int64_t off, foff = 0;
	struct name *n;

	if ((f->nnames + 1) * 2 > f->name_tab_cap && name_tab_grow(f))
		return -ENOMEM;
	j = hash_bytes(s, len) & (f->name_tab_cap - 1);
	for (; f->name_tab[j]; j = (j + 1) & (f->name_tab_cap - 1)) {
		n = &f->names[f->name_tab[j]];
		if (n->len == len && memcmp(f->strings.p + n->off, s, len) == 0 &&
		    (kind != LSC_CODE_JIT || same_place(f, n, file, line)))
			return f->name_tab[j];
	}
	if (f->nnames == f->names_cap) {
		struct name *nn = realloc(f->names, f->names_cap * 2 * sizeof(*nn));

		if (!nn)
			return -ENOMEM;
		f->names = nn;
		f->names_cap *= 2;
	}
	off = arena_put(&f->strings, s, len);
	if (off >= 0 && file)
		foff = arena_put(&f->strings, file, strlen(file));
	if (off < 0 || foff < 0)
		return -ENOMEM;
	n = &f->names[f->nnames];
	*n = (struct name){(uint32_t)off, (uint32_t)len, (uint32_t)foff, line, (uint8_t)kind};
	f->name_tab[j] = (uint32_t)f->nnames;
	return (int64_t)f->nnames++;
}

static inline size_t key_slot(uint64_t key, size_t cap)
{
	key *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(key ^ key >> 29) & (cap - 1);
}

static int child_grow(struct lsc_flame *f)
{
	size_t ncap = f->child_cap ? f->child_cap * 2 : 4096, i;
	struct child_slot *nc = big_grow(NULL, 0, ncap * sizeof(*nc));

	if (!nc)
		return -ENOMEM;
	for (i = 0; i < f->child_cap; i++) {
		size_t j;

		if (!f->children[i].key)
			continue;
		j = key_slot(f->children[i].key, ncap);
		while (nc[j].key)
			j = (j + 1) & (ncap - 1);
		nc[j] = f->children[i];
	}
	big_free(f->children, f->child_cap * sizeof(*nc));
	f->children = nc;
	f->child_cap = ncap;
	return 0;
}

static int child_index(struct lsc_flame *f, uint32_t node)
{
	uint64_t key = (uint64_t)f->nodes[node].parent << 32 | f->nodes[node].name;
	size_t j;

	if ((f->nchildren + 1) * 4 > f->child_cap * 3 && child_grow(f))
		return -ENOMEM;
	j = key_slot(key, f->child_cap);
	while (f->children[j].key)
		j = (j + 1) & (f->child_cap - 1);
	f->children[j].key = key;
	f->children[j].node = node;
	f->nchildren++;
	return 0;
}

/*
 * The child of parent named name, created when absent. Returns the node id, or 0 on ENOMEM.
 * Most nodes of a profile lie on long single-child paths: a parent with few children is searched
 * along its sibling list, and only the children of a parent with more than SCAN_MAX of them go
 * into the (parent, name) hash table.
 */
#define SCAN_MAX 8

static uint32_t child(struct lsc_flame *f, uint32_t parent, uint32_t name)
{
	uint64_t key = (uint64_t)parent << 32 | name;
	struct lsc_flame_node *n;
	uint32_t c, id;
	size_t j;

	if (f->nodes[parent].nchildren <= SCAN_MAX) {
		for (c = f->nodes[parent].first_child; c; c = f->nodes[c].next_sibling)
			if (f->nodes[c].name == name)
				return c;
	} else {
		j = key_slot(key, f->child_cap);
		for (; f->children[j].key; j = (j + 1) & (f->child_cap - 1))
			if (f->children[j].key == key)
				return f->children[j].node;
	}
	if (f->nnodes == f->nodes_cap) {
		struct lsc_flame_node *nn = big_grow(f->nodes, f->nodes_cap * sizeof(*nn),
						     f->nodes_cap * 2 * sizeof(*nn));

		if (!nn)
			return 0;
		f->nodes = nn;
		f->nodes_cap *= 2;
	}
	id = (uint32_t)f->nnodes++;
	n = &f->nodes[id];
	*n = (struct lsc_flame_node){name, parent, 0, f->nodes[parent].first_child, 0, 0, 0};
	f->nodes[parent].first_child = id;
	if (++f->nodes[parent].nchildren == SCAN_MAX + 1) {
		/* Too many to scan from now on: index all of them. */
		for (c = f->nodes[parent].first_child; c; c = f->nodes[c].next_sibling)
			if (child_index(f, c))
				return 0;
	} else if (f->nodes[parent].nchildren > SCAN_MAX + 1 && child_index(f, id)) {
		return 0;
	}
	return id;
}

static int64_t add_path(struct lsc_flame *f, const uint32_t *names, size_t n, uint64_t value)
{
	uint32_t node = 0;
	size_t i;

	/* Every total is then at most the root's, and no sum in the tree wraps. */
	if (value > UINT64_MAX - f->added)
		return -ERANGE;
	for (i = 0; i < n; i++) {
		node = child(f, node, names[i]);
		if (!node)
			return -ENOMEM;
	}
	f->added += value;
	f->nodes[node].self += value;
	return node;
}

int lsc_flame_add(struct lsc_flame *f, const uint32_t *names, size_t n, uint64_t value)
{
	int64_t r = add_path(f, names, n, value);

	return r < 0 ? (int)r : 0;
}

static const char *name_str(const struct lsc_flame *f, uint32_t id)
{
	return f->strings.p + f->names[id].off;
}

static const struct lsc_flame *sort_ctx;

static int by_name(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return strcmp(name_str(sort_ctx, sort_ctx->nodes[x].name),
		      name_str(sort_ctx, sort_ctx->nodes[y].name));
}

void lsc_flame_finish(struct lsc_flame *f)
{
	uint32_t *kids = NULL;
	size_t cap = 0, i;

	for (i = 0; i < f->nnodes; i++)
		f->nodes[i].total = f->nodes[i].self;
	/* Children are created after their parents: one backward pass sums every subtree. */
	for (i = f->nnodes; i-- > 1;)
		f->nodes[f->nodes[i].parent].total += f->nodes[i].total;
	sort_ctx = f;
	for (i = 0; i < f->nnodes; i++) {
		size_t n = 0, k;
		uint32_t c;

		for (c = f->nodes[i].first_child; c; c = f->nodes[c].next_sibling) {
			if (n == cap) {
				uint32_t *nk =
					realloc(kids, (cap = cap ? cap * 2 : 64) * sizeof(*nk));

				if (!nk) {
					free(kids);
					return; /* unsorted, still correct */
				}
				kids = nk;
			}
			kids[n++] = c;
		}
		if (n < 2)
			continue;
		qsort(kids, n, sizeof(*kids), by_name);
		f->nodes[i].first_child = kids[0];
		for (k = 0; k + 1 < n; k++)
			f->nodes[kids[k]].next_sibling = kids[k + 1];
		f->nodes[kids[n - 1]].next_sibling = 0;
	}
	free(kids);
}

const struct lsc_flame_node *lsc_flame_nodes(const struct lsc_flame *f, size_t *n)
{
	*n = f->nnodes;
	return f->nodes;
}

const char *lsc_flame_name(const struct lsc_flame *f, uint32_t id)
{
	return id && id < f->nnames ? name_str(f, id) : "all";
}

int lsc_flame_kind(const struct lsc_flame *f, uint32_t id)
{
	return id && id < f->nnames ? f->names[id].kind : LSC_CODE_NATIVE;
}

const char *lsc_flame_file(const struct lsc_flame *f, uint32_t id, unsigned *line)
{
	if (!id || id >= f->nnames || !f->names[id].file_off) {
		*line = 0;
		return NULL;
	}
	*line = f->names[id].line;
	return f->strings.p + f->names[id].file_off;
}

size_t lsc_flame_nnames(const struct lsc_flame *f)
{
	return f->nnames;
}

uint64_t lsc_flame_total(const struct lsc_flame *f)
{
	return f->nodes[0].total;
}

/* ------------------------------------------------------------------ kinds */

static int has_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && memcmp(s, p, n) == 0;
}

int lsc_flame_guess_kind(const char *s, size_t *len)
{
	size_t n = *len;

	if (n > 4 && s[n - 4] == '_' && s[n - 3] == '[' && s[n - 1] == ']') {
		*len = n - 4;
		switch (s[n - 2]) {
		case 'k':
			return LSC_CODE_KERNEL;
		case 'j':
		case 'i':
			return LSC_CODE_JIT;
		}
	}
	if (has_prefix(s, n, "JS:") || has_prefix(s, n, "LazyCompile:") ||
	    has_prefix(s, n, "Function:") || has_prefix(s, n, "Script:") ||
	    has_prefix(s, n, "RegExp:") || has_prefix(s, n, "Eval:") || has_prefix(s, n, "[jit]"))
		return LSC_CODE_JIT;
	/* V8's own generated code, as V8 names it: not the program's */
	if (has_prefix(s, n, "Builtin:") || has_prefix(s, n, "BytecodeHandler:") ||
	    has_prefix(s, n, "Stub:") || has_prefix(s, n, "Handler:") ||
	    has_prefix(s, n, "Callback:"))
		return LSC_CODE_RUNTIME;
	if (has_prefix(s, n, "uv_") || has_prefix(s, n, "uv__") || has_prefix(s, n, "rl_") ||
	    has_prefix(s, n, "rl__") || has_prefix(s, n, "node::") || has_prefix(s, n, "v8::") ||
	    has_prefix(s, n, "Builtins_") || has_prefix(s, n, "libc.so") ||
	    has_prefix(s, n, "__libc_") || has_prefix(s, n, "epoll_") ||
	    has_prefix(s, n, "worker") || has_prefix(s, n, "start_thread") ||
	    has_prefix(s, n, "_start"))
		return LSC_CODE_RUNTIME;
	if (has_prefix(s, n, "[kernel") || has_prefix(s, n, "entry_SYSCALL") ||
	    has_prefix(s, n, "__x64_sys_") || has_prefix(s, n, "do_syscall"))
		return LSC_CODE_KERNEL;
	return LSC_CODE_NATIVE;
}

/* ------------------------------------------------------------------ folded files */

struct seen {
	uint64_t ha, hb;
	uint64_t count; /* added to the leaf at the end: a repeat touches only this slot */
	uint32_t len;
	uint32_t leaf; /* 0: an empty slot (a stack's leaf is never the root) */
};

struct folded {
	struct lsc_flame *f;
	struct seen *tab;
	size_t cap, n;
	uint32_t *path;
	size_t path_cap;
};

static int seen_grow(struct folded *st)
{
	/* Small first: a file of a few stacks scans and frees a few KiB, not megabytes. */
	size_t ncap = st->cap ? st->cap * 2 : 1024, i;
	struct seen *nt = big_grow(NULL, 0, ncap * sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (i = 0; i < st->cap; i++) {
		size_t j;

		if (!st->tab[i].leaf)
			continue;
		j = st->tab[i].ha & (ncap - 1);
		while (nt[j].leaf)
			j = (j + 1) & (ncap - 1);
		nt[j] = st->tab[i];
	}
	big_free(st->tab, st->cap * sizeof(*nt));
	st->tab = nt;
	st->cap = ncap;
	return 0;
}

static int folded_line(struct folded *st, const char *line, size_t len)
{
	const char *sp, *p, *end;
	uint64_t count = 0, ha, hb;
	size_t stack_len, n = 0, j;
	int64_t leaf;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0 || line[0] == '#')
		return 0;
	sp = memrchr(line, ' ', len);
	if (!sp || sp == line || sp + 1 == line + len)
		return LSC_EBADFOLDED;
	for (p = sp + 1; p < line + len; p++) {
		/* a digit, and a count that fits in 64 bits */
		if (*p < '0' || *p > '9' || count > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return LSC_EBADFOLDED;
		count = count * 10 + (uint64_t)(*p - '0');
	}
	/* the counts are added to the tree at the end: their sum must fit as add_path's do */
	if (count > UINT64_MAX - st->f->added)
		return LSC_EBADFOLDED;
	st->f->added += count;
	stack_len = (size_t)(sp - line);
	hash128(line, stack_len, &ha, &hb);
	if ((st->n + 1) * 2 > st->cap && seen_grow(st))
		return -ENOMEM;
	for (j = ha & (st->cap - 1); st->tab[j].leaf; j = (j + 1) & (st->cap - 1)) {
		struct seen *s = &st->tab[j];

		if (s->ha == ha && s->hb == hb && s->len == stack_len) {
			s->count += count;
			return 0;
		}
	}
	/* A stack not seen before: split it and walk the tree. */
	for (p = line, end = line + stack_len; p < end;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t flen = (size_t)((semi ? semi : end) - p);
		int kind = lsc_flame_guess_kind(p, &flen);
		int64_t id;

		if (n == st->path_cap) {
			uint32_t *np =
				realloc(st->path, (st->path_cap = n ? n * 2 : 256) * sizeof(*np));

			if (!np)
				return -ENOMEM;
			st->path = np;
		}
		id = lsc_flame_intern(st->f, p, flen, kind, NULL, 0);
		if (id < 0)
			return (int)id;
		st->path[n++] = (uint32_t)id;
		p = semi ? semi + 1 : end;
	}
	leaf = add_path(st->f, st->path, n, 0);
	if (leaf < 0)
		return (int)leaf;
	st->tab[j] = (struct seen){ha, hb, count, (uint32_t)stack_len, (uint32_t)leaf};
	st->n++;
	return 0;
}

int lsc_flame_from_folded(const char *path, struct lsc_flame **out, uint64_t *bad_line)
{
	const size_t piece = 4u << 20;
	struct folded st = {0};
	char *buf = NULL;
	size_t have = 0, cap = piece;
	uint64_t lineno = 0;
	struct stat sb;
	int fd, err = 0, eof = 0;

	*out = NULL;
	*bad_line = 0;
	fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A file smaller than a piece gets a buffer of its size (and room for a last newline). */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < piece)
		cap = (size_t)sb.st_size + 1;
	err = lsc_flame_new(&st.f);
	buf = malloc(cap);
	if (!err && !buf)
		err = -ENOMEM;
	while (!err && !eof) {
		ssize_t r;
		size_t start = 0;
		char *nl;

		if (have == cap) {
			/* A line longer than the buffer: grow it. */
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0) {
			eof = 1;
			if (have && buf[have - 1] != '\n')
				buf[have++] = '\n'; /* room: have < cap here */
		}
		have += (size_t)r;
		while (!err && (nl = memchr(buf + start, '\n', have - start))) {
			lineno++;
			err = folded_line(&st, buf + start, (size_t)(nl - (buf + start)));
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	if (err == LSC_EBADFOLDED)
		*bad_line = lineno;
	for (size_t i = 0; !err && i < st.cap; i++)
		if (st.tab[i].leaf)
			st.f->nodes[st.tab[i].leaf].self += st.tab[i].count;
	if (!err && st.n == 0)
		err = LSC_EBADFOLDED; /* nothing at all: not a folded file */
	free(buf);
	big_free(st.tab, st.cap * sizeof(*st.tab));
	free(st.path);
	if (fd > 0)
		close(fd);
	if (err) {
		lsc_flame_free(st.f);
		return err;
	}
	lsc_flame_finish(st.f);
	*out = st.f;
	return 0;
}
