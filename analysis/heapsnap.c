/*
 * heapsnap.c — reading a V8 heap snapshot (lsc_heapsnap.h). The file is one JSON object whose
 * "snapshot.meta" says the layout of the flat "nodes" and "edges" number arrays (node_fields,
 * edge_fields, the type names); it is read here, never assumed. The file is mapped, and the
 * scanner is our own: a general JSON library builds an object per array element, which for an
 * 850 MiB snapshot (12 M nodes, 36 M edges: 300 M numbers) is gigabytes and tens of seconds;
 * this one writes each number into its column as it goes. The small "snapshot" object (the
 * meta) is handed to json-c. Every error names the byte offset and what was expected there.
 */
#include "lsc_error.h"
#include "lsc_heapsnap.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct scan {
	const char *b;
	size_t n, i;
	char *err;
	size_t errlen;
	int failed;
	int mapped;	/* b maps the file: the pages read can be let go */
	size_t dropped; /* the bytes before this are let go */
};

#define RELEASE_STEP (64u << 20)

/* The mapped pages already read are dropped from the process (the page cache keeps them): the
 * file's size would otherwise add to the peak memory, an 850 MiB snapshot's pages staying
 * resident next to the columns built from them. */
static void release(struct scan *sc)
{
	size_t upto = sc->i & ~((size_t)RELEASE_STEP - 1);

	if (!sc->mapped || upto <= sc->dropped)
		return;
	madvise((char *)(uintptr_t)sc->b + sc->dropped, upto - sc->dropped, MADV_DONTNEED);
	sc->dropped = upto;
}

static int fail(struct scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct scan *sc, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	if (sc->failed++)
		return LSC_ECORRUPT;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(sc->err, sc->errlen, "at byte %zu: %s", sc->i, what);
	return LSC_ECORRUPT;
}

static void ws(struct scan *sc)
{
	while (sc->i < sc->n && (sc->b[sc->i] == ' ' || sc->b[sc->i] == '\n' ||
				 sc->b[sc->i] == '\r' || sc->b[sc->i] == '\t'))
		sc->i++;
}

static int expect(struct scan *sc, char c)
{
	ws(sc);
	if (sc->i >= sc->n || sc->b[sc->i] != c)
		return fail(sc,
			    sc->i >= sc->n ? "the file ends where '%c' was expected"
					   : "'%c' expected",
			    c);
	sc->i++;
	return 0;
}

/* Past a JSON string (at its opening quote). */
static int skip_string(struct scan *sc)
{
	for (sc->i++; sc->i < sc->n; sc->i++) {
		if (sc->b[sc->i] == '\\')
			sc->i++;
		else if (sc->b[sc->i] == '"') {
			sc->i++;
			return 0;
		}
	}
	return fail(sc, "the file ends inside a string");
}

