/*
 * speedscope.c — flame trees as speedscope's file format (a "sampled" profile per tree, one per
 * thread from `flame`: each distinct stack once, root first, weighted), written with json-c.
 * The frames, shared by the profiles, are the trees' names, with file and line where known.
 */
#include "lsc_render.h"
#include "render_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

struct ss_ctx {
	const struct lsc_flame *f;
	const uint32_t *frame_of; /* the flame's name id -> the shared frame's index */
	json_object *samples, *weights;
};

static int ss_sample(void *ctx, const uint32_t *path, size_t depth, uint64_t self)
{
	struct ss_ctx *c = ctx;
	size_t n, i;
	const struct lsc_flame_node *nodes = lsc_flame_nodes(c->f, &n);
	json_object *stack = json_object_new_array_ext((int)depth);

	for (i = 0; i < depth; i++)
		json_object_array_add(stack,
				      json_object_new_int64(c->frame_of[nodes[path[i]].name]));
	json_object_array_add(c->samples, stack);
	json_object_array_add(c->weights, json_object_new_uint64(self));
	return 0;
}

/* The shared frame table: one frame per (name, file, line) over every profile's tree. */
struct frames {
	json_object *list;
	const struct lsc_flame **of_flame; /* where each frame came from, to compare */
	uint32_t *of_id;
	uint32_t *slot; /* open addressing over frame index + 1 */
	size_t n, cap;
};

static uint64_t frame_hash(const char *name, const char *file, unsigned line)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 1099511628211ULL;
	for (; file && *file; file++)
		h = (h ^ (uint8_t)*file) * 1099511628211ULL;
	return (h ^ line) * 1099511628211ULL;
}

static int same_frame(const struct lsc_flame *a, uint32_t ia, const struct lsc_flame *b,
		      uint32_t ib)
{
	unsigned la, lb;
	const char *fa = lsc_flame_file(a, ia, &la), *fb = lsc_flame_file(b, ib, &lb);

	return !strcmp(lsc_flame_name(a, ia), lsc_flame_name(b, ib)) && la == lb &&
	       (fa && fb ? !strcmp(fa, fb) : fa == fb);
}

static int64_t frame_index(struct frames *t, const struct lsc_flame *f, uint32_t id)
{
	unsigned line;
	const char *file = lsc_flame_file(f, id, &line);
	size_t j = frame_hash(lsc_flame_name(f, id), file, line) & (t->cap - 1);
	json_object *fr;

	for (; t->slot[j]; j = (j + 1) & (t->cap - 1))
		if (same_frame(t->of_flame[t->slot[j] - 1], t->of_id[t->slot[j] - 1], f, id))
			return t->slot[j] - 1;
	fr = json_object_new_object();
	json_object_object_add(fr, "name", json_object_new_string(lsc_flame_name(f, id)));
	if (file) {
		json_object_object_add(fr, "file", json_object_new_string(file));
		if (line)
			json_object_object_add(fr, "line", json_object_new_int64(line));
	}
	json_object_array_add(t->list, fr);
	t->of_flame[t->n] = f;
	t->of_id[t->n] = id;
	t->slot[j] = (uint32_t)++t->n;
	return (int64_t)t->n - 1;
}

int lsc_render_speedscope_profiles(FILE *out, const struct lsc_flame *const *flames,
				   const char *const *names, size_t nprofiles,
				   const struct lsc_profile_opts *o)
{
	json_object *root = json_object_new_object(), *shared = json_object_new_object();
	json_object *profiles = json_object_new_array();
	struct frames t = {.list = json_object_new_array()};
	uint32_t *frame_of = NULL;
	const char *unit = o->unit;
	size_t i, p, total = 0;
	int err = 0;

	/* speedscope's units: none, nanoseconds, microseconds, milliseconds, seconds, bytes. */
	if (strcmp(unit, "nanoseconds") && strcmp(unit, "bytes"))
		unit = "none";
	for (p = 0; p < nprofiles; p++)
		total += lsc_flame_nnames(flames[p]);
	for (t.cap = 16; t.cap < 2 * total; t.cap *= 2)
		;
	t.slot = calloc(t.cap, sizeof(*t.slot));
	t.of_flame = calloc(total + 1, sizeof(*t.of_flame));
	t.of_id = calloc(total + 1, sizeof(*t.of_id));
	if (!t.slot || !t.of_flame || !t.of_id)
		err = -ENOMEM;
	for (p = 0; !err && p < nprofiles; p++) {
		const struct lsc_flame *f = flames[p];
		size_t nnames = lsc_flame_nnames(f);
		json_object *pr = json_object_new_object();
		struct ss_ctx c = {f, NULL, json_object_new_array(), json_object_new_array()};

		free(frame_of);
		frame_of = calloc(nnames + 1, sizeof(*frame_of));
		if (!frame_of) {
			json_object_put(c.samples);
			json_object_put(c.weights);
			json_object_put(pr);
			err = -ENOMEM;
			break;
		}
		for (i = 1; i < nnames; i++)
			frame_of[i] = (uint32_t)frame_index(&t, f, (uint32_t)i);
		c.frame_of = frame_of;
		err = lsc__flame_walk(f, ss_sample, &c);
		json_object_object_add(pr, "type", json_object_new_string("sampled"));
		json_object_object_add(pr, "name", json_object_new_string(names[p]));
		json_object_object_add(pr, "unit", json_object_new_string(unit));
		json_object_object_add(pr, "startValue", json_object_new_int64(0));
		json_object_object_add(pr, "endValue", json_object_new_uint64(lsc_flame_total(f)));
		json_object_object_add(pr, "samples", c.samples);
		json_object_object_add(pr, "weights", c.weights);
		json_object_array_add(profiles, pr);
	}
	json_object_object_add(shared, "frames", t.list);
	json_object_object_add(
		root, "$schema",
		json_object_new_string("https://www.speedscope.app/file-format-schema.json"));
	json_object_object_add(root, "shared", shared);
	json_object_object_add(root, "profiles", profiles);
	json_object_object_add(root, "name", json_object_new_string(o->name));
	json_object_object_add(root, "activeProfileIndex", json_object_new_int(0));
	json_object_object_add(root, "exporter", json_object_new_string("loopscope " LSC_VERSION));
	if (!err && (fputs(json_object_to_json_string_ext(
				   root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			   out) < 0 ||
		     fputc('\n', out) == EOF))
		err = -EIO;
	json_object_put(root);
	free(frame_of);
	free(t.slot);
	free(t.of_flame);
	free(t.of_id);
	return err;
}

int lsc_render_speedscope(FILE *out, const struct lsc_flame *f, const struct lsc_profile_opts *o)
{
	return lsc_render_speedscope_profiles(out, &f, &o->name, 1, o);
}
