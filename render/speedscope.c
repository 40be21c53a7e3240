/*
 * speedscope.c — flame trees as speedscope's file format (one "sampled" profile: each distinct
 * stack once, root first, weighted), written with json-c. The frames are the tree's interned
 * names, with file and line where known.
 */
#include "lsc_render.h"
#include "render_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

struct ss_ctx {
	const struct lsc_flame *f;
	json_object *samples, *weights;
};

static int ss_sample(void *ctx, const uint32_t *path, size_t depth, uint64_t self)
{
	struct ss_ctx *c = ctx;
	size_t n, i;
	const struct lsc_flame_node *nodes = lsc_flame_nodes(c->f, &n);
	json_object *stack = json_object_new_array_ext((int)depth);

	for (i = 0; i < depth; i++)
		json_object_array_add(stack, json_object_new_int64(nodes[path[i]].name - 1));
	json_object_array_add(c->samples, stack);
	json_object_array_add(c->weights, json_object_new_uint64(self));
	return 0;
}

int lsc_render_speedscope(FILE *out, const struct lsc_flame *f, const struct lsc_profile_opts *o)
{
	json_object *root = json_object_new_object(), *shared = json_object_new_object();
	json_object *frames = json_object_new_array(), *profiles = json_object_new_array();
	json_object *p = json_object_new_object();
	struct ss_ctx c = {f, json_object_new_array(), json_object_new_array()};
	size_t i, nnames = lsc_flame_nnames(f);
	const char *unit = o->unit;
	int err;

	/* speedscope's units: none, nanoseconds, microseconds, milliseconds, seconds, bytes. */
	if (strcmp(unit, "nanoseconds") && strcmp(unit, "bytes"))
		unit = "none";
	for (i = 1; i < nnames; i++) {
		json_object *fr = json_object_new_object();
		unsigned line;
		const char *file = lsc_flame_file(f, (uint32_t)i, &line);

		json_object_object_add(fr, "name",
				       json_object_new_string(lsc_flame_name(f, (uint32_t)i)));
		if (file) {
			json_object_object_add(fr, "file", json_object_new_string(file));
			if (line)
				json_object_object_add(fr, "line", json_object_new_int64(line));
		}
		json_object_array_add(frames, fr);
	}
	err = lsc__flame_walk(f, ss_sample, &c);
	json_object_object_add(shared, "frames", frames);
	json_object_object_add(
		root, "$schema",
		json_object_new_string("https://www.speedscope.app/file-format-schema.json"));
	json_object_object_add(root, "shared", shared);
	json_object_object_add(p, "type", json_object_new_string("sampled"));
	json_object_object_add(p, "name", json_object_new_string(o->name));
	json_object_object_add(p, "unit", json_object_new_string(unit));
	json_object_object_add(p, "startValue", json_object_new_int64(0));
	json_object_object_add(p, "endValue", json_object_new_uint64(lsc_flame_total(f)));
	json_object_object_add(p, "samples", c.samples);
	json_object_object_add(p, "weights", c.weights);
	json_object_array_add(profiles, p);
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
	return err;
}
