/*
 * v8_names.c — a SharedFunctionInfo of a running node resolved to its function's name, script and
 * line, read from the target's memory (process_vm_readv) through the layouts of v8_meta.c; what
 * each step relies on: v8.h.
 *
 * Every object read is checked by its map's instance type before it is believed; a value that
 * is not what it should be leaves the frame unnamed (an address), never named after another
 * function. Resolved functions are cached by SFI address, and scripts' line ends by Script
 * address, until lsc_v8_forget() (a compacting GC may have moved either): the cost is then a
 * handful of reads per function the first time it is seen.
 *
 * Written here, not taken from a library: no Debian library reads V8's heap from outside.
 */
#include "v8_internal.h"

#include <linux/types.h>

#include "loop.h" /* LSCB_SFI_PRINT */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SOURCE	 (16u << 20) /* bytes of a script read to count its lines */
#define MAX_LINES	 (1u << 21)
#define SCRIPT_SLOTS	 1024
#define SCOPE_SLOTS	 24
#define INLINED_LOCALS	 75 /* V8 11: more context locals keep their names in a hash table */
#define STRING_MAX_DEPTH 16

struct v8_script {
	uint64_t addr;
	uint32_t *ends; /* positions of '\n', ascending */
	uint32_t n;
	uint32_t source_len; /* 0: unknown */
	uint32_t tries;	     /* its lines looked for, while none were found */
	uint64_t tried_ns;   /* when last */
};

/* A script whose lines could not be read (its source or line ends moving under the read in a
 * collection, or not yet there) is tried again, at most this often and this long apart, before
 * its functions go without lines for good: tries in quick succession all met the same state. */
#define SCRIPT_TRIES	10
#define SCRIPT_RETRY_NS 50000000ULL

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static uint64_t untag(uint64_t p)
{
	return p - 1;
}

static int is_object(const struct lsc_v8 *v, uint64_t p)
{
	return p && (p & v->L.tag_mask) == v->L.tag;
}

static int is_smi(uint64_t p)
{
	return (p & 1) == 0;
}

static int64_t smi(const struct lsc_v8 *v, uint64_t p)
{
	return (int64_t)p >> v->L.smi_shift;
}

static int read_word(struct lsc_v8 *v, uint64_t addr, uint64_t *out)
{
	return lsc_v8_read(v, addr, out, sizeof(*out));
}

/* The instance type of the heap object p; -1 when p is not one. */
static int type_of(struct lsc_v8 *v, uint64_t p)
{
	uint64_t map;
	uint16_t t;

	if (!is_object(v, p) || read_word(v, untag(p) + v->L.map, &map) || !is_object(v, map) ||
	    lsc_v8_read(v, untag(map) + v->L.map_instance_type, &t, sizeof(t)))
		return -1;
	return t;
}

/* ------------------------------------------------------------------ strings */

struct sink {
	char *buf; /* NULL: only positions of newlines are kept */
	size_t cap, len;
	uint32_t *ends, n, cap_ends;
	uint32_t max; /* stop after this many characters */
	int bad;
};

static void put(struct sink *s, const uint8_t *c, size_t n)
{
	size_t i;

	for (i = 0; i < n && s->len < s->max; i++, s->len++) {
		if (s->buf) {
			if (c[i] < 0x20 && c[i] != '\t')
				s->bad = 1;
			if (s->len + 1 < s->cap)
				s->buf[s->len] = (char)c[i];
		} else if (c[i] == '\n') {
			if (s->n == s->cap_ends) {
				uint32_t cap = s->cap_ends ? s->cap_ends * 2 : 256;
				uint32_t *m = cap <= MAX_LINES ? realloc(s->ends, cap * sizeof(*m))
							       : NULL;

				if (!m) {
					s->bad = 1;
					return;
				}
				s->ends = m;
				s->cap_ends = cap;
			}
			s->ends[s->n++] = (uint32_t)s->len;
		}
	}
}

/* The characters of String p into the sink: sequential, cons and thin strings, one- or two-byte
 * (a two-byte character beyond ASCII becomes '?'). 0, or -1 when p is not a string this reads. */
