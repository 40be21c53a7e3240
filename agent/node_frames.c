/*
 * node_frames.c — Node.js: which JavaScript function each JS frame of a stack runs, read from
 * the frame itself, the way `attach` reads it (bpf/v8.h): no flag on node's command line, and no
 * V8 code events (they cost Node about 7 % of its start-up: V8 computes every script's line
 * ends and re-parses every function to name its code, bench/js_names.sh).
 *
 * Below a JS frame's frame pointer V8 keeps its JSFunction (v8dbg_off_fp_function) and its
 * context; an interpreted frame also keeps its BytecodeArray and the offset being run. The
 * JSFunction points to its SharedFunctionInfo (SFI: name, script, position), which lives in the
 * old generation and does not move at a scavenge. For each frame that looks like a JS frame
 * (a tagged context and function, and an argument count or an interpreted frame's BytecodeArray
 * and offset) the stack carries two words next to the frame's address: the SFI's tagged address
 * (with bit 1 set when the frame was seen to be interpreted) and a print of two of the SFI's
 * words (name_or_scope_info, script_or_debug_info: LSCB_SFI_PRINT, as the BPF side takes it).
 * The writer (node_names.c) names the frame from the SFI when the object there still holds that
 * print, and only for a frame whose address is V8's code (JIT code, or the interpreted check), so
 * a C++ frame whose slots happened to look tagged is never named a JS function, and an SFI the GC
 * moved in between leaves the frame unnamed, never wrongly named.
 *
 * The frame pointers are walked from where the stack was taken (the interrupted registers for
 * a CPU sample, this thread's own frames for a call) and matched to libunwind's frames by
 * address. A sample in code without frame pointers (OpenSSL's assembly) starts the walk at the
 * first frame libunwind's registers show to have one. Every read goes through process_vm_readv
 * on this process: a pointer gone astray gives a failed read, never a fault, in a signal handler
 * of someone else's program. Cost: one system call per frame walked and two per JS frame, only in
 * a Node.js process.
 */
#include "preload.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <ucontext.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define A		lsc__A
#define T		lsc__T
#define MAX_WALK	(LSC_AGENT_MAX_FRAMES + 8)
#define SMI_SHIFT	32 /* Node 20 on x86-64: no pointer compression (checked below) */
#define PRINT(nos, sod) ((nos)*0x9e3779b97f4a7c15ULL ^ (sod)) /* bpf/loop.h's LSCB_SFI_PRINT */

static int lo_off = 0; /* the lowest slot read, relative to the frame pointer (< 0); 0: off */
static int off_ctx, off_fn, off_ba, off_bco, off_argc;
static int off_shared, off_nos, off_sod; /* JSFunction::shared, the SFI's two printed words */

/* After V8 is up (node.c, on the main thread): the layout from V8's post-mortem metadata. */
int lsc__node_frames_init(void)
{
	/* a test's way to simulate another Node build: that symbol taken as missing */
	const char *hide = getenv("LOOPSCOPE_TEST_V8_HIDE");
#define META(name)                                                                                 \
	(hide && !strcmp(hide, name) ? NULL : (const int *)dlsym(RTLD_DEFAULT, "v8dbg_" name))
	const int *ctx = META("off_fp_context"), *fn = META("off_fp_function");
	const int *ba = META("off_fp_bytecode_array"), *bco = META("off_fp_bytecode_offset");
	const int *tag = META("HeapObjectTag"), *shift = META("SmiShiftSize");
	const int *shared = META("class_JSFunction__shared__SharedFunctionInfo");
	const int *nos = META("class_SharedFunctionInfo__name_or_scope_info__Object");
	const int *sod = META("class_SharedFunctionInfo__script_or_debug_info__HeapObject");
#undef META
	int lo;

	if (!ctx || !fn || !ba || !bco || !tag || !shift || !shared || !nos || !sod || *tag != 1 ||
	    *shift != 31)
		return -1;
	lo = *ctx < *fn ? *ctx : *fn;
	lo = lo < *ba ? lo : *ba;
	lo = lo < *bco ? lo : *bco;
	/* the argument count, just below the function (V8's StandardFrameConstants::kArgCOffset;
	 * the metadata has no symbol for it) */
	off_argc = *fn - 8;
	lo = lo < off_argc ? lo : off_argc;
	if (lo >= 0 || lo < -128 || (lo & 7) || *ctx >= 0 || *fn >= 0 || *ba >= 0 || *bco >= 0 ||
	    *shared <= 0 || *shared > 4096 || *nos <= 0 || *nos > 4096 || *sod <= 0 ||
	    *sod > 4096 || (*nos > *sod ? *nos - *sod : *sod - *nos) > 64)
		return -1;
	off_ctx = *ctx;
	off_fn = *fn;
	off_ba = *ba;
	off_bco = *bco;
	off_shared = *shared;
	off_nos = *nos;
	off_sod = *sod;
	__atomic_store_n(&lo_off, lo, __ATOMIC_RELEASE);
	return 0;
}

