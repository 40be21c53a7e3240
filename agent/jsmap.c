/*
 * jsmap.c — the names of the JavaScript frames in the recording: one synthetic address per
 * function, with its Symbol record.
 *
 * A JS frame is named when its stack is interned, from the SharedFunctionInfo its frame held when
 * the stack was taken (node_frames.c, node_names.c). The frame's address is replaced by a
 * synthetic one that stands for the function: 0x4000000000000000 + its id, an address no process
 * can have (non-canonical on x86-64), with a Symbol record written once (function, script, line;
 * jit). One function is one id whatever V8's tier (interpreted, Sparkplug, Maglev, TurboFan):
 * every output merges them, as a person thinks of them. The JS heap's allocation sites
 * (jsheap.c) take their ids here too, by the same name, script and line.
 *
 * The table: open addressing keyed by name, script and line; it starts at 4,096 slots and
 * doubles (lsc_map_table: why a table filled at random places is sized to what it holds), up to
 * 128 K functions and 32 MiB of names; beyond that frames stay addresses and are counted.
 *
 * Written here, not taken from a library: it lives in the agent, allocates nothing but its own
 * mappings, and is only ever touched by the writer.
 */
#include "writer.h"

#include "v8.h" /* struct lsc_v8_fn (bpf/v8_names.c) */

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#define W	    lsc__W

#define JS_SYNTH    0x4000000000000000ULL
#define FUNCS_CAP   (1u << 18) /* slots in the function table, at most (half may be used) */
#define FUNCS_FIRST (1u << 12) /* and at first: it doubles as it fills */
#define ARENA_CAP   (32u << 20)
#define KEY_MAX	    1100

struct func {
	uint64_t hash;
	uint32_t key_off, key_len; /* name, script and line: the function's identity */
	uint32_t name_off, name_len, script_off, script_len;
	uint32_t line;
	uint32_t fid;
	int written; /* its Symbol record is in the file */
	int v8;	     /* V8's own code, not a JS function */
};

static struct {
	int ready;
	struct func *funcs; /* open addressing, funcs_cap slots */
	uint32_t funcs_cap;
	struct func **by_id;
	uint32_t nfuncs;
	char *arena;
	size_t arena_used;
	uint64_t dropped;
} M;

static int ready(void)
{
	if (M.ready)
		return M.ready > 0;
	M.funcs_cap = FUNCS_FIRST;
	M.funcs = lsc_map_table(FUNCS_FIRST * sizeof(*M.funcs));
	M.by_id = lsc_map_zeroed(FUNCS_CAP / 2 * sizeof(*M.by_id));
	M.arena = lsc_map_zeroed(ARENA_CAP);
	M.ready = M.funcs && M.by_id && M.arena ? 1 : -1;
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

/* The function of that name, script and line (v8: V8's own code, not a JS function); its id,
 * 0 when there is no room. */
static uint32_t func_of(const char *name, size_t nlen, const char *script, size_t slen,
			uint32_t line, int v8)
{
	char key[KEY_MAX];
	size_t klen, j;
	uint64_t h;
	struct func *f;
	int64_t ko;

	if (!nlen) {
		name = "(anonymous)"; /* as V8's SFI reader names it (bpf/v8_names.c) */
		nlen = 11;
	}
	if (nlen > 500)
		nlen = 500;
	if (slen > 580)
		slen = 580;
	memcpy(key, name, nlen);
	key[nlen] = 0;
	memcpy(key + nlen + 1, script, slen);
	klen = nlen + 1 + slen;
	klen += (size_t)snprintf(key + klen, sizeof(key) - klen, ":%u:%d", line, v8);
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
	/* the key holds the name and the script: the Symbol's strings are in it */
	if ((ko = arena_put(key, klen)) < 0)
		return 0;
	f->hash = h;
	f->key_off = (uint32_t)ko;
	f->key_len = (uint32_t)klen;
	f->name_off = (uint32_t)ko;
	f->name_len = (uint32_t)nlen;
	f->script_off = (uint32_t)(ko + (int64_t)nlen + 1);
	f->script_len = (uint32_t)slen;
	f->line = line;
	f->v8 = v8;
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

/* ------------------------------------------------------------------ frames */

/* The synthetic address of function fid, its Symbol record written once. */
static uint64_t addr_of(uint32_t fid)
{
	struct func *f = M.by_id[fid];

	if (!f->written) {
		write_symbol(f, JS_SYNTH + fid);
		f->written = 1;
	}
	return JS_SYNTH + fid;
}

void lsc__js_rewrite(uint64_t *frames, const uint64_t *aux, uint32_t n)
{
	uint32_t k, fid;

	if (!aux || !ready())
		return;
	for (k = 0; k < n; k++) {
		const struct lsc_v8_fn *fn;

		if (!aux[2 * k])
			continue;
		/* a caller's frame holds a return address: the call is just before it */
		fn = lsc__node_name(frames[k] - (k > 0), aux[2 * k], aux[2 * k + 1]);
		if (!fn)
			continue;
		fid = func_of(fn->name, strlen(fn->name), fn->script, strlen(fn->script), fn->line,
			      0);
		if (!fid) {
			M.dropped++;
			continue;
		}
		frames[k] = addr_of(fid);
	}
}

uint64_t lsc__js_dropped(void)
{
	return M.dropped;
}

/* The synthetic address of a function by its name, script and line (the sampling heap
 * profiler's nodes, jsheap.c; v8: V8's own, "(V8 API)"), its Symbol record written once; 0 when
 * there is no room. */
uint64_t lsc__js_func_addr(const char *name, size_t nlen, const char *script, size_t slen,
			   uint32_t line, int v8)
{
	uint32_t fid;

	if (!ready() || !(fid = func_of(name, nlen, script, slen, line, v8)))
		return 0;
	return addr_of(fid);
}