/* Past any JSON value. */
static int skip_value(struct scan *sc)
{
	int depth = 0;

	ws(sc);
	if (sc->i >= sc->n)
		return fail(sc, "the file ends where a value was expected");
	if (sc->b[sc->i] == '"')
		return skip_string(sc);
	if (sc->b[sc->i] != '{' && sc->b[sc->i] != '[') { /* a number, true, false, null */
		while (sc->i < sc->n && !strchr(",}] \n\r\t", sc->b[sc->i]))
			sc->i++;
		return 0;
	}
	do {
		char c;

		if (sc->i >= sc->n)
			return fail(sc, "the file ends inside a value");
		c = sc->b[sc->i];
		if (c == '"') {
			if (skip_string(sc))
				return LSC_ECORRUPT;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		sc->i++;
	} while (depth > 0);
	return 0;
}

/* A key at the scanner: its text (not unescaped: the format's keys need none). */
static int key(struct scan *sc, const char **k, size_t *klen)
{
	size_t start;

	ws(sc);
	if (sc->i >= sc->n || sc->b[sc->i] != '"')
		return fail(sc, "a key expected");
	start = sc->i + 1;
	if (skip_string(sc))
		return LSC_ECORRUPT;
	*k = sc->b + start;
	*klen = sc->i - 1 - start;
	return expect(sc, ':');
}

static int is_key(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && !memcmp(k, want, n);
}

/* A "[n, n, ...]" of whole numbers, each handed to put (k: its position); *count of them. */
static int numbers(struct scan *sc, void *ctx, int (*put)(void *ctx, uint64_t k, uint64_t v),
		   uint64_t *count)
{
	uint64_t k = 0;

	*count = 0;
	if (expect(sc, '['))
		return LSC_ECORRUPT;
	ws(sc);
	if (sc->i < sc->n && sc->b[sc->i] == ']') {
		sc->i++;
		return 0;
	}
	for (;;) {
		uint64_t v = 0;
		size_t d = 0;

		ws(sc);
		while (sc->i < sc->n && sc->b[sc->i] >= '0' && sc->b[sc->i] <= '9' && d < 20) {
			v = v * 10 + (uint64_t)(sc->b[sc->i++] - '0');
			d++;
		}
		if (!d)
			return fail(sc, "a number expected");
		if (put(ctx, k++, v))
			return fail(sc, "a number out of place (the meta's layout does not fit)");
		*count = k;
		if (!(k & 0xffff))
			release(sc);
		ws(sc);
		if (sc->i < sc->n && sc->b[sc->i] == ',') {
			sc->i++;
			continue;
		}
		return expect(sc, ']');
	}
}

/* ------------------------------------------------------------------ the columns */

struct cols {
	struct lsc_snap *s;
	unsigned nfields;
	int f_type, f_name, f_id, f_self, f_edges; /* node fields; edge fields below */
	int e_type, e_name, e_to;
	uint64_t edges_seen;
};

static int put_node(void *ctx, uint64_t k, uint64_t v)
{
	struct cols *c = ctx;
	struct lsc_snap *s = c->s;
	uint64_t i = k / c->nfields;
	int f = (int)(k % c->nfields);

	if (i >= s->nnodes)
		return -1;
	if (f == c->f_type)
		s->type[i] = v < 256 ? (uint8_t)v : 255;
	else if (f == c->f_name)
		s->name[i] = (uint32_t)v;
	else if (f == c->f_id)
		s->id[i] = (uint32_t)v;
	else if (f == c->f_self)
		s->self[i] = v;
	else if (f == c->f_edges) {
		s->first_edge[i] = (uint32_t)c->edges_seen;
		c->edges_seen += v;
		if (c->edges_seen > s->nedges)
			return -1;
	}
	return 0;
}

static int put_edge(void *ctx, uint64_t k, uint64_t v)
{
	struct cols *c = ctx;
	struct lsc_snap *s = c->s;
	uint64_t i = k / 3;
	int f = (int)(k % 3);

	if (i >= s->nedges)
		return -1;
	if (f == c->e_type)
		s->etype[i] = v < 256 ? (uint8_t)v : 255;
	else if (f == c->e_name)
		s->ename[i] = (uint32_t)v;
	else if (f == c->e_to) {
		if (v % c->nfields || v / c->nfields >= s->nnodes)
			return -1;
		s->eto[i] = (uint32_t)(v / c->nfields);
	}
	return 0;
}

/* A JSON value's text ("" for null). */
static const char *str_of(json_object *o)
{
	const char *t = o ? json_object_get_string(o) : NULL;

	return t ? t : "";
}

static int is_array(json_object *o)
{
	return o && json_object_is_type(o, json_type_array);
}

static int index_of(json_object *arr, const char *name)
{
	size_t i, n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;

	for (i = 0; i < n; i++)
		if (!strcmp(str_of(json_object_array_get_idx(arr, i)), name))
			return (int)i;
	return -1;
}

static int type_index(char names[][32], unsigned n, const char *name)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return (int)i;
	return -1;
}

