/*
 * owner.c — the owner frame: on a recorded stack, the frame a person should open. One rule, used
 * by every command that names a place (report's findings and stacks, gate's messages, heap and
 * leaks' sites; docs/report.md "The owner frame"):
 *
 *   1. the application's code: its JavaScript (a script outside node_modules/ and outside Node's
 *      own node: modules) and its native code (the program's functions, not its runtime's);
 *   2. its dependencies: JavaScript under node_modules/, a native addon loaded from there;
 *   3. Node's built-in JavaScript (node:fs, node:internal/...);
 *   4. the native code of the node binary (node::, v8::, its libuv, thunks to them);
 *   5. the runtime elsewhere: a statically linked libuv, refloop's runtime/, V8's generated
 *      code (Builtins, bytecode handlers, regular expressions, its pseudo-functions);
 *   6. shared libraries (libc, ld.so, libuv.so, libstdc++);
 *   7. the kernel;
 *   8. an address nothing names (JIT code no function was read for, "libc.so.6+0x8612b").
 *
 * The owner is the leaf-most frame of the best tier on the stack: an app frame anywhere below a
 * library call wins over the library; an unnamed address is never chosen while a named frame
 * is on the stack. Tiers 3-8 are printed with what they are ("in Node internals: ..."), so a
 * finding whose stack holds nothing of the application says so instead of pointing at libc.
 */
#include "lsc_report.h"

#include <string.h>

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path;
}

/* The node binary itself ("node", "nodejs", "node20"): all of its native code is Node's. */
static int is_node_binary(const char *module)
{
	const char *b = base_name(module);

	return b && (!strcmp(b, "node") || !strcmp(b, "nodejs") ||
		     (!strncmp(b, "node", 4) && b[4] >= '0' && b[4] <= '9'));
}

/* A name in Node's, V8's or libuv's namespace, whatever the demangler put before it: a thunk
 * ("non-virtual thunk to node::LibuvStreamWrap::DoTryWrite"), a template's return type ("void
 * node::fs::AfterOpen<...>"), a cast ("v8::internal::(anonymous namespace)::..."). */
static int names_runtime(const char *name)
{
	static const char *const ns[] = {"node::", "v8::", "cppgc::", "uv_", "uv__", "Builtins_"};
	size_t i;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		const char *p = name;

		while ((p = strstr(p, ns[i])) != NULL) {
			if (p == name || p[-1] == ' ' || p[-1] == '<' || p[-1] == '(' ||
			    p[-1] == '*' || p[-1] == '&')
				return 1;
			p++;
		}
	}
	return 0;
}

/* Nothing names it: a bare address, a module and an offset, a stack that was not taken. */
static int is_unnamed(const char *name)
{
	return !name[0] || !strncmp(name, "0x", 2) || !strncmp(name, "[kernel] 0x", 11) ||
	       strstr(name, "+0x") != NULL || !strncmp(name, "[no stack]", 10) ||
	       !strncmp(name, "[unknown]", 9);
}

static int in_node_modules(const char *s)
{
	return s && strstr(s, "/node_modules/") != NULL;
}

/* Node's built-in JS: its script "node:fs", or a perf map's "JS:~readSync node:fs:708:18"
 * (" node:" then a module name; not "thunk to node::"). */
static int is_node_builtin_js(const struct lsc_named_frame *nf)
{
	const char *p = nf->name;

	if (nf->file && (!strncmp(nf->file, "node:", 5) || !strncmp(nf->file, "internal/", 9)))
		return 1;
	while ((p = strstr(p, " node:")) != NULL) {
		if (p[6] != ':')
			return 1;
		p += 6;
	}
	return 0;
}

/* V8's own generated code, named as V8 names it: not a function of the program. */
static int is_engine_code(const char *name)
{
	return !strncmp(name, "RegExp:", 7) || !strncmp(name, "Builtin:", 8) ||
	       !strncmp(name, "BytecodeHandler:", 16) || !strncmp(name, "Stub:", 5) ||
	       !strncmp(name, "Handler:", 8) || !strncmp(name, "Callback:", 9) ||
	       !strncmp(name, "(program)", 9) || !strncmp(name, "(garbage collector)", 19);
}

enum lsc_owner_tier lsc_owner_tier(const struct lsc_named_frame *nf)
{
	if (is_unnamed(nf->name))
		return LSC_OWNER_UNNAMED;
	/* V8's pseudo-functions, whatever kind the frame was given: "(V8 API)", "(GC)", "(IDLE)"
	 * with no script and no module ("(anonymous)" with a script is a function of the app) */
	if (nf->name[0] == '(' && nf->name[strlen(nf->name) - 1] == ')' && !nf->file && !nf->module)
		return LSC_OWNER_RUNTIME;
	switch (nf->kind) {
	case LSC_CODE_KERNEL:
		return LSC_OWNER_KERNEL;
	case LSC_CODE_JIT:
		/* V8's pseudo-functions: "(V8 API)", "(GC)", "(IDLE)", "(program)" with no script
		 * ("(anonymous)" with one is a function of the program) */
		if (is_engine_code(nf->name) ||
		    (nf->name[0] == '(' && nf->name[strlen(nf->name) - 1] == ')' && !nf->file))
			return LSC_OWNER_RUNTIME;
		if (is_node_builtin_js(nf))
			return LSC_OWNER_NODE_JS;
		if (in_node_modules(nf->file) || in_node_modules(nf->name))
			return LSC_OWNER_DEPENDENCY;
		return LSC_OWNER_APP;
	default:
		break;
	}
	/* native code, or JIT classified as runtime by lsc_frame_name (Node's own JS: caught above
	 * only when its kind stayed JIT) */
	if (is_node_builtin_js(nf))
		return LSC_OWNER_NODE_JS;
	if (is_engine_code(nf->name))
		return LSC_OWNER_RUNTIME;
	if (is_node_binary(nf->module))
		return LSC_OWNER_NODE;
	if (in_node_modules(nf->module))
		return LSC_OWNER_DEPENDENCY;
	if (nf->kind == LSC_CODE_RUNTIME || names_runtime(nf->name)) {
		const char *b = base_name(nf->module);

		/* a shared library (libc, ld.so, libuv.so): below the runtime linked into the
		 * program */
		if (b && (strstr(b, ".so") || !strncmp(b, "ld-", 3)))
			return LSC_OWNER_LIBRARY;
		return LSC_OWNER_RUNTIME;
	}
	return LSC_OWNER_APP;
}

const char *lsc_owner_tier_name(enum lsc_owner_tier t)
{
	static const char *const names[] = {
		"app",	   "dependency", "node-internals", "node-internals",
		"runtime", "library",	 "kernel",	   "unnamed"};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unnamed";
}

const char *lsc_owner_tier_label(enum lsc_owner_tier t)
{
	switch (t) {
	case LSC_OWNER_NODE_JS:
	case LSC_OWNER_NODE:
		return "Node internals";
	case LSC_OWNER_RUNTIME:
		return "the runtime";
	case LSC_OWNER_LIBRARY:
		return "a library";
	case LSC_OWNER_KERNEL:
		return "the kernel";
	default:
		return "";
	}
}