static int read_string(struct lsc_v8 *v, uint64_t p, struct sink *s, int depth)
{
	int t = type_of(v, p);
	uint32_t repr, len;
	uint8_t chunk[4096];

	if (t < 0 || (uint32_t)t >= v->L.first_nonstring || depth > STRING_MAX_DEPTH)
		return -1;
	repr = (uint32_t)t & v->L.repr_mask;
	if (repr == v->L.cons_tag) {
		uint64_t first, second;

		if (read_word(v, untag(p) + v->L.cons_first, &first) ||
		    read_word(v, untag(p) + v->L.cons_second, &second) ||
		    read_string(v, first, s, depth + 1))
			return -1;
		return read_string(v, second, s, depth + 1);
	}
	if (repr == v->L.thin_tag) {
		uint64_t actual;

		if (read_word(v, untag(p) + v->L.thin_actual, &actual))
			return -1;
		return read_string(v, actual, s, depth + 1);
	}
	if (repr != v->L.seq_tag ||
	    lsc_v8_read(v, untag(p) + v->L.string_length, &len, sizeof(len)))
		return -1;
	if (((uint32_t)t & v->L.enc_mask) == v->L.one_byte_tag) {
		uint32_t off = 0;

		while (off < len && s->len < s->max && !s->bad) {
			uint32_t n =
				len - off < sizeof(chunk) ? len - off : (uint32_t)sizeof(chunk);

			if (lsc_v8_read(v, untag(p) + v->L.seq_one_byte_chars + off, chunk, n))
				return -1;
			put(s, chunk, n);
			off += n;
		}
		return 0;
	}
	/* two-byte: the same header as a one-byte sequential string */
	for (uint32_t off = 0; off < len && s->len < s->max && !s->bad;) {
		uint16_t w[1024];
		uint8_t c[1024];
		uint32_t n = len - off < 1024 ? len - off : 1024, i;

		if (lsc_v8_read(v, untag(p) + v->L.seq_one_byte_chars + 2 * (uint64_t)off, w,
				2 * (size_t)n))
			return -1;
		for (i = 0; i < n; i++)
			c[i] = w[i] < 0x80 ? (uint8_t)w[i] : '?';
		put(s, c, n);
		off += n;
	}
	return 0;
}

/* A short string (a name) into buf; its length, or -1. */
static int short_string(struct lsc_v8 *v, uint64_t p, char *buf, size_t cap)
{
	struct sink s = {.buf = buf, .cap = cap, .max = (uint32_t)cap - 1};

	if (read_string(v, p, &s, 0) || s.bad)
		return -1;
	buf[s.len < cap ? s.len : cap - 1] = 0;
	return (int)s.len;
}

/* ------------------------------------------------------------------ scripts and lines */

uint32_t lsc_v8_line_of(const uint32_t *ends, size_t n, uint32_t pos)
{
	size_t lo = 0, hi = n;

	/* the first line end at or after pos: its index + 1 */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ends[mid] < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo + 1;
}

static struct v8_script *script_lines(struct lsc_v8 *v, uint64_t script)
{
	struct v8_script *s;
	uint64_t le, src;
	uint32_t i;

