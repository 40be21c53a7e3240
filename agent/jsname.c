/*
 * jsname.c — V8's names for the code it generates, taken apart (agent/jsmap.c names JS frames
 * with it; unit-tested without V8). V8 names a JS function's code "JS:" + a tier marker
 * ('~' interpreted, '^' Sparkplug, '+' Maglev, '*' TurboFan) + "name script:line:column", where
 * the name may be empty (an anonymous function) or hold spaces ("get x"), and so may the script.
 * RegExp code is "RegExp:" + the pattern; V8's own code ("Builtin:X", "Stub:X", "Handler:X",
 * "BytecodeHandler:X") keeps its name whole.
 */
#include "agent.h"

#include <string.h>

/* Where the script starts in "name script:line:col": an absolute path, a URL or a node: module
 * after a space; else after the last space; len when there is none. */
static size_t script_at(const char *s, size_t len)
{
	static const char *const starts[] = {" /",	" node:", " file:",    " http:",
					     " https:", " data:", " webpack:", " evalmachine"};
	size_t i, k, n;

	for (k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
		n = strlen(starts[k]);
		for (i = 0; i + n <= len; i++)
			if (memcmp(s + i, starts[k], n) == 0)
				return i;
	}
	for (i = len; i-- > 0;)
		if (s[i] == ' ')
			return i;
	return len;
}

static uint32_t digits(const char *s, size_t n, int *ok)
{
	uint32_t v = 0;

	*ok = n > 0;
	while (n--) {
		if (*s < '0' || *s > '9') {
			*ok = 0;
			return 0;
		}
		v = v * 10 + (uint32_t)(*s++ - '0');
	}
	return v;
}

void lsc_js_name_parse(const char *name, size_t len, struct lsc_js_name *out)
{
	const char *rest;
	size_t r, sa, j, line_at = 0, col_at = 0;
	int ok_line, ok_col;

	memset(out, 0, sizeof(*out));
	out->tier_at = LSC_JS_NO_TIER;
	if (len >= 7 && !memcmp(name, "RegExp:", 7)) {
		out->kind = LSC_JS_REGEXP;
		out->fn_len = len;
		return;
	}
	if (len < 3 || memcmp(name, "JS:", 3)) {
		out->kind = LSC_JS_V8;
		out->fn_len = len;
		return;
	}
	out->kind = LSC_JS_FUNCTION;
	rest = name + 3;
	r = len - 3;
	if (r && strchr("~^+*", rest[0]) && rest[0]) {
		out->tier = rest[0];
		out->tier_at = 3;
		rest++, r--;
	}
	sa = script_at(rest, r);
	out->fn_off = (size_t)(rest - name);
	out->fn_len = sa;
	if (sa >= r)
		return; /* no script */
	/* script:line:col: the last two colons, both followed by digits */
	for (j = r; j-- > sa + 1;)
		if (rest[j] == ':') {
			if (!col_at)
				col_at = j;
			else {
				line_at = j;
				break;
			}
		}
	out->script_off = out->fn_off + sa + 1;
	out->script_len = r - sa - 1;
	if (!line_at)
		return;
	out->line = digits(rest + line_at + 1, col_at - line_at - 1, &ok_line);
	out->column = digits(rest + col_at + 1, r - col_at - 1, &ok_col);
	if (!ok_line || !ok_col) {
		out->line = out->column = 0; /* colons of the script's own ("node:fs") */
		return;
	}
	out->script_len = line_at - sa - 1;
}
