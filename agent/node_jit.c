/*
 * node_jit.c — V8's JIT code events in Node.js: which JavaScript function each piece of
 * generated code is, as V8 itself reports it, with the time. No perf map: the recording names
 * a JS frame after the code that was at its address when the frame was recorded (writer's
 * jsmap.c keeps the live map), so code that V8 frees and whose address it reuses is not named
 * after whatever was logged there first or last.
 *
 * v8::Isolate::SetJitCodeEventHandler(kJitCodeEventEnumExisting, handler), exported by the node
 * binary, is called on the main thread at its first poll, where node.c registers the GC
 * callbacks (V8 is known to be up then); with the enumerate option V8 first reports all the code
 * that exists. From then on: CODE_ADDED (start, length, V8's name: "JS:~f /path/app.js:12:3",
 * the tier in the character after the colon), CODE_MOVED (the GC moved it), CODE_REMOVED.
 * Line-table events are ignored (a function's line is in its name). The handler runs on the
 * thread V8 calls it on (the main thread; a GC thread for a move) and pushes into that thread's
 * ring, waiting for the writer when the ring is full (the enumeration at registration is tens of
 * thousands of events): a dropped code event would leave frames unnamed.
 *
 * V8 reports bytecode as code too (a BytecodeArray's bytecodes, code_type BYTE_CODE, "JS:~f"):
 * an interpreted frame, whose address is the one shared interpreter, is named by the bytecode it
 * runs (node_frames.c reads it from the frame), so node needs no flag.
 *
 * Version-bound, checked at build time against Node 20's headers (v8-callbacks.h): the layout of
 * v8::JitCodeEvent below (80 bytes; type, code_type, code_start, code_len, script, user_data,
 * wasm_source_info, then a union of name / line info / new_code_start, then isolate).
 */
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define A	       lsc__A
#define T	       lsc__T

#define NAME_MAX_BYTES 1024

struct v8_jit_code_event {
	int type; /* JitCodeEvent::EventType */
	int code_type;
	void *code_start;
	size_t code_len;
	void *script;
	void *user_data;
	void *wasm_source_info;
	union {
		struct {
			const char *str;
			size_t len;
		} name;
		struct {
			size_t offset, pos;
			int position_type;
		} line_info;
		void *new_code_start;
	};
	void *isolate;
};

_Static_assert(offsetof(struct v8_jit_code_event, name) == 48, "v8::JitCodeEvent layout");
_Static_assert(offsetof(struct v8_jit_code_event, isolate) == 72, "v8::JitCodeEvent layout");

enum { CODE_ADDED, CODE_MOVED, CODE_REMOVED };

typedef void (*jit_handler)(const struct v8_jit_code_event *);
static void (*set_handler)(void *isolate, int options, jit_handler h);

static void on_code(const struct v8_jit_code_event *e)
{
	struct lsc_ev_code ev = {0};
	int saved = errno, was = T.in_agent;
	size_t namelen = 0;

	if (!atomic_load_explicit(&A.active, memory_order_relaxed))
		return;
	switch (e->type) {
	case CODE_ADDED:
		ev.what = LSC_CODE_ADD;
		namelen = e->name.str ? e->name.len : 0;
		if (namelen > NAME_MAX_BYTES)
			namelen = NAME_MAX_BYTES;
		break;
	case CODE_MOVED:
		ev.what = LSC_CODE_MOVE;
		ev.new_start = (uint64_t)(uintptr_t)e->new_code_start;
		break;
	case CODE_REMOVED:
		ev.what = LSC_CODE_REMOVE;
		break;
	default:
		return; /* line tables */
	}
	T.in_agent = 1;
	ev.t_ns = lsc__now_ns() - A.t0;
	ev.start = (uint64_t)(uintptr_t)e->code_start;
	ev.len = e->code_len;
	ev.namelen = (uint32_t)namelen;
	if (lsc__push_wait(LSC_EV_CODE, &ev, sizeof(ev), e->name.str, namelen, 200))
		atomic_fetch_add_explicit(&A.dropped_events, 1, memory_order_relaxed);
	T.in_agent = was;
	errno = saved;
}

int lsc__node_jit_lookup(void)
{
	set_handler = (void (*)(void *, int, jit_handler))dlsym(
		RTLD_DEFAULT,
		"_ZN2v87Isolate22SetJitCodeEventHandlerENS_19JitCodeEventOptionsEPFvPKNS_"
		"12JitCodeEventEE");
	lsc__js_expected = set_handler != NULL;
	return set_handler ? 0 : -1;
}

int lsc__js_expected;

void lsc__node_jit_register(void *isolate)
{
	if (set_handler && isolate)
		set_handler(isolate, 1 /* kJitCodeEventEnumExisting */, on_code);
}
