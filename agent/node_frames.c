/*
 * node_frames.c — Node.js: which JavaScript function an interpreted frame runs, read from the
 * frame itself, so that `run` needs no --interpreted-frames-native-stack (that flag gives each
 * interpreted function a copy of the interpreter's entry, and costs Node its code cache).
 *
 * Without it, every interpreted frame's address is the one shared builtin. But V8 keeps, below
 * an interpreted frame's frame pointer, the function's BytecodeArray (a tagged pointer, at
 * v8dbg_off_fp_bytecode_array) and the current bytecode's offset (a Smi, at
 * v8dbg_off_fp_bytecode_offset: the BytecodeArray's tagged address plus that value is the
 * bytecode being run); and V8's code events (node_jit.c) report every BytecodeArray as code
 * (its bytecodes' range, "JS:~f script:line", moved when the GC moves it). So, next to each
 * frame's address, the stack carries that bytecode's address (0 when the frame does not look
 * interpreted: a tagged context, function and BytecodeArray, a small Smi), and the writer
 * (jsmap.c) names the frame after the code there when its own address is not a JS function's.
 *
 * The frame pointers are walked from where the stack was taken (the interrupted registers for
 * a CPU sample, this thread's own frames for a call) and matched to libunwind's frames by
 * address. A sample in code without frame pointers (OpenSSL's assembly) starts the walk at the
 * first frame libunwind's registers show to have one. Every read of the stack goes through
 * process_vm_readv on this process: a frame pointer gone astray (code without one) gives a failed
 * read, never a fault, in a signal handler of someone else's program. Values read are keys for the
 * writer's map, never dereferenced. Cost: one system call per frame walked, only in a Node.js
 * process.
 */
#include "preload.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <ucontext.h>

#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define A	  lsc__A
#define MAX_WALK  (LSC_AGENT_MAX_FRAMES + 8)
#define SMI_SHIFT 32 /* Node 20 on x86-64: no pointer compression (checked below) */

static int lo_off = 0; /* the lowest slot read, relative to the frame pointer (< 0); 0: off */
static int off_ctx, off_fn, off_ba, off_bco;

/* After V8 is up (node.c, on the main thread): the layout from V8's post-mortem metadata. */
void lsc__node_frames_init(void)
{
#define META(name) ((const int *)dlsym(RTLD_DEFAULT, "v8dbg_" name))
	const int *ctx = META("off_fp_context"), *fn = META("off_fp_function");
	const int *ba = META("off_fp_bytecode_array"), *bco = META("off_fp_bytecode_offset");
	const int *tag = META("HeapObjectTag"), *shift = META("SmiShiftSize");
#undef META
	int lo;

	if (!ctx || !fn || !ba || !bco || !tag || !shift || *tag != 1 || *shift != 31)
		return;
	lo = *ctx < *fn ? *ctx : *fn;
	lo = lo < *ba ? lo : *ba;
	lo = lo < *bco ? lo : *bco;
	if (lo >= 0 || lo < -128 || (lo & 7) || *ctx >= 0 || *fn >= 0 || *ba >= 0 || *bco >= 0)
		return;
	off_ctx = *ctx;
	off_fn = *fn;
	off_ba = *ba;
	off_bco = *bco;
	__atomic_store_n(&lo_off, lo, __ATOMIC_RELEASE);
}

static int read_self(uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};

	return syscall(SYS_process_vm_readv, (long)A.pid, &local, 1L, &remote, 1L, 0L) == (long)len
		       ? 0
		       : -1;
}

static uint64_t slot(const uint64_t *w, int lo, int off)
{
	return w[(off - lo) / 8];
}

/* The walk from (ip, fp): aux filled for frames that match; whether any did. */
static int walk(int lo, uint64_t ip, uint64_t fp, void *const *frames, int n, uint64_t *aux)
{
	uint64_t w[(128 + 16) / 8];
	int steps, j = 0, any = 0, k;

	for (steps = 0; steps < MAX_WALK && fp && !(fp & 7) && ip; steps++) {
		uint64_t ctx, fn, ba, bco, next, ret;

		if (read_self(fp + (uint64_t)(int64_t)lo, w, (size_t)(16 - lo)))
			break;
		ctx = slot(w, lo, off_ctx);
		fn = slot(w, lo, off_fn);
		ba = slot(w, lo, off_ba);
		bco = slot(w, lo, off_bco);
		next = slot(w, lo, 0);
		ret = slot(w, lo, 8);
		if ((ctx & 3) == 1 && (fn & 3) == 1 && (ba & 3) == 1 && !(bco & 0xffffffffULL) &&
		    (int64_t)bco >= 0 && (int64_t)bco >> SMI_SHIFT < (1 << 26)) {
			/* the frame with this address among libunwind's (leaf first, in order) */
			for (k = j; k < n && (uint64_t)(uintptr_t)frames[k] != ip; k++)
				;
			if (k < n) {
				aux[k] = ba + (uint64_t)((int64_t)bco >> SMI_SHIFT);
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

/* Whether fp is the frame pointer of the frame whose caller libunwind found at ret. */
static int frame_of(uint64_t fp, uint64_t ret)
{
	uint64_t w[2];

	return fp && !(fp & 7) && !read_self(fp, w, sizeof(w)) && w[1] == ret;
}

int lsc__node_frames(const void *uc, uint64_t fp, void *const *frames, int n, uint64_t *aux)
{
	int lo = __atomic_load_n(&lo_off, __ATOMIC_ACQUIRE), k;

	if (!lo || n <= 0)
		return 0;
	for (k = 0; k < n; k++)
		aux[k] = 0;
	if (!uc) /* from the caller's own frame up: a call's stack */
		return walk(lo, 1, fp, frames, n, aux);
	{
		const greg_t *g = ((const ucontext_t *)uc)->uc_mcontext.gregs;
		unw_cursor_t cur;
		unw_word_t rbp;

		fp = (uint64_t)g[REG_RBP];
		if (n < 2 || frame_of(fp, (uint64_t)(uintptr_t)frames[1]))
			return walk(lo, (uint64_t)g[REG_RIP], fp, frames, n, aux);
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
