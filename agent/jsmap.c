/*
 * jsmap.c — the writer's map of V8's generated code (node_jit.c's events), and the names of the
 * JavaScript frames in the recording.
 *
 * A JS frame is named when its stack is interned, from the code that is at its address then:
 * the writer applies the code events of a thread's ring in order with the samples and calls of
 * that thread, so a function V8 frees and whose address it gives to another is named right on
 * either side of the change. The frame's address is replaced by a synthetic one that stands for
 * the function: 0x4000000000000000 + its id, an address no process can have (non-canonical on
 * x86-64), with a Symbol record written once (function, script, line; jit). One function is one
 * id whatever V8's tier ("JS:~f", "JS:^f", "JS:+f", "JS:*f": interpreted, Sparkplug, Maglev,
 * TurboFan): every output merges them, as a person thinks of them.
 *
 * The map: code ranges sorted by start, each with the function's id and the sequence number of
 * its event; additions go to a small unsorted list first and are merged in before a lookup, the
 * newer of two overlapping ranges winning (V8 reuses the memory of code it freed without telling:
 * CODE_REMOVED is rare). Bounded: 1 M ranges, 128 K functions, 32 MiB of names; beyond
 * that code is counted as dropped and its frames stay addresses. The function table starts at
 * 4,096 slots and doubles (lsc_map_table: why a table filled at random places is sized to
 * what it holds).
 *
 * Written here, not taken from a library: it lives in the agent, allocates nothing after start
 * (mmap'd, bounded), and is only ever touched by the writer.
 */
#include "writer.h"

#include <stdlib.h>
#include <string.h>

#define W	     lsc__W

#define JS_SYNTH     0x4000000000000000ULL
#define CODES_CAP    (1u << 20)
#define PENDING_CAP  (1u << 14)
#define FUNCS_CAP    (1u << 18) /* slots in the function table, at most (half may be used) */
#define FUNCS_FIRST  (1u << 12) /* and at first: it doubles as it fills */
#define ARENA_CAP    (32u << 20)
#define NAME_KEY_MAX 1100
#define EARLY_CAP    (1u << 14)

struct code {
	uint64_t start, end, seq;
	uint32_t fid;
};

struct func {
	uint64_t hash;
	uint32_t key_off, key_len; /* V8's name without the tier: the function's identity */
	uint32_t name_off, name_len, script_off, script_len;
	uint32_t line;
	uint32_t fid;
	int written; /* its Symbol record is in the file */
	int v8;	     /* V8's own code, not a JS function */
};

static struct {
	int ready;
	struct code *codes, *pending, *merge;
	size_t ncodes, npending;
	uint64_t seq;
	struct func *funcs; /* open addressing, funcs_cap slots */
	uint32_t funcs_cap;
	struct func **by_id;
	uint32_t nfuncs;
	char *arena;
	size_t arena_used;
	uint64_t lo, hi; /* where JS code has been: V8's code area */
	uint64_t *early; /* frames interned before their code event, to be named later */
	size_t nearly;
	uint64_t dropped;
} M;

static int ready(void)
{
	if (M.ready)
		return M.ready > 0;
	M.codes = lsc_map_zeroed(CODES_CAP * sizeof(*M.codes));
	M.pending = lsc_map_zeroed(PENDING_CAP * sizeof(*M.pending));
	M.merge = lsc_map_zeroed(CODES_CAP * sizeof(*M.merge));
	M.funcs_cap = FUNCS_FIRST;
	M.funcs = lsc_map_table(FUNCS_FIRST * sizeof(*M.funcs));
	M.by_id = lsc_map_zeroed(FUNCS_CAP / 2 * sizeof(*M.by_id));
	M.arena = lsc_map_zeroed(ARENA_CAP);
	M.early = lsc_map_table(EARLY_CAP * sizeof(*M.early));
	M.ready = M.codes && M.pending && M.merge && M.funcs && M.by_id && M.arena ? 1 : -1;
	return M.ready > 0;
}

/* ------------------------------------------------------------------ functions */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return h | 1;
}

static int64_t arena_put(const char *s, size_t n)
{
	size_t at = M.arena_used;

	if (n > ARENA_CAP - M.arena_used)
		return -1;
	memcpy(M.arena + at, s, n);
	M.arena_used += n;
	return (int64_t)at;
}

/* The function table, twice as large (at most FUNCS_CAP slots); 0 when it cannot grow. */
static int funcs_grow(void)
{
	uint32_t cap = M.funcs_cap * 2, i, j;
	struct func *t;

	if (cap > FUNCS_CAP || !(t = lsc_map_table(cap * sizeof(*t))))
		return 0;
	for (i = 0; i < M.funcs_cap; i++) {
		if (!M.funcs[i].hash)
			continue;
		for (j = M.funcs[i].hash & (cap - 1); t[j].hash; j = (j + 1) & (cap - 1))
			;
		t[j] = M.funcs[i];
		M.by_id[t[j].fid] = &t[j];
	}
	lsc_unmap(M.funcs, M.funcs_cap * sizeof(*M.funcs));
	M.funcs = t;
	M.funcs_cap = cap;
	return 1;
}