/* The "snapshot" object: the counts and the meta's layout. */
static int meta(struct scan *sc, struct cols *c)
{
	struct lsc_snap *s = c->s;
	size_t start;
	json_object *o, *m, *nf, *ef, *nt, *et, *v;
	unsigned i;
	int err = 0;

	ws(sc);
	start = sc->i;
	if (skip_value(sc))
		return LSC_ECORRUPT;
	{
		struct json_tokener *tok = json_tokener_new();

		o = tok ? json_tokener_parse_ex(tok, sc->b + start, (int)(sc->i - start)) : NULL;
		if (tok)
			json_tokener_free(tok);
	}
	if (!o || !json_object_object_get_ex(o, "meta", &m) ||
	    !json_object_object_get_ex(m, "node_fields", &nf) ||
	    !json_object_object_get_ex(m, "edge_fields", &ef) ||
	    !json_object_object_get_ex(m, "node_types", &nt) ||
	    !json_object_object_get_ex(m, "edge_types", &et) || !is_array(nf) || !is_array(ef) ||
	    !is_array(nt) || !is_array(et)) {
		sc->i = start;
		json_object_put(o);
		return fail(sc,
			    "the \"snapshot\" object has no meta with node_fields, edge_fields, "
			    "node_types and edge_types");
	}
	c->nfields = (unsigned)json_object_array_length(nf);
	c->f_type = index_of(nf, "type");
	c->f_name = index_of(nf, "name");
	c->f_id = index_of(nf, "id");
	c->f_self = index_of(nf, "self_size");
	c->f_edges = index_of(nf, "edge_count");
	c->e_type = index_of(ef, "type");
	c->e_name = index_of(ef, "name_or_index");
	c->e_to = index_of(ef, "to_node");
	if (c->f_type < 0 || c->f_name < 0 || c->f_id < 0 || c->f_self < 0 || c->f_edges < 0 ||
	    c->e_type < 0 || c->e_name < 0 || c->e_to < 0 || json_object_array_length(ef) != 3 ||
	    c->nfields > 16) {
		sc->i = start;
		err = fail(sc, "the meta's fields are not V8's (type, name, id, self_size, "
			       "edge_count; type, name_or_index, to_node)");
		goto out;
	}
	/* the type names: the first element of the fields' type lists */
	nt = json_object_array_get_idx(nt, (size_t)c->f_type);
	et = json_object_array_get_idx(et, (size_t)c->e_type);
	for (i = 0; is_array(nt) && i < json_object_array_length(nt) && i < 32; i++)
		snprintf(s->type_names[s->ntypes++], 32, "%s",
			 str_of(json_object_array_get_idx(nt, i)));
	for (i = 0; is_array(et) && i < json_object_array_length(et) && i < 16; i++)
		snprintf(s->etype_names[s->netypes++], 32, "%s",
			 str_of(json_object_array_get_idx(et, i)));
	if (!json_object_object_get_ex(o, "node_count", &v) ||
	    (s->nnodes = (uint32_t)json_object_get_int64(v)) == 0 ||
	    !json_object_object_get_ex(o, "edge_count", &v)) {
		sc->i = start;
		err = fail(sc, "the \"snapshot\" object has no node_count and edge_count");
		goto out;
	}
	s->nedges = (uint32_t)json_object_get_int64(v);
	/* a number and its comma take two bytes at least: nothing is allocated for counts the
	 * file cannot hold */
	if ((uint64_t)s->nnodes * c->nfields * 2 > sc->n || (uint64_t)s->nedges * 3 * 2 > sc->n) {
		sc->i = start;
		err = fail(sc, "node_count %u or edge_count %u is more than the file can hold",
			   s->nnodes, s->nedges);
	}
out:
	json_object_put(o);
	return err;
}

static int alloc_columns(struct lsc_snap *s)
{
	s->type = calloc(s->nnodes, 1);
	s->name = calloc(s->nnodes, sizeof(*s->name));
	s->id = calloc(s->nnodes, sizeof(*s->id));
	s->self = calloc(s->nnodes, sizeof(*s->self));
	s->first_edge = calloc((size_t)s->nnodes + 1, sizeof(*s->first_edge));
	s->etype = calloc(s->nedges + 1, 1);
	s->ename = calloc(s->nedges + 1, sizeof(*s->ename));
	s->eto = calloc(s->nedges + 1, sizeof(*s->eto));
	return s->type && s->name && s->id && s->self && s->first_edge && s->etype && s->ename &&
			       s->eto
		       ? 0
		       : -ENOMEM;
}

