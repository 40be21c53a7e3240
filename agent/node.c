/*
 * node.c — Node.js's garbage collections, through V8's exported C++ API. The node binary
 * exports V8's public API; the agent finds the members it needs by their mangled names and calls
 * them as the plain functions they are (the object is the first argument):
 *   v8::Isolate::GetCurrent()
 *   v8::Isolate::AddGCPrologueCallback(cb, data, GCType), AddGCEpilogueCallback(…)
 *   v8::HeapStatistics::HeapStatistics(), v8::Isolate::GetHeapStatistics(HeapStatistics *)
 * Registration happens on the main thread's first file call once V8 is initialised (calling
 * GetCurrent() before crashes: its thread-local key does not exist yet), or at its first poll;
 * the reading of JS frames (node_frames.c) and the sampling heap profiler (node_heap.c) start
 * with the GC callbacks. Each
 * prologue/epilogue pair is one pause (as Node's own perf_hooks 'gc' entries measure it), with
 * the heap used before and after.
 *
 * Version-bound, checked: the HeapStatistics layout is V8 11.x's (Node 18-22): five size_t
 * (total, executable, physical, available, used), then the limit. The first reading is checked
 * for consistency (used <= total <= limit); if it fails, pauses are recorded without sizes. A
 * missing symbol is named in the recording's header and GC events are left out.
 */
#include "lsc_recording.h"
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define T lsc__T

typedef void (*gc_callback)(void *isolate, int type, int flags, void *data);

static void *(*get_current)(void);
static void (*add_prologue)(void *isolate, gc_callback cb, void *data, int filter);
static void (*add_epilogue)(void *isolate, gc_callback cb, void *data, int filter);
static void (*stats_init)(void *stats);
static void (*get_stats)(void *isolate, void *stats);

enum { NOT_NODE, PENDING, REGISTERED, GAVE_UP };
static _Atomic int state = NOT_NODE;
static int tries;
static int sizes_ok;			    /* the HeapStatistics layout checked out */
static const volatile bool *v8_initialized; /* node::per_process::v8_initialized */

/* This thread's id, cached where the agent caches it (no syscall per file call). */
static uint32_t gettid_now(void)
{
	if (!T.tid)
		T.tid = (uint32_t)syscall(SYS_gettid);
	return T.tid;
}

struct heap_stats { /* v8::HeapStatistics of V8 11.x, with room to spare */
	size_t total, executable, physical, available, used, limit;
	size_t rest[26];
};

static uint64_t heap_used(void *isolate)
{
	struct heap_stats s;

	if (!sizes_ok)
		return 0;
	memset(&s, 0, sizeof(s));
	stats_init(&s);
	get_stats(isolate, &s);
	return s.used;
}

static void on_prologue(void *isolate, int type, int flags, void *data)
{
	int saved = errno, was = T.in_agent;

	T.in_agent = 1;
	/* Pairs do not nest in V8 11, but should one come inside another, time the outer. Each
	 * isolate collects on its own thread (the main one's, a Worker's): the state is the
	 * thread's. */
	if (T.gc_depth++ == 0) {
		T.gc_start_ns = lsc__now_ns();
		T.gc_before = heap_used(isolate);
	}
	T.in_agent = was;
	errno = saved;
}

static uint32_t kind_of(int type)
{
	switch (type) {
	case 1: /* kGCTypeScavenge */
	case 2: /* kGCTypeMinorMarkCompact */
		return LOOPSCOPE__GC_EVENT__KIND__SCAVENGE;
	case 4: /* kGCTypeMarkSweepCompact */
		return LOOPSCOPE__GC_EVENT__KIND__MARK_COMPACT;
	case 8: /* kGCTypeIncrementalMarking */
		return LOOPSCOPE__GC_EVENT__KIND__INCREMENTAL;
	case 16: /* kGCTypeProcessWeakCallbacks */
		return LOOPSCOPE__GC_EVENT__KIND__WEAK;
	default:
		return LOOPSCOPE__GC_EVENT__KIND__UNKNOWN;
	}
}

