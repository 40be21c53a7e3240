/*
 * attach_js.c — JavaScript frames named in what `attach` records from a Node.js target, with no
 * flag on the target: the V8 reader (v8.h) set up at attach, and the frames of CPU samples and
 * blocking calls named from the SharedFunctionInfos the kernel's walk read below each frame
 * pointer (stack.bpf.h's uw_js).
 *
 * A frame is named when its address is V8's code and what it holds is a SharedFunctionInfo
 * that still holds, when read, what it held at the sample (LSCB_SFI_PRINT, loop.h): its
 * address is replaced by a synthetic one that stands for the function, 0x4000000000000000 + its
 * id, with a Symbol record written once (function, script, line; jit), as the agent's jsmap.c
 * does. One function is one id whatever V8's tier: the id is that of (name, script, line).
 * Every other frame keeps its address. How many JS frames were named, and how many were not
 * (moved by a GC, unreadable), is in the footer's counters.
 */
#include "attach_internal.h"
#include "v8.h"

#define JS_SYNTH  0x4000000000000000ULL
#define FN_SLOTS  (1u << 16) /* functions (open addressing; at most 3/4 used) */
#define KEY_BYTES (sizeof(((struct lsc_v8_fn *)0)->name) + sizeof(((struct lsc_v8_fn *)0)->script))

struct js_fn {
	uint64_t hash;
	char *key; /* name \0 script \0 line */
	uint32_t fid;
	uint32_t segment; /* its Symbol is in this segment's file */
};

struct lsc_at_js {
	struct lsc_v8 *v8;
	struct js_fn *fns;
	uint32_t nfns;
	uint64_t named, unnamed, moved;
};

void lsc__at_js_open(struct lsc_attach *a, Elf *elf, uint64_t bias)
{
	char why[512];
	struct lsc_v8 *v = lsc_v8_open(a->o.pid, elf, bias, why, sizeof(why));
	const struct lsc_v8_layout *L;

	if (!v) {
		lsc__at_note(
			a,
			"%s: JS frames cannot be read from V8's objects (%s): they are named "
			"from the target's perf map if it writes one (node --perf-basic-prof), "
			"else shown as addresses",
			a->exe, why);
		return;
	}
	a->js = calloc(1, sizeof(*a->js));
	if (a->js)
		a->js->fns = calloc(FN_SLOTS, sizeof(*a->js->fns));
	if (!a->js || !a->js->fns) {
		free(a->js);
		a->js = NULL;
		lsc_v8_close(v);
		return;
	}
	a->js->v8 = v;
	L = lsc_v8_layout(v);
	a->skel->rodata->v8_on = 1;
	a->skel->rodata->v8_fp_function = L->fp_function;
	a->skel->rodata->v8_fp_context = L->fp_context;
	a->skel->rodata->v8_fn_shared = L->fn_shared;
	a->skel->rodata->v8_sfi_nos = L->sfi_name_or_scope_info;
	a->skel->rodata->v8_sfi_sod = L->sfi_script_or_debug_info;
}

void lsc__at_js_close(struct lsc_attach *a)
{
	uint32_t i;

	if (!a->js)
		return;
	for (i = 0; i < FN_SLOTS; i++)
		free(a->js->fns[i].key);
	free(a->js->fns);
	lsc_v8_close(a->js->v8);
	free(a->js);
	a->js = NULL;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return h ? h : 1;
}

static void put_symbol(struct lsc_attach *a, const struct lsc_v8_fn *fn, uint32_t fid)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Symbol s = LOOPSCOPE__SYMBOL__INIT;

	s.has_addr = s.has_jit = 1;
	s.jit = 1;
	s.addr = JS_SYNTH + fid;
	s.function = (char *)fn->name;
	s.file = fn->script[0] ? (char *)fn->script : NULL;
	s.has_line = fn->line != 0;
	s.line = fn->line;
	r.body_case = LOOPSCOPE__RECORD__BODY_SYMBOL;
	r.symbol = &s;
	lsc__at_put(a, &r);
}

/* The id of the function (name, script, line), its Symbol written the first time; 0 when the
 * table is full. */
static uint32_t fn_id(struct lsc_attach *a, const struct lsc_v8_fn *fn)
{
	struct lsc_at_js *js = a->js;
	char key[KEY_BYTES + 16];
	int n = snprintf(key, sizeof(key), "%s%c%s%c%u", fn->name, 0, fn->script, 0, fn->line);
	uint64_t h = hash_bytes(key, (size_t)n);
	uint32_t i;

	for (i = (uint32_t)h & (FN_SLOTS - 1); js->fns[i].hash; i = (i + 1) & (FN_SLOTS - 1))
		if (js->fns[i].hash == h && !memcmp(js->fns[i].key, key, (size_t)n + 1)) {
			if (js->fns[i].segment != a->segment) { /* a new segment's first use */
				js->fns[i].segment = a->segment;
				put_symbol(a, fn, js->fns[i].fid);
			}
			return js->fns[i].fid;
		}
	if (js->nfns * 4 >= FN_SLOTS * 3 || !(js->fns[i].key = malloc((size_t)n + 1)))
		return 0;
	memcpy(js->fns[i].key, key, (size_t)n + 1);
	js->fns[i].hash = h;
	js->fns[i].fid = ++js->nfns;
	js->fns[i].segment = a->segment;
	put_symbol(a, fn, js->fns[i].fid);
	return js->fns[i].fid;
}

/*
 * Frames with a SharedFunctionInfo in V8's code named: into out (room for n + 1), the number of
 * frames. A frame's function is read below its frame pointer, which is its own except at the
 * leaf: a builtin that built no frame (StringAdd, a bytecode handler) runs on its caller's, so
 * a leaf builtin is kept and its JS function follows it (the caller the walk would otherwise
 * skip). Deeper, a frame in the interpreter's entry is the interpreted function's: replaced.
 */
uint32_t lsc__at_js_name(struct lsc_attach *a, const uint64_t *ips, const uint64_t *sfis,
			 const uint64_t *prints, uint32_t n, uint64_t *out)
{
	struct lsc_at_js *js = a->js;
	uint32_t i, k = 0;

	for (i = 0; i < n; i++) {
		const struct lsc_v8_fn *fn;
		uint32_t fid;
		int kind, r;

		out[k++] = ips[i];
		if (!js || !sfis[i] || !(kind = lsc_v8_is_js_ip(js->v8, ips[i])))
			continue;
		r = lsc_v8_resolve(js->v8, sfis[i], prints[i], &fn);
		if (r == -2) {
			js->moved++;
			continue;
		}
		if (!r && fn->native) { /* a builtin: its code's symbol names it, as under run */
			js->named++;
			continue;
		}
		if (r || !(fid = fn_id(a, fn))) {
			js->unnamed++;
			continue;
		}
		js->named++;
		if (i == 0 && kind == 2)
			out[k++] = JS_SYNTH + fid;
		else
			out[k - 1] = JS_SYNTH + fid;
	}
	return k;
}

/* The footer's counters: how many JS frames were named, and not. */
size_t lsc__at_js_counters(struct lsc_attach *a, Loopscope__Counter *c, size_t cap)
{
	static const char *const names[] = {"js_frames_named", "js_frames_unnamed",
					    "js_frames_moved"};
	size_t i;

	if (!a->js || cap < 3)
		return 0;
	for (i = 0; i < 3; i++) {
		loopscope__counter__init(&c[i]);
		c[i].name = (char *)names[i];
		c[i].has_value = 1;
	}
	c[0].value = a->js->named;
	c[1].value = a->js->unnamed;
	c[2].value = a->js->moved;
	return 3;
}