/* The function a V8 code name stands for (a JS function's without its tier; V8's own code,
 * builtins, stubs, handlers, by their whole name); 0 when there is no room. */
static uint32_t func_of(const char *name, size_t len)
{
	char key[NAME_KEY_MAX];
	struct lsc_js_name jn;
	size_t klen, j;
	uint64_t h;
	struct func *f;
	int64_t ko, no, so;

	/* its identity: V8's name without the tier marker */
	lsc_js_name_parse(name, len, &jn);
	if (jn.tier_at != LSC_JS_NO_TIER) {
		klen = len - 1 < sizeof(key) ? len - 1 : sizeof(key);
		memcpy(key, name, jn.tier_at);
		memcpy(key + jn.tier_at, name + jn.tier_at + 1, klen - jn.tier_at);
	} else {
		klen = len < sizeof(key) ? len : sizeof(key);
		memcpy(key, name, klen);
	}
	h = hash_bytes(key, klen);
	for (j = h & (M.funcs_cap - 1);; j = (j + 1) & (M.funcs_cap - 1)) {
		f = &M.funcs[j];
		if (!f->hash)
			break;
		if (f->hash == h && f->key_len == klen && !memcmp(M.arena + f->key_off, key, klen))
			return f->fid;
	}
	if (M.nfuncs + 1 >= M.funcs_cap / 2) {
		if (!funcs_grow())
			return 0;
		for (j = h & (M.funcs_cap - 1); M.funcs[j].hash; j = (j + 1) & (M.funcs_cap - 1))
			;
		f = &M.funcs[j];
	}
	ko = arena_put(key, klen);
	no = arena_put(name + jn.fn_off, jn.fn_len);
	so = arena_put(name + jn.script_off, jn.script_len);
	if (ko < 0 || no < 0 || so < 0)
		return 0;
	f->hash = h;
	f->key_off = (uint32_t)ko;
	f->key_len = (uint32_t)klen;
	f->name_off = (uint32_t)no;
	f->name_len = (uint32_t)jn.fn_len;
	f->script_off = (uint32_t)so;
	f->script_len = (uint32_t)jn.script_len;
	f->line = jn.line;
	f->v8 = jn.kind == LSC_JS_V8;
	f->fid = ++M.nfuncs;
	M.by_id[f->fid] = f;
	return f->fid;
}

/* A Symbol record naming addr (the function's synthetic address, or a raw one) as f. */
static void write_symbol(struct func *f, uint64_t addr)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Symbol s = LOOPSCOPE__SYMBOL__INIT;
	char name[512], script[1024];
	size_t n = f->name_len < sizeof(name) - 1 ? f->name_len : sizeof(name) - 1;
	size_t k = f->script_len < sizeof(script) - 1 ? f->script_len : sizeof(script) - 1;

	memcpy(name, M.arena + f->name_off, n);
	name[n] = 0;
	memcpy(script, M.arena + f->script_off, k);
	script[k] = 0;
	s.has_addr = s.has_jit = 1;
	s.jit = !f->v8; /* V8's own is runtime code, by its name ("Builtin:", "Stub:") */
	s.addr = addr;
	s.function = n ? name : (char *)"(anonymous)";
	s.file = k ? script : NULL;
	s.has_line = f->line != 0;
	s.line = f->line;
	r.body_case = LOOPSCOPE__RECORD__BODY_SYMBOL;
	r.symbol = &s;
	lsc__w_put(&r);
}

/* ------------------------------------------------------------------ code ranges */