static int read_self(uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};

	return syscall(SYS_process_vm_readv, (long)A.pid, &local, 1L, &remote, 1L, 0L) == (long)len
		       ? 0
		       : -1;
}

void lsc__node_frames_thread(void)
{
	pthread_attr_t a;
	void *lo;
	size_t size;

	if (T.stk_hi)
		return;
	T.stk_hi = 1; /* tried */
	if (pthread_getattr_np(pthread_self(), &a))
		return;
	if (!pthread_attr_getstack(&a, &lo, &size)) {
		T.stk_lo = (uintptr_t)lo;
		T.stk_hi = (uintptr_t)lo + size;
	}
	pthread_attr_destroy(&a);
}

/* A frame's slots: read directly when they are in this thread's stack between where this code
 * runs and the stack's top (mapped: the stack is one mapping below its top), else through the
 * kernel. */
static int read_stack(uint64_t addr, void *buf, size_t len)
{
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);

	if (T.stk_hi > 1 && here >= T.stk_lo && here < T.stk_hi) {
		/* on the thread's own stack: a frame pointer elsewhere is code without one (libc,
		 * OpenSSL's assembly) using the register for something else, not a frame */
		if (addr < here || addr + len > T.stk_hi)
			return -1;
		memcpy(buf, (const void *)(uintptr_t)addr, len);
		return 0;
	}
	return read_self(addr, buf, len);
}

static uint64_t slot(const uint64_t *w, int lo, int off)
{
	return w[(off - lo) / 8];
}

/* The function's SFI and its print, read from the tagged JSFunction fn; 0 when unreadable. */
static uint64_t sfi_of(uint64_t fn, uint64_t *print)
{
	uint64_t sfi, w[10];
	int lo = off_nos < off_sod ? off_nos : off_sod;
	int hi = off_nos < off_sod ? off_sod : off_nos;

	if (read_self(fn - 1 + (uint64_t)off_shared, &sfi, sizeof(sfi)) || (sfi & 3) != 1 ||
	    read_self(sfi - 1 + (uint64_t)lo, w, (size_t)(hi - lo) + 8))
		return 0;
	*print = PRINT(w[(off_nos - lo) / 8], w[(off_sod - lo) / 8]);
	return sfi;
}

/*
 * The function of a frame seen before, by its bytecode (an interpreted frame: its BytecodeArray)
 * or its code address, since this thread's isolate last ran a full collection: objects in V8's
 * old generation (code, bytecode, SFIs) move and die only then, and their memory is reused only
 * after it, so until the next one the same key is the same function. Spares the two reads of
 * most frames (a heap sample at Node's start walks 20 to 40 JS frames). The writer checks the
 * print as for any frame.
 */
static uint64_t seen_sfi(uint64_t key, uint64_t fn, uint64_t *print)
{
	struct lsc_js_seen *e = &T.js_seen[(key * 0x9e3779b97f4a7c15ULL) >> 58];
	uint64_t sfi;

	if (e->key == key && e->gen == T.js_gen && e->sfi) {
		*print = e->print;
		return e->sfi;
	}
	sfi = sfi_of(fn, print);
	/* A signal handler on this thread may come in between (a CPU sample during a heap
	 * sample's walk): while the entry changes it is void to a lookup, and a handler that
	 * came then leaves the table alone. */
	if (T.js_seen_busy)
		return sfi;
	T.js_seen_busy = 1;
	e->sfi = 0;
	atomic_signal_fence(memory_order_seq_cst);
	e->key = key;
	e->gen = T.js_gen;
	e->print = *print;
	atomic_signal_fence(memory_order_seq_cst);
	e->sfi = sfi;
	atomic_signal_fence(memory_order_seq_cst);
	T.js_seen_busy = 0;
	return sfi;
}

