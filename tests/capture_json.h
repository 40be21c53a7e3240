/*
 * capture_json.h — reading the JSON a capture test's subject writes (refloop's --stats, a Node
 * app's own counts, `loopscope report --json`), failing the case when it is not there.
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

#endif
