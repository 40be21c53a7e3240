/*
 * pprof.c — flame trees as pprof profiles: a gzip-compressed perftools.profiles.Profile
 * (profile.proto here), one Function and one Location per distinct frame, one Sample per
 * distinct stack (location ids leaf first), string table entry 0 empty, one Mapping.
 */
#include "lsc_render.h"
#include "render_internal.h"
#include "profile.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct strtab {
	char **v;
	size_t n, cap;
};

static int64_t str_add(struct strtab *t, const char *s)
{
	if (t->n == t->cap) {
		char **nv = realloc(t->v, (t->cap = t->cap ? t->cap * 2 : 256) * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		t->v = nv;
	}
	t->v[t->n] = (char *)s;
	return (int64_t)t->n++;
}

struct samples_ctx {
	const struct lsc_flame *f;
	Perftools__Profiles__Sample *samples;
	Perftools__Profiles__Sample **ptrs;
	uint64_t *locs;	 /* all location ids, in one block */
	int64_t *values; /* one per sample */
	size_t n, nlocs;
};

static int count_sample(void *ctx, const uint32_t *path, size_t depth, uint64_t self)
{
	struct samples_ctx *c = ctx;

	c->n++;
	c->nlocs += depth;
	return 0;
}

static int fill_sample(void *ctx, const uint32_t *path, size_t depth, uint64_t self)
{
	struct samples_ctx *c = ctx;
	size_t n, i;
	const struct lsc_flame_node *nodes = lsc_flame_nodes(c->f, &n);
	Perftools__Profiles__Sample *s = &c->samples[c->n];
	uint64_t *locs = c->locs + c->nlocs;

	perftools__profiles__sample__init(s);
	for (i = 0; i < depth; i++)
		locs[i] = nodes[path[depth - 1 - i]].name; /* location id = frame id, leaf first */
	s->location_id = locs;
	s->n_location_id = depth;
	c->values[c->n] = (int64_t)self;
	s->value = &c->values[c->n];
	s->n_value = 1;
	c->ptrs[c->n] = s;
	c->n++;
	c->nlocs += depth;
	return 0;
}

static int gzip_write(FILE *out, const uint8_t *buf, size_t len)
{
	uint8_t chunk[65536];
	z_stream z = {0};
	int zr;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY))
		return -ENOMEM;
	z.next_in = (uint8_t *)buf;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (fwrite(chunk, 1, sizeof(chunk) - z.avail_out, out) !=
		    sizeof(chunk) - z.avail_out) {
			deflateEnd(&z);
			return -EIO;
		}
	} while (zr == Z_OK);
	deflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : -EIO;
}

int lsc_render_pprof(FILE *out, const struct lsc_flame *f, const struct lsc_profile_opts *o)
{
	size_t nnames = lsc_flame_nnames(f), i, len;
	Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType st = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *stp = &st;
	Perftools__Profiles__ValueType pt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	Perftools__Profiles__Mapping map = PERFTOOLS__PROFILES__MAPPING__INIT, *mapp = &map;
	Perftools__Profiles__Function *fn = calloc(nnames, sizeof(*fn)),
				      **fnp = calloc(nnames, sizeof(*fnp));
	Perftools__Profiles__Location *loc = calloc(nnames, sizeof(*loc)),
				      **locp = calloc(nnames, sizeof(*locp));
	Perftools__Profiles__Line *line = calloc(nnames, sizeof(*line)),
				  **linep = calloc(nnames, sizeof(*linep));
	struct samples_ctx sc = {.f = f};
	struct strtab t = {0};
	uint8_t *buf = NULL;
	int64_t type_s, unit_s;
	int err = 0;

	if (!fn || !fnp || !loc || !locp || !line || !linep) {
		err = -ENOMEM;
		goto out;
	}
	str_add(&t, "");
	type_s = str_add(&t, o->type);
	unit_s = str_add(&t, o->unit);
	st.type = type_s;
	st.unit = unit_s;
	p.sample_type = &stp;
	p.n_sample_type = 1;
	if (o->period) {
		pt.type = o->period_type ? str_add(&t, o->period_type) : type_s;
		pt.unit = o->period_unit ? str_add(&t, o->period_unit) : unit_s;
		p.period_type = &pt;
		p.period = o->period;
	}
	p.time_nanos = o->time_nanos;
	p.duration_nanos = o->duration_nanos;
	map.id = 1;
	map.filename = str_add(&t, o->mapping ? o->mapping : "loopscope");
	map.has_functions = 1;
	p.mapping = &mapp;
	p.n_mapping = 1;
	/* Frame id k (1..nnames-1) is function k and location k. */
	for (i = 1; i < nnames; i++) {
		unsigned ln;
		const char *file = lsc_flame_file(f, (uint32_t)i, &ln);
		int64_t name = str_add(&t, lsc_flame_name(f, (uint32_t)i));

		perftools__profiles__function__init(&fn[i]);
		fn[i].id = i;
		fn[i].name = fn[i].system_name = name;
		if (file) {
			fn[i].filename = str_add(&t, file);
			map.has_filenames = map.has_line_numbers = 1;
			/* a JS function's line is where it starts (V8's name says so) */
			if (lsc_flame_kind(f, (uint32_t)i) == LSC_CODE_JIT)
				fn[i].start_line = ln;
		}
		fnp[i - 1] = &fn[i];
		perftools__profiles__line__init(&line[i]);
		line[i].function_id = i;
		line[i].line = file ? ln : 0;
		linep[i] = &line[i];
		perftools__profiles__location__init(&loc[i]);
		loc[i].id = i;
		loc[i].mapping_id = 1;
		loc[i].line = &linep[i];
		loc[i].n_line = 1;
		locp[i - 1] = &loc[i];
	}
	if (t.n < nnames + 3) {
		err = -ENOMEM;
		goto out;
	}
	p.function = fnp;
	p.n_function = nnames - 1;
	p.location = locp;
	p.n_location = nnames - 1;
	p.string_table = t.v;
	p.n_string_table = t.n;

	lsc__flame_walk(f, count_sample, &sc);
	sc.samples = calloc(sc.n + 1, sizeof(*sc.samples));
	sc.ptrs = calloc(sc.n + 1, sizeof(*sc.ptrs));
	sc.locs = calloc(sc.nlocs + 1, sizeof(*sc.locs));
	sc.values = calloc(sc.n + 1, sizeof(*sc.values));
	if (!sc.samples || !sc.ptrs || !sc.locs || !sc.values) {
		err = -ENOMEM;
		goto out;
	}
	sc.n = sc.nlocs = 0;
	lsc__flame_walk(f, fill_sample, &sc);
	p.sample = sc.ptrs;
	p.n_sample = sc.n;

	len = perftools__profiles__profile__get_packed_size(&p);
	buf = malloc(len ? len : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	perftools__profiles__profile__pack(&p, buf);
	err = gzip_write(out, buf, len);
out:
	free(buf);
	free(sc.samples);
	free(sc.ptrs);
	free(sc.locs);
	free(sc.values);
	free(t.v);
	free(fn);
	free(fnp);
	free(loc);
	free(locp);
	free(line);
	free(linep);
	return err;
}