/* The walk from (ip, fp): the pairs filled for frames that match; whether any did. */
static int walk(int lo, uint64_t ip, uint64_t fp, void *const *frames, int n, uint64_t *aux)
{
	uint64_t w[(128 + 16) / 8];
	int steps, j = 0, any = 0, k;

	for (steps = 0; steps < MAX_WALK && fp && !(fp & 7) && ip; steps++) {
		uint64_t ctx, fn, ba, bco, argc, next, ret, sfi, print = 0;
		int interp;

		if (read_stack(fp + (uint64_t)(int64_t)lo, w, (size_t)(16 - lo)))
			break;
		ctx = slot(w, lo, off_ctx);
		fn = slot(w, lo, off_fn);
		ba = slot(w, lo, off_ba);
		bco = slot(w, lo, off_bco);
		argc = slot(w, lo, off_argc);
		next = slot(w, lo, 0);
		ret = slot(w, lo, 8);
		interp = (ctx & 3) == 1 && (fn & 3) == 1 && (ba & 3) == 1 &&
			 !(bco & 0xffffffffULL) && (int64_t)bco >= 0 &&
			 (int64_t)bco >> SMI_SHIFT < (1 << 26);
		/* a JS frame of another tier: a context, a function and an argument count */
		if ((interp || ((ctx & 3) == 1 && (fn & 3) == 1 && argc < 65536)) &&
		    (sfi = seen_sfi(interp ? ba : ip, fn, &print)) != 0) {
			/* the frame with this address among libunwind's (leaf first, in order) */
			for (k = j; k < n && (uint64_t)(uintptr_t)frames[k] != ip; k++)
				;
			if (k < n) {
				aux[2 * k] = sfi | (interp ? 2 : 0);
				aux[2 * k + 1] = print;
				j = k + 1;
				any = 1;
			}
		}
		if (next <= fp) /* frame pointers go up the stack */
			break;
		ip = ret;
		fp = next;
	}
	return any;
}

/* Whether the code at pc is where a function has no frame of its own (its prologue's push rbp
 * or mov rbp, rsp; its epilogue's ret): rbp is then its caller's, and the walk must not give
 * the caller's function to the leaf. Read through the kernel: a signal handler of someone
 * else's program never faults. */
static int between(uint64_t pc)
{
	uint8_t c[3] = {0, 0, 0};

	if (read_self(pc, c, 1))
		return 0;
	if (c[0] == 0x48 && read_self(pc + 1, c + 1, 2))
		return 0;
	return c[0] == 0x55 || c[0] == 0xc3 || c[0] == 0xc2 ||
	       (c[0] == 0x48 && c[1] == 0x89 && c[2] == 0xe5);
}

/* Whether fp is the frame pointer of the frame whose caller libunwind found at ret. */
static int frame_of(uint64_t fp, uint64_t ret)
{
	uint64_t w[2];

	return fp && !(fp & 7) && !read_stack(fp, w, sizeof(w)) && w[1] == ret;
}

int lsc__node_frames(const void *uc, uint64_t fp, void *const *frames, int n, uint64_t *aux)
{
	int lo = __atomic_load_n(&lo_off, __ATOMIC_ACQUIRE), k;

	if (!lo || n <= 0)
		return 0;
	for (k = 0; k < 2 * n; k++)
		aux[k] = 0;
	if (!uc) /* from the caller's own frame up: a call's stack */
		return walk(lo, 1, fp, frames, n, aux);
	{
		const greg_t *g = ((const ucontext_t *)uc)->uc_mcontext.gregs;
		unw_cursor_t cur;
		unw_word_t rbp;

		fp = (uint64_t)g[REG_RBP];
		if (n < 2 || frame_of(fp, (uint64_t)(uintptr_t)frames[1]))
			return walk(lo, between((uint64_t)g[REG_RIP]) ? 1 : (uint64_t)g[REG_RIP],
				    fp, frames, n, aux);
		/* The sample hit code that keeps no frame pointer (OpenSSL's assembly, libc):
		 * libunwind's registers, a frame at a time, up to the first frame whose frame
		 * pointer leads to its caller; the walk goes on from there. */
		if (unw_init_local2(&cur, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0)
			return 0;
		for (k = 0; k + 1 < n && k < 32; k++) {
			if (unw_get_reg(&cur, UNW_X86_64_RBP, &rbp) == 0 &&
			    frame_of((uint64_t)rbp, (uint64_t)(uintptr_t)frames[k + 1]))
				return walk(lo, (uint64_t)(uintptr_t)frames[k], (uint64_t)rbp,
					    frames, n, aux);
			if (unw_step(&cur) <= 0)
				break;
		}
		return 0;
	}
}