static void on_epilogue(void *isolate, int type, int flags, void *data)
{
	int saved = errno, was = T.in_agent;
	struct lsc_ev_gc ev;
	uint64_t end;

	if (T.gc_depth == 0 || --T.gc_depth > 0)
		return;
	/* kGCTypeMarkSweepCompact: the main isolate's JS heap profile is live objects only now */
	if ((type & 4) && gettid_now() == (uint32_t)lsc__A.pid)
		lsc__node_full_gcs++;
	/* A full collection moves and frees old objects (code, bytecode, SFIs): the frames'
	 * functions this thread remembered by address are forgotten (node_frames.c). */
	if (type & ~1)
		T.js_gen++;
	T.in_agent = 1;
	end = lsc__now_ns();
	if (atomic_load_explicit(&lsc__A.active, memory_order_relaxed)) {
		ev = (struct lsc_ev_gc){T.gc_start_ns - lsc__A.t0, end - T.gc_start_ns, T.gc_before,
					heap_used(isolate),	   kind_of(type),	0};
		lsc__push(LSC_EV_GC, &ev, sizeof(ev), NULL, 0);
	}
	T.in_agent = was;
	errno = saved;
}

#define V8_SYM(var, name, what)                                                                    \
	do {                                                                                       \
		var = (__typeof__(var))dlsym(RTLD_DEFAULT, name);                                  \
		if (!var && !*missing)                                                             \
			*missing = what;                                                           \
	} while (0)

int lsc__node_lookup(const char **missing, int *frames_missing)
{
	*missing = NULL;
	*frames_missing = 0;
	get_current = (void *(*)(void))dlsym(RTLD_DEFAULT, "_ZN2v87Isolate10GetCurrentEv");
	if (!get_current || !dlsym(RTLD_DEFAULT, "node_module_register"))
		return 0; /* not Node.js */
	/* JS frames named from their function, Node's bootstrap's too */
	if (lsc__node_frames_init())
		*frames_missing = 1;
	V8_SYM(add_prologue,
	       "_ZN2v87Isolate21AddGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_",
	       "v8::Isolate::AddGCPrologueCallback");
	V8_SYM(add_epilogue,
	       "_ZN2v87Isolate21AddGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_",
	       "v8::Isolate::AddGCEpilogueCallback");
	V8_SYM(stats_init, "_ZN2v814HeapStatisticsC1Ev", "v8::HeapStatistics::HeapStatistics");
	V8_SYM(get_stats, "_ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE",
	       "v8::Isolate::GetHeapStatistics");
	v8_initialized = (const volatile bool *)dlsym(RTLD_DEFAULT,
						      "_ZN4node11per_process14v8_initializedE");
	lsc__v8.in_context = (_Bool(*)(void *))dlsym(RTLD_DEFAULT, "_ZN2v87Isolate9InContextEv");
	lsc__v8.scope_open = (void (*)(void *, void *))dlsym(RTLD_DEFAULT,
							     "_ZN2v811HandleScopeC1EPNS_7IsolateE");
	lsc__v8.scope_close = (void (*)(void *))dlsym(RTLD_DEFAULT, "_ZN2v811HandleScopeD1Ev");
	lsc__v8.write_utf8 = (int (*)(const void *, void *, char *, int, int *, int))dlsym(
		RTLD_DEFAULT, "_ZNK2v86String9WriteUtf8EPNS_7IsolateEPciPii");
	if (add_prologue && add_epilogue) {
		atomic_store(&state, PENDING);
		lsc__node_pending = 1;
	}
	return 1;
}

static void try_register(int at_poll)
{
	struct heap_stats s;
	void *isolate;

	isolate = get_current();
	/* Before the first poll: only from inside a context (JS running, a binding called), not
	 * while V8 sets the isolate up (it opens the node binary then, to map its builtins). */
	if (!at_poll && (!isolate || !lsc__v8.in_context || !lsc__v8.in_context(isolate)))
		return;
	if (!isolate) {
		/* never entered an isolate here: not a Node main */
		if (at_poll && ++tries > 1000) {
			atomic_store(&state, GAVE_UP);
			lsc__node_pending = 0; /* the file calls stop asking */
		}
		return;
	}
	if (stats_init && get_stats) {
		memset(&s, 0, sizeof(s));
		stats_init(&s);
		get_stats(isolate, &s);
		sizes_ok = s.used > 0 && s.used <= s.total && s.total <= s.limit &&
			   s.physical <= s.total + (64u << 20);
	}
	add_prologue(isolate, on_prologue, NULL, 31 /* kGCTypeAll */);
	add_epilogue(isolate, on_epilogue, NULL, 31);
	lsc__node_heap_start(isolate); /* V8's sampling heap profiler */
	atomic_store(&state, REGISTERED);
	lsc__node_pending = 0;
}