/* The "strings" array, unescaped into one buffer. */
static int strings(struct scan *sc, struct lsc_snap *s)
{
	size_t cap = 0, used = 0, ocap = 0;

	if (expect(sc, '['))
		return LSC_ECORRUPT;
	for (;;) {
		ws(sc);
		if (sc->i < sc->n && sc->b[sc->i] == ']' && !s->nstrings) {
			sc->i++;
			break;
		}
		if (sc->i >= sc->n || sc->b[sc->i] != '"')
			return fail(sc, "a string expected");
		if (!(s->nstrings & 0xfff))
			release(sc);
		if (s->nstrings == ocap) {
			void *m = realloc(s->stroff,
					  (ocap = ocap ? ocap * 2 : 4096) * sizeof(*s->stroff));

			if (!m)
				return -ENOMEM;
			s->stroff = m;
		}
		s->stroff[s->nstrings++] = used;
		for (sc->i++;; sc->i++) {
			char ch;

			if (sc->i >= sc->n)
				return fail(sc, "the file ends inside a string");
			if (used + 8 > cap) {
				void *m = realloc(s->strbuf, cap = cap ? cap * 2 : 1 << 16);

				if (!m)
					return -ENOMEM;
				s->strbuf = m;
			}
			ch = sc->b[sc->i];
			if (ch == '"')
				break;
			if (ch != '\\') {
				s->strbuf[used++] = ch;
				continue;
			}
			if (++sc->i >= sc->n)
				return fail(sc, "the file ends inside a string");
			ch = sc->b[sc->i];
			if (ch == 'u') {
				unsigned cp = 0, d;

				for (d = 0; d < 4; d++) {
					char h = sc->i + 1 + d < sc->n ? sc->b[sc->i + 1 + d] : 0;

					cp = cp * 16 +
					     (unsigned)(h >= '0' && h <= '9'   ? h - '0'
							: h >= 'a' && h <= 'f' ? h - 'a' + 10
							: h >= 'A' && h <= 'F' ? h - 'A' + 10
									       : 0);
				}
				sc->i += 4;
				/* UTF-8 (a lone surrogate half is written as it is: names only) */
				if (cp < 0x80) {
					s->strbuf[used++] = (char)(cp ? cp : '?');
				} else if (cp < 0x800) {
					s->strbuf[used++] = (char)(0xc0 | cp >> 6);
					s->strbuf[used++] = (char)(0x80 | (cp & 0x3f));
				} else {
					s->strbuf[used++] = (char)(0xe0 | cp >> 12);
					s->strbuf[used++] = (char)(0x80 | (cp >> 6 & 0x3f));
					s->strbuf[used++] = (char)(0x80 | (cp & 0x3f));
				}
				continue;
			}
			s->strbuf[used++] = ch == 'n'	? '\n'
					    : ch == 't' ? '\t'
					    : ch == 'r' ? '\r'
					    : ch == 'b' ? '\b'
					    : ch == 'f' ? '\f'
							: ch;
		}
		sc->i++;
		s->strbuf[used++] = 0;
		ws(sc);
		if (sc->i < sc->n && sc->b[sc->i] == ',') {
			sc->i++;
			continue;
		}
		if (expect(sc, ']'))
			return LSC_ECORRUPT;
		break;
	}
	return 0;
}

