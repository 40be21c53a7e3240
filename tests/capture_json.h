/*
 * capture_json.h — reading the JSON a capture test's subject writes (refloop's --stats, a Node
 * app's own counts, `loopscope report --json`), failing the case when it is not there; and the
 * npm packages the Node.js apps are built on, installed once into the build tree.
 */
#ifndef LSC_TEST_CAPTURE_JSON_H
#define LSC_TEST_CAPTURE_JSON_H

#include <json-c/json.h>

static __attribute__((unused)) json_object *json_file(const char *file)
{
	json_object *o = json_object_from_file(file);

	if (!o)
		LSC_FAIL("no JSON in %s", file);
	return o;
}

/* o.a.b (o.a when b is NULL), as a number. */
static __attribute__((unused)) double json_at(json_object *o, const char *a, const char *b)
{
	json_object *x, *y;

	if (!json_object_object_get_ex(o, a, &x) || (b && !json_object_object_get_ex(x, b, &y)))
		LSC_FAIL("no %s.%s", a, b ? b : "");
	return json_object_get_double(b ? y : x);
}

/* o.k, or NULL (o NULL too): for walking documents that may lack a part. */
static __attribute__((unused)) json_object *json_get(json_object *o, const char *k)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* Node.js and the pinned npm packages (tests/js/package.json), with NODE_PATH pointing at them
 * for the processes the case starts next. Needs proc.h. */
static __attribute__((unused)) void node_apps_ready(void)
{
	const char *argv[] = {LSC_SOURCE_DIR "/tests/js/npm-deps.sh", LSC_BUILD_DIR, NULL};
	static char deps[600];
	struct proc p;

	if (access("/usr/bin/node", X_OK))
		LSC_FAIL("/usr/bin/node is missing: Node.js 20 is the real-world target");
	proc_run(&p, argv, 300, NULL);
	if (p.status)
		LSC_FAIL("tests/js/npm-deps.sh failed: %s", p.err);
	snprintf(deps, sizeof(deps), "%s/npm/node_modules", LSC_BUILD_DIR);
	setenv("NODE_PATH", deps, 1);
}

#endif