void lsc__node_on_poll(uint32_t tid, int main_loop, int will_wait)
{
	int s = atomic_load_explicit(&state, memory_order_relaxed);

	if (tid != (uint32_t)lsc__A.pid)
		return;
	if (s == PENDING)
		try_register(1);
	else if (s == REGISTERED && main_loop)
		lsc__node_heap_poll(will_wait); /* the JS heap, Node's resources */
}

/* A Worker's identity, from inside it: worker_threads.threadId (through
 * process.getBuiltinModule, Node >= 20.16; else 0) and the script it runs, "ID SCRIPT". */
static const char identity_src[] =
	"(function(){var p=globalThis.process,id=0,s='',w;try{if(p&&typeof p.getBuiltinModule"
	"==='function'){w=p.getBuiltinModule('worker_threads');if(w&&typeof w.threadId==="
	"'number')id=w.threadId}}catch(e){}if(p&&p.argv&&typeof p.argv[1]==='string')s=p.argv[1];"
	"return id+' '+s})()\n//# sourceURL=loopscope:thread\n";

int lsc__node_loop_role(uint32_t *worker_id, char *script, int cap)
{
	int s = atomic_load_explicit(&state, memory_order_relaxed), n;
	char text[512];
	void *isolate;
	size_t i = 0;

	*worker_id = 0;
	script[0] = 0;
	if (s == NOT_NODE || !get_current)
		return 0;
	/* Only Node's platform thread (its delayed-task scheduler) runs a loop before V8 is up;
	 * and before then V8's isolate key does not exist (GetCurrent() would crash). */
	if (!v8_initialized)
		return 0;
	if (!*v8_initialized)
		return LOOPSCOPE__THREAD_ROLE__ROLE_PLATFORM;
	isolate = get_current();
	if (!isolate)
		return 0; /* a loop of an addon's own */
	if (!lsc__v8.in_context || !lsc__v8.in_context(isolate)) {
		if (++T.role_waits < 64)
			return -1;
		return LOOPSCOPE__THREAD_ROLE__ROLE_WORKER;
	}
	if (!T.role_tries++ && add_prologue && add_epilogue) { /* once: this isolate's GCs */
		add_prologue(isolate, on_prologue, NULL, 31 /* kGCTypeAll */);
		add_epilogue(isolate, on_epilogue, NULL, 31);
	}
	n = lsc__node_eval(isolate, identity_src, sizeof(identity_src) - 1, text,
			   (int)sizeof(text) - 1);
	if (n > 0) {
		text[n] = 0;
		while (text[i] >= '0' && text[i] <= '9')
			*worker_id = *worker_id * 10 + (uint32_t)(text[i++] - '0');
		if (text[i] == ' ')
			i++;
		n -= (int)i;
		if (n > cap - 1)
			n = cap - 1;
		memcpy(script, text + i, (size_t)n);
		script[n] = 0;
	}
	/* The script is set once the Worker's bootstrap has read its first message, a poll or
	 * two after the first: ask again for a while. */
	if (!script[0] && T.role_tries < 64)
		return -1;
	return LOOPSCOPE__THREAD_ROLE__ROLE_WORKER;
}

/*
 * Earlier than the first poll, so that Node's bootstrap and a main script that never polls are
 * named too: the main thread's first file call (an open or a stat: the module loader reading the
 * main script) once V8 is up (node::per_process::v8_initialized, exported) and a context is
 * entered on this thread (v8::Isolate::InContext: JS is running; not while V8 sets the isolate
 * up, which opens the node binary too). It then comes from a V8 API callback (a binding of fs),
 * where V8's own profilers also start (the inspector's, from JS).
 */
int lsc__node_pending;
unsigned lsc__node_full_gcs;
struct lsc_v8_api lsc__v8;

void lsc__node_early(void)
{
	if (atomic_load_explicit(&state, memory_order_relaxed) != PENDING || !v8_initialized ||
	    !*v8_initialized || gettid_now() != (uint32_t)lsc__A.pid)
		return;
	try_register(0);
}