static int parse(const char *buf, size_t len, int mapped, struct lsc_snap **out, char *err,
		 size_t errlen)
{
	struct lsc_snap *s = calloc(1, sizeof(*s));
	struct scan sc = {.b = buf, .n = len, .err = err, .errlen = errlen, .mapped = mapped};
	struct cols c = {.s = s};
	uint64_t nnum = 0, enum_ = 0;
	int e = 0, have_meta = 0, have_nodes = 0, have_edges = 0, have_strings = 0;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	if (expect(&sc, '{')) {
		lsc_snap_free(s);
		return LSC_ECORRUPT;
	}
	while (!e) {
		const char *k = NULL;
		size_t kl = 0;

		ws(&sc);
		if (sc.i < sc.n && sc.b[sc.i] == '}')
			break;
		if ((e = key(&sc, &k, &kl)))
			break;
		if ((is_key(k, kl, "snapshot") && have_meta) ||
		    (is_key(k, kl, "nodes") && have_nodes) ||
		    (is_key(k, kl, "edges") && have_edges) ||
		    (is_key(k, kl, "strings") && have_strings)) {
			e = fail(&sc, "\"%.*s\" a second time", (int)kl, k);
			break;
		}
		if (is_key(k, kl, "snapshot")) {
			if (!(e = meta(&sc, &c)))
				e = alloc_columns(s);
			have_meta = !e;
		} else if (is_key(k, kl, "nodes") && have_meta) {
			e = numbers(&sc, &c, put_node, &nnum);
			if (!e && nnum != (uint64_t)s->nnodes * c.nfields)
				e = fail(&sc,
					 "%llu numbers in \"nodes\", not node_count x %u fields",
					 (unsigned long long)nnum, c.nfields);
			have_nodes = 1;
		} else if (is_key(k, kl, "edges") && have_nodes) {
			e = numbers(&sc, &c, put_edge, &enum_);
			if (!e && enum_ != (uint64_t)s->nedges * 3)
				e = fail(&sc,
					 "%llu numbers in \"edges\", not edge_count x 3 fields",
					 (unsigned long long)enum_);
			have_edges = 1;
		} else if (is_key(k, kl, "strings")) {
			e = strings(&sc, s);
			have_strings = 1;
		} else {
			e = skip_value(&sc);
		}
		ws(&sc);
		if (!e && sc.i < sc.n && sc.b[sc.i] == ',')
			sc.i++;
	}
	if (!e && !(have_meta && have_nodes && have_edges && have_strings))
		e = fail(&sc, "the snapshot lacks %s",
			 !have_meta    ? "its \"snapshot\" meta (or it comes after the nodes)"
			 : !have_nodes ? "\"nodes\""
			 : !have_edges ? "\"edges\""
				       : "\"strings\"");
	if (!e && c.edges_seen != s->nedges)
		e = fail(&sc, "the nodes' edge counts add up to %llu, not edge_count %u",
			 (unsigned long long)c.edges_seen, s->nedges);
	if (!e) {
		uint32_t i;

		s->first_edge[s->nnodes] = s->nedges;
		for (i = 0; i < s->nnodes; i++) {
			if (s->name[i] >= s->nstrings)
				s->name[i] = 0;
			s->total_self += s->self[i];
		}
		s->t = (struct lsc_snap_types){
			.hidden = type_index(s->type_names, s->ntypes, "hidden"),
			.array = type_index(s->type_names, s->ntypes, "array"),
			.string = type_index(s->type_names, s->ntypes, "string"),
			.object = type_index(s->type_names, s->ntypes, "object"),
			.code = type_index(s->type_names, s->ntypes, "code"),
			.closure = type_index(s->type_names, s->ntypes, "closure"),
			.regexp = type_index(s->type_names, s->ntypes, "regexp"),
			.number = type_index(s->type_names, s->ntypes, "number"),
			.native = type_index(s->type_names, s->ntypes, "native"),
			.synthetic = type_index(s->type_names, s->ntypes, "synthetic"),
			.concat = type_index(s->type_names, s->ntypes, "concatenated string"),
			.sliced = type_index(s->type_names, s->ntypes, "sliced string"),
			.symbol = type_index(s->type_names, s->ntypes, "symbol"),
			.bigint = type_index(s->type_names, s->ntypes, "bigint"),
			.shape = type_index(s->type_names, s->ntypes, "object shape"),
			.context = type_index(s->etype_names, s->netypes, "context"),
			.element = type_index(s->etype_names, s->netypes, "element"),
			.property = type_index(s->etype_names, s->netypes, "property"),
			.internal = type_index(s->etype_names, s->netypes, "internal"),
			.ehidden = type_index(s->etype_names, s->netypes, "hidden"),
			.shortcut = type_index(s->etype_names, s->netypes, "shortcut"),
			.weak = type_index(s->etype_names, s->netypes, "weak")};
	}
	if (e) {
		if (e == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		lsc_snap_free(s);
		return e;
	}
	*out = s;
	return 0;
}

int lsc_snap_parse(const char *buf, size_t len, struct lsc_snap **out, char *err, size_t errlen)
{
	return parse(buf, len, 0, out, err, errlen);
}

int lsc_snap_read(const char *path, struct lsc_snap **out, char *err, size_t errlen)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	*out = NULL;
	if (fd < 0 || fstat(fd, &st)) {
		e = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode) || !st.st_size) {
		close(fd);
		snprintf(err, errlen, "%s", S_ISREG(st.st_mode) ? "empty" : "not a regular file");
		return LSC_ECORRUPT;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map it: %s", strerror(errno));
		return -errno;
	}
	madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
	e = parse(m, (size_t)st.st_size, 1, out, err, errlen);
	munmap(m, (size_t)st.st_size);
	return e;
}

void lsc_snap_free(struct lsc_snap *s)
{
	if (!s)
		return;
	free(s->type);
	free(s->name);
	free(s->id);
	free(s->self);
	free(s->first_edge);
	free(s->etype);
	free(s->ename);
	free(s->eto);
	free(s->strbuf);
	free(s->stroff);
	free(s->dom);
	free(s->retained);
	free(s->dist);
	free(s->ret_first);
	free(s->ret_edge);
	free(s->ret_from);
	free(s->kid_first);
	free(s->kid);
	free(s->page);
	free(s);
}

const char *lsc_snap_string(const struct lsc_snap *s, uint32_t i)
{
	return i < s->nstrings ? s->strbuf + s->stroff[i] : "";
}
