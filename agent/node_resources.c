/*
 * node_resources.c — Node.js's active resources counted the way Node counts them, once a window:
 * process.getActiveResourcesInfo() (Node ≥ 17), by type. Node keeps every JS timer on one libuv
 * timer and every setImmediate on one check handle, so libuv's handle counts cannot see an app
 * that leaks Timeouts; Node's own list can: its requests (FSReqCallback, ...), its handles
 * (TCPSocketWrap, ...) and its refed Timeouts and Immediates.
 *
 * How: on the main thread at a poll (outside JavaScript, the isolate entered with Node's main
 * context), right after the JS heap reading (node_heap.c), a small script is compiled and run in
 * that context through V8's exported API (HandleScope, TryCatch, String::NewFromUtf8,
 * Script::Compile, Script::Run; V8's compilation cache makes the compile after the first a
 * lookup). It calls the function Node exposes and returns "Type=count;..." as one string; an
 * exception (a program that replaced the function) is caught and the window goes without.
 * Nothing runs while V8 is terminating the isolate. The script is named
 * "loopscope:resources" (its sourceURL): its own allocations and samples say whose they are.
 *
 * With them, its sockets' JS write buffers (process._getActiveHandles(): each one's
 * writableLength, what write() kept while the socket wanted 'drain'), after a \1: in all, the
 * most on one, and how many want 'drain' (writableNeedDrain): ignored backpressure.
 *
 * Cost: one array of one string per resource per window (17,577 Timeouts: ~140 KiB, about a
 * millisecond); measured in bench/js_heap.sh with the heap reading.
 */
#include "preload.h"

#include <dlfcn.h>
#include <stdalign.h>
#include <string.h>

#define A lsc__A

/* No Map, no for-of, no Array.prototype method: nothing a program may have patched runs. */
static const char script_src[] =
	"(function(){var p=globalThis.process;if(!p||typeof p.getActiveResourcesInfo!=='function')"
	"return '';var a=p.getActiveResourcesInfo(),c={__proto__:null},k=[],s='',i,t;"
	"for(i=0;i<a.length;i++){t=a[i];if(c[t]===undefined){c[t]=0;k[k.length]=t}c[t]++}"
	"for(i=0;i<k.length;i++)s+=k[i]+'='+c[k[i]]+';';"
	"var h=typeof p._getActiveHandles==='function'?p._getActiveHandles():[],ws=0,wm=0,wn=0,x,l;"
	"for(i=0;i<h.length;i++){x=h[i];l=x?x.writableLength:0;if(typeof l==='number'&&l>0){"
	"ws+=l;if(l>wm)wm=l;if(x.writableNeedDrain)wn++}}"
	"return s+'\\u0001'+ws+','+wm+','+wn})()\n"
	"//# sourceURL=loopscope:resources\n";

static void *(*current_context)(void *isolate);
static void *(*new_string)(void *isolate, const char *s, int type, int len);
static void *(*compile)(void *context, void *source, void *origin);
static void *(*run)(void *script, void *context);
static void (*try_open)(void *tc, void *isolate);
static void (*try_close)(void *tc);
static _Bool (*terminating)(void *isolate);
static int found = -1;

static int lookup(void)
{
#define SYM(var, name) var = (__typeof__(var))dlsym(RTLD_DEFAULT, name)
	SYM(current_context, "_ZN2v87Isolate17GetCurrentContextEv");
	SYM(new_string, "_ZN2v86String11NewFromUtf8EPNS_7IsolateEPKcNS_13NewStringTypeEi");
	SYM(compile, "_ZN2v86Script7CompileENS_5LocalINS_7ContextEEENS1_INS_6StringEEEPNS_"
		     "12ScriptOriginE");
	SYM(run, "_ZN2v86Script3RunENS_5LocalINS_7ContextEEE");
	SYM(try_open, "_ZN2v88TryCatchC1EPNS_7IsolateE");
	SYM(try_close, "_ZN2v88TryCatchD1Ev");
	SYM(terminating, "_ZN2v87Isolate22IsExecutionTerminatingEv");
#undef SYM
	return current_context && new_string && compile && run && try_open && try_close &&
	       terminating && lsc__v8.scope_open && lsc__v8.scope_close && lsc__v8.write_utf8;
}

/* Runs src in the isolate's current context and writes its result (a string) into out: its
 * length, or -1 (no context, an exception, a terminating isolate, a missing symbol). At a poll,
 * outside JavaScript, the isolate entered. */
int lsc__node_eval(void *isolate, const char *src, size_t srclen, char *out, int cap)
{
	alignas(16) char scope[64], tc[128]; /* v8::HandleScope: 24 bytes; v8::TryCatch: 56 */
	void *ctx, *str, *script, *result;
	int n = -1;

	if (found < 0)
		found = lookup();
	if (!found || terminating(isolate))
		return -1;
	lsc__v8.scope_open(scope, isolate);
	try_open(tc, isolate);
	ctx = current_context(isolate);
	str = ctx ? new_string(isolate, src, 0 /* kNormal */, (int)srclen) : NULL;
	script = str ? compile(ctx, str, NULL) : NULL;
	result = script ? run(script, ctx) : NULL;
	if (result)
		n = lsc__v8.write_utf8(result, isolate, out, cap, NULL,
				       2 /* NO_NULL_TERMINATION */ | 8 /* REPLACE_INVALID_UTF8 */);
	try_close(tc);
	lsc__v8.scope_close(scope);
	return result ? n : -1;
}

/* On the main thread, at a poll, the isolate entered with a context (node_heap.c checks). */
void lsc__node_resources_read(void *isolate)
{
	struct lsc_ev_resources ev = {0};
	char text[4096];
	uint64_t t0 = lsc__now_ns();
	int n = lsc__node_eval(isolate, script_src, sizeof(script_src) - 1, text,
			       (int)sizeof(text));

	if (n < 0)
		return;
	ev.t_ns = t0 - A.t0;
	ev.took_ns = lsc__now_ns() - t0;
	ev.len = (uint32_t)n;
	lsc__push_wait(LSC_EV_RESOURCES, &ev, sizeof(ev), text, (size_t)n, 0);
}