	if (!v->scripts && !(v->scripts = calloc(SCRIPT_SLOTS, sizeof(*v->scripts))))
		return NULL;
	for (i = (uint32_t)(script >> 3) & (SCRIPT_SLOTS - 1); v->scripts[i].addr;
	     i = (i + 1) & (SCRIPT_SLOTS - 1))
		if (v->scripts[i].addr == script)
			break;
	s = &v->scripts[i];
	if (s->addr == script &&
	    (s->n || s->tries >= SCRIPT_TRIES || mono_ns() - s->tried_ns < SCRIPT_RETRY_NS))
		return s;
	if (s->addr != script) {
		if (v->nscripts * 4 >= SCRIPT_SLOTS * 3)
			return NULL; /* full until the next lsc_v8_forget() */
		v->nscripts++;
		s->addr = script;
	}
	s->tries++;
	s->tried_ns = mono_ns();
	free(s->ends);
	s->ends = NULL;
	s->n = s->source_len = 0;
	if (!read_word(v, untag(script) + v->L.script_line_ends, &le) &&
	    type_of(v, le) == (int)v->L.t_fixed_array) {
		uint64_t lenw, *w;
		int64_t n;

		if (!read_word(v, untag(le) + v->L.fixed_array_length, &lenw) && is_smi(lenw) &&
		    (n = smi(v, lenw)) > 0 && n <= MAX_LINES &&
		    (w = malloc((size_t)n * 8)) != NULL) {
			if (!lsc_v8_read(v, untag(le) + v->L.fixed_array_data, w, (size_t)n * 8) &&
			    (s->ends = malloc((size_t)n * sizeof(*s->ends))) != NULL) {
				for (i = 0; i < (uint32_t)n; i++)
					s->ends[i] = (uint32_t)smi(v, w[i]);
				s->n = (uint32_t)n;
			}
			free(w);
		}
	}
	if (!read_word(v, untag(script) + v->L.script_source, &src)) {
		struct sink k = {.max = MAX_SOURCE};

		if (s->ends) {
			uint32_t len;

			if (lsc_v8_read(v, untag(src) + v->L.string_length, &len, sizeof(len)) ==
				    0 &&
			    type_of(v, src) >= 0 &&
			    (uint32_t)type_of(v, src) < v->L.first_nonstring)
				s->source_len = len;
		} else if (read_string(v, src, &k, 0) == 0 && !k.bad) {
			s->ends = k.ends;
			s->n = k.n;
			s->source_len = (uint32_t)k.len;
			k.ends = NULL;
		}
		free(k.ends);
	}
	return s;
}

/* ------------------------------------------------------------------ functions */

/* The ScopeInfo's function name (when the SFI has no String of its own) and start position;
 * heuristic as v8.h says. */
static void scope_info(struct lsc_v8 *v, uint64_t si, char *name, size_t cap, int64_t *start,
		       int64_t *end)
{
	uint64_t w[SCOPE_SLOTS], prev = 1;
	int64_t nlocals;
	uint32_t i;

	*start = *end = -1;
	if (lsc_v8_read(v, untag(si) + 8 /* after the map */, w, sizeof(w)) ||
	    v->L.scope_ncontextlocals >= SCOPE_SLOTS || !is_smi(w[v->L.scope_ncontextlocals]))
		return;
	nlocals = smi(v, w[v->L.scope_ncontextlocals]);
	if (nlocals < 0 || nlocals > 1 << 16)
		return;
	i = v->L.scope_first_vars +
	    (uint32_t)(nlocals > INLINED_LOCALS ? 1 + nlocals : 2 * nlocals);
	for (; i < SCOPE_SLOTS; i++) {
		if (!name[0] && is_object(v, w[i]))
			short_string(v, w[i], name, cap);
		if (is_smi(w[i]) && is_smi(prev) && smi(v, prev) >= 0 &&
		    smi(v, prev) < smi(v, w[i])) {
			*start = smi(v, prev);
			*end = smi(v, w[i]);
			return;
		}
		prev = w[i];
	}
}

/* The function at sfi into fn; *retry set when its line is unknown only because its script's
 * lines could not be read yet (worth another try later). */
static int resolve(struct lsc_v8 *v, uint64_t sfi, uint64_t print, struct lsc_v8_fn *fn, int *retry)
{
	uint64_t nos, sod, sname;
	int64_t start = -1, end = -1;
	int t;

	memset(fn, 0, sizeof(*fn));
	if (read_word(v, untag(sfi) + v->L.sfi_name_or_scope_info, &nos) ||
	    read_word(v, untag(sfi) + v->L.sfi_script_or_debug_info, &sod))
		return -1;
	if (LSCB_SFI_PRINT(nos, sod) != print)
		return -2;
	if (type_of(v, sfi) != (int)v->L.t_sfi)
		return -1;
	t = type_of(v, nos);
	if (t >= 0 && (uint32_t)t < v->L.first_nonstring)
		short_string(v, nos, fn->name, sizeof(fn->name));
	else if (t == (int)v->L.t_scope_info)
		scope_info(v, nos, fn->name, sizeof(fn->name), &start, &end);
	if (!fn->name[0])
		snprintf(fn->name, sizeof(fn->name), "(anonymous)");
	if (type_of(v, sod) != (int)v->L.t_script) {
		fn->native = 1;
		return 0;
	}
	if (!read_word(v, untag(sod) + v->L.script_name, &sname))
		short_string(v, sname, fn->script, sizeof(fn->script));
	if (start >= 0) {
		struct v8_script *s = script_lines(v, sod);

		if (s && s->n && (!s->source_len || end <= s->source_len))
			fn->line = lsc_v8_line_of(s->ends, s->n, (uint32_t)start);
		*retry = s && !s->n && s->tries < SCRIPT_TRIES;
	}
	return 0;
}