static int by_start(const void *a, const void *b)
{
	const struct code *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The pending additions merged in; of two overlapping ranges the newer stays. */
static void merge(void)
{
	size_t i = 0, j = 0, n = 0;

	if (!M.npending)
		return;
	qsort(M.pending, M.npending, sizeof(*M.pending), by_start);
	while (i < M.ncodes || j < M.npending) {
		struct code c = j == M.npending || (i < M.ncodes &&
						    by_start(&M.codes[i], &M.pending[j]) < 0)
					? M.codes[i++]
					: M.pending[j++];

		if (c.end <= c.start)
			continue; /* taken back (moved, removed) */
		while (n && M.merge[n - 1].end > c.start) {
			if (M.merge[n - 1].seq > c.seq)
				goto skip; /* c is older than what covers its start */
			n--;
		}
		if (n < CODES_CAP)
			M.merge[n++] = c;
		else
			M.dropped++;
	skip:;
	}
	{ /* the merged list is the list now; the old one is the next merge's room */
		struct code *t = M.codes;

		M.codes = M.merge;
		M.merge = t;
	}
	M.ncodes = n;
	M.npending = 0;
}

static void add(uint64_t start, uint64_t len, uint32_t fid)
{
	if (fid && (!M.lo || start < M.lo))
		M.lo = start;
	if (fid && start + len > M.hi)
		M.hi = start + len;
	if (M.npending == PENDING_CAP)
		merge();
	M.pending[M.npending++] = (struct code){start, start + (len ? len : 1), ++M.seq, fid};
}

static struct code *find(uint64_t addr)
{
	size_t lo = 0, hi = M.ncodes;

	merge();
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (M.codes[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && addr < M.codes[lo - 1].end ? &M.codes[lo - 1] : NULL;
}

void lsc__js_code_event(const struct lsc_ev_code *ev, const char *name)
{
	struct code *c;
	uint32_t fid;

	if (!ready())
		return;
	switch (ev->what) {
	case LSC_CODE_ADD:
		/* fid 0: code that is no JS function's now covers the range */
		add(ev->start, ev->len, func_of(name, ev->namelen));
		break;
	case LSC_CODE_MOVE:
		c = find(ev->start);
		if (c && c->start == ev->start) {
			fid = c->fid;
			c->end = c->start;
			add(ev->new_start, ev->len, fid);
		}
		break;
	case LSC_CODE_REMOVE:
		c = find(ev->start);
		if (c && c->start == ev->start)
			c->end = c->start;
		break;
	}
}

/*
 * Frames interned before V8 reported any code (the handler is registered at the main loop's
 * first poll: Node's bootstrap and the main script's first run come before) stay addresses, and
 * so do frames in V8's code area whose code was reported on another thread's ring not drained
 * yet (a concurrent compile). At the end of each cycle those that the map now covers get a
 * Symbol record of their own, named after the code there then (for the early ones not
 * necessarily the code of their time: the best there is for them).
 */
static void note_early(uint64_t addr, int ret)
{
	uint64_t key = addr | (ret ? 1ULL << 63 : 0), h = key * 0x9e3779b97f4a7c15ULL;
	size_t j;

	unsigned probe;

	if (!M.early || M.nearly >= EARLY_CAP / 2)
		return;
	j = h >> 48 & (EARLY_CAP - 1);
	for (probe = 0; probe < 64; probe++, j = (j + 1) & (EARLY_CAP - 1)) {
		if (M.early[j] == key)
			return;
		if (!M.early[j]) {
			M.early[j] = key;
			M.nearly++;
			return;
		}
	}
}

/* The function of the code at addr (a caller's frame: the call just before it), or NULL. */
static struct func *func_at(uint64_t addr, struct code **at)
{
	struct code *c = find(addr);

	*at = c;
	return c && c->fid ? M.by_id[c->fid] : NULL;
}

void lsc__js_rewrite(uint64_t *frames, const uint64_t *aux, uint32_t n)
{
	uint32_t k;

	/* a program that is not Node.js has no code events coming: nothing to map or remember */
	if ((!lsc__js_expected && M.ready == 0) || !ready())
		return;
	for (k = 0; k < n; k++) {
		/* a caller's frame holds a return address: the call is just before it */
		struct code *c;
		struct func *f;

		if (!M.seq) { /* no code reported yet */
			note_early(frames[k], k > 0);
			continue;
		}
		f = func_at(frames[k] - (k > 0), &c);
		if (!c && frames[k] >= M.lo && frames[k] < M.hi)
			note_early(frames[k], k > 0);
		/* V8's own code (the interpreter) running an interpreted frame: the function whose
		 * bytecode it runs (its BytecodeArray is reported as code too); at a function's
		 * entry the offset is one before its first bytecode */
		if ((!f || f->v8) && aux && aux[k]) {
			struct code *b;
			struct func *g = func_at(aux[k], &b);

			if (!g)
				g = func_at(aux[k] + 1, &b);
			if (g && !g->v8)
				f = g;
		}
		if (!f)
			continue;
		if (!f->written) {
			write_symbol(f, JS_SYNTH + f->fid);
			f->written = 1;
		}
		frames[k] = JS_SYNTH + f->fid;
	}
}

void lsc__js_name_early(void)
{
	size_t j;

	if (M.ready <= 0 || !M.seq || !M.nearly)
		return;
	for (j = 0; j < EARLY_CAP; j++) {
		uint64_t key = M.early[j], addr = key & ~(1ULL << 63);
		struct code *c;

		if (!key)
			continue;
		c = find(addr - (key >> 63));
		if (c && c->fid)
			write_symbol(M.by_id[c->fid], addr);
		M.early[j] = 0; /* looked at once, named or not */
	}
	M.nearly = 0;
}

uint64_t lsc__js_dropped(void)
{
	return M.dropped;
}

/* The synthetic address of the function V8 names so (a code name without its tier, as the
 * sampling heap profiler's nodes are turned into by jsheap.c), its Symbol record written once;
 * 0 when there is no room. */
uint64_t lsc__js_func_addr(const char *name, size_t len)
{
	uint32_t fid;
	struct func *f;

	if (!ready() || !(fid = func_of(name, len)))
		return 0;
	f = M.by_id[fid];
	if (!f->written) {
		write_symbol(f, JS_SYNTH + fid);
		f->written = 1;
	}
	return JS_SYNTH + fid;
}