/* The function cache's two tables (v8_internal.h says why two). */
static int fns_alloc(struct lsc_v8 *v)
{
	if (v->fns)
		return 0;
	v->fns = malloc(V8_FN_SLOTS * sizeof(*v->fns));
	v->fn_store = malloc(V8_FN_SLOTS * 3 / 4 * sizeof(*v->fn_store));
	if (!v->fns || !v->fn_store) {
		free(v->fns);
		free(v->fn_store);
		v->fns = NULL;
		v->fn_store = NULL;
		return -1;
	}
	memset(v->fns, 0, V8_FN_SLOTS * sizeof(*v->fns)); /* written: no zero page behind it */
	return 0;
}

int lsc_v8_resolve(struct lsc_v8 *v, uint64_t sfi, uint64_t print, const struct lsc_v8_fn **out)
{
	struct lsc_v8_fn *fn;
	uint32_t i;
	int r, retry = 0;

	if (!is_object(v, sfi))
		return -1;
	if (fns_alloc(v))
		return -1;
	for (i = (uint32_t)((sfi >> 3) ^ print) & (V8_FN_SLOTS - 1); v->fns[i].sfi;
	     i = (i + 1) & (V8_FN_SLOTS - 1))
		if (v->fns[i].sfi == sfi && v->fns[i].print == print) {
			if (!v->fns[i].retry) {
				*out = &v->fn_store[v->fns[i].at];
				return v->fns[i].ok ? 0 : -1;
			}
			/* its line once more, in the same place */
			fn = &v->fn_store[v->fns[i].at];
			r = resolve(v, sfi, print, fn, &retry);
			v->fns[i].ok = r == 0;
			v->fns[i].retry = (uint8_t)(r == 0 && retry);
			*out = fn;
			return r == -2 ? -1 : r;
		}
	if (v->nfns >= V8_FN_SLOTS * 3 / 4) { /* full: start again */
		lsc_v8_forget(v);
		i = (uint32_t)((sfi >> 3) ^ print) & (V8_FN_SLOTS - 1);
	}
	fn = &v->fn_store[v->nfns];
	r = resolve(v, sfi, print, fn, &retry);
	if (r == -2) /* moved: not cached, the next sample may find it where it is now */
		return -2;
	v->fns[i].sfi = sfi;
	v->fns[i].print = print;
	v->fns[i].at = v->nfns;
	v->fns[i].ok = r == 0;
	v->fns[i].retry = (uint8_t)(r == 0 && retry);
	v->nfns++;
	*out = fn;
	return r;
}

void lsc_v8_forget(struct lsc_v8 *v)
{
	uint32_t i;

	if (v->fns)
		memset(v->fns, 0, V8_FN_SLOTS * sizeof(*v->fns));
	v->nfns = 0;
	v->nscripts = 0;
	if (v->scripts)
		for (i = 0; i < SCRIPT_SLOTS; i++) {
			free(v->scripts[i].ends);
			memset(&v->scripts[i], 0, sizeof(v->scripts[i]));
		}
}

void lsc__v8_names_free(struct lsc_v8 *v)
{
	lsc_v8_forget(v);
	free(v->fns);
	free(v->fn_store);
	free(v->scripts);
	v->fns = NULL;
	v->fn_store = NULL;
	v->scripts = NULL;
}
