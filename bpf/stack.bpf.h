/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stack.bpf.h — user stacks for loop.bpf.c (included once, after its constants and maps): the
 * hybrid walk, frame pointers where the code keeps them and CFI rules from the table user space
 * loaded (cfi_table.c) where it does not, so that a stack reaches its thread's root through
 * libc, libuv and OpenSSL's assembly; for Node.js, what V8 keeps below each frame pointer (the
 * JS function); and the copy of the stack's top for unwinding in user space (--stacks dwarf,
 * blocking calls).
 */
#ifndef LSC_BPF_STACK_BPF_H
#define LSC_BPF_STACK_BPF_H

/* Set by the loader once the maps below are filled: the rows in uw_rows and the modules in
 * uw_objs (0: frame pointers only). Not constants, so that the verifier does not follow the
 * searches below value by value. */
__u32 uw_nrows, uw_nobjs;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by the loader */
	__type(key, __u32);
	__type(value, struct lscb_uw_row);
} uw_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LSCB_UW_MAX_OBJS);
	__type(key, __u32);
	__type(value, struct lscb_uw_obj);
} uw_objs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by the loader */
	__type(key, __u32);
	__type(value, __u64);
} uw_pages SEC(".maps");

/* A binary search for how many entries begin at or before pc, in [lo, hi). */
struct uw_search {
	__u64 pc;
	__u32 lo, hi;
};

static long uw_obj_step(__u32 i, struct uw_search *s)
{
	__u32 mid = s->lo + (s->hi - s->lo) / 2;
	struct lscb_uw_obj *o;

	if (s->lo >= s->hi || !(o = bpf_map_lookup_elem(&uw_objs, &mid)))
		return 1;
	if (o->lo <= s->pc)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

static long uw_row_step(__u32 i, struct uw_search *s)
{
	__u32 mid = s->lo + (s->hi - s->lo) / 2;
	struct lscb_uw_row *r;

	if (s->lo >= s->hi || !(r = bpf_map_lookup_elem(&uw_rows, &mid)))
		return 1;
	if (r->pc <= s->pc)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/* The row in force at pc (the last whose pc is at or below it), or NULL: frame pointers. The
 * module first (JIT code is in none), then the rows its page holds. */
static __always_inline struct lscb_uw_row *uw_find(__u64 pc)
{
	struct uw_search s = {.pc = pc, .hi = uw_nobjs};
	struct lscb_uw_obj *o;
	__u64 *a, *b;
	__u32 k;

	bpf_loop(9, uw_obj_step, &s, 0); /* LSCB_UW_MAX_OBJS */
	if (!s.lo)
		return NULL;
	k = s.lo - 1;
	o = bpf_map_lookup_elem(&uw_objs, &k);
	if (!o || pc >= o->hi)
		return NULL;
	k = o->page0 + (__u32)((pc - o->lo) >> LSCB_UW_PAGE_SHIFT);
	a = bpf_map_lookup_elem(&uw_pages, &k);
	k++;
	b = bpf_map_lookup_elem(&uw_pages, &k);
	if (!a || !b)
		return NULL;
	s.lo = (__u32)*a;
	s.hi = (__u32)*b;
	bpf_loop(23, uw_row_step, &s, 0); /* 2^22 rows at most (LSCB_UW_MAX_ROWS) */
	if (!s.lo || s.lo > uw_nrows)
		return NULL;
	k = s.lo - 1;
	return bpf_map_lookup_elem(&uw_rows, &k);
}

struct uw_walk {
	__u64 ip, sp, bp;
	__u64 *ips, *sfis, *prints; /* sfis, prints: Node.js only */
	__u32 n, adj;		    /* adj: subtracted from ip to find its row (1 past the leaf) */
	__u32 cfi, js;
};

/*
 * Node.js: what V8 would find below a frame pointer if it is a JS frame: a tagged context and a
 * tagged JSFunction (fn, ctx: read with the frame pointer's own two words when V8 keeps them
 * just below it, as Node 20's does), the function's SharedFunctionInfo read from it, and the two
 * words of it that tell it later (LSCB_SFI_PRINT), in one read when they are close. User space
 * believes it only for an address in V8's code and an object whose map says
 * SharedFunctionInfo (bpf/v8.h).
 */
static __always_inline void uw_js(struct uw_walk *w, __u32 k, __u64 fn, __u64 ctx)
{
	__u64 sfi = 0, nos = 0, sod = 0, words[4];

	if ((fn & 3) != 1 || (ctx & 3) != 1 ||
	    bpf_probe_read_user(&sfi, sizeof(sfi), (void *)(fn - 1 + v8_fn_shared)) ||
	    (sfi & 3) != 1)
		return;
	if (v8_sfi_sod > v8_sfi_nos && v8_sfi_sod - v8_sfi_nos <= 24) {
		if (bpf_probe_read_user(words, v8_sfi_sod - v8_sfi_nos + 8,
					(void *)(sfi - 1 + v8_sfi_nos)))
			return;
		nos = words[0];
		sod = words[((v8_sfi_sod - v8_sfi_nos) / 8) & 3];
	} else if (bpf_probe_read_user(&nos, sizeof(nos), (void *)(sfi - 1 + v8_sfi_nos)) ||
		   bpf_probe_read_user(&sod, sizeof(sod), (void *)(sfi - 1 + v8_sfi_sod))) {
		return;
	}
	w->sfis[k] = sfi;
	w->prints[k] = LSCB_SFI_PRINT(nos, sod);
}

/* A frame by its frame pointer: the caller's bp and ip above it, and for Node.js what V8 keeps
 * below it. 0, or 1 to stop. */
static __always_inline int uw_fp(struct uw_walk *w, __u32 k)
{
	__u64 four[4], fn = 0, ctx = 0;

	if (!w->bp || w->bp < w->sp || (w->bp & 7))
		return 1;
	if (w->js && v8_fp_function == -16 && v8_fp_context == -8 &&
	    !bpf_probe_read_user(four, sizeof(four), (void *)(w->bp - 16))) {
		fn = four[0];
		ctx = four[1];
	} else {
		if (bpf_probe_read_user(&four[2], 16, (void *)w->bp))
			return 1;
		if (w->js &&
		    (bpf_probe_read_user(&fn, sizeof(fn), (void *)(w->bp + v8_fp_function)) ||
		     bpf_probe_read_user(&ctx, sizeof(ctx), (void *)(w->bp + v8_fp_context))))
			fn = ctx = 0;
	}
	if (w->js)
		uw_js(w, k, fn, ctx);
	w->ip = four[3];
	w->sp = w->bp + 16;
	w->bp = four[2];
	return 0;
}

/* One frame: recorded, then its caller's ip, sp and bp found by its row's rule, or by its frame
 * pointer. Stops at the root (an undefined return address), at a rule it does not follow, and
 * when the frames would not go up the stack. */
static long uw_step(__u32 i, struct uw_walk *w)
{
	struct lscb_uw_row *r = NULL;
	__u32 k = w->n & (LSCB_MAX_FRAMES - 1), kind = LSCB_UW_FP, reg;
	__u64 next[2], cfa, ra = 0;

	if (w->n >= LSCB_MAX_FRAMES || !w->ip)
		return 1;
	w->ips[k] = w->ip;
	if (w->js) {
		w->sfis[k] = 0;
		w->prints[k] = 0;
	}
	w->n++;
	if (w->cfi && (r = uw_find(w->ip - w->adj)))
		kind = LSCB_UW_KIND(r);
	w->adj = 1;
	if (kind == LSCB_UW_FP || !r)
		return uw_fp(w, k);
	if (kind == LSCB_UW_SIGNAL) { /* the interrupted code, from the signal's ucontext */
		if (bpf_probe_read_user(next, sizeof(next), (void *)(w->sp + r->cfa_off)) ||
		    bpf_probe_read_user(&w->bp, sizeof(w->bp), (void *)(w->sp + r->rbp_off)))
			return 1;
		w->sp = next[0];
		w->ip = next[1];
		w->adj = 0; /* an interrupted instruction, not a return address */
		return 0;
	}
	if (kind != LSCB_UW_CFA && kind != LSCB_UW_DEREF)
		return 1; /* the root, or a rule not followed */
	reg = LSCB_UW_REG(r);
	if (reg == 7)
		cfa = w->sp + r->cfa_off;
	else if (reg == 6)
		cfa = w->bp + r->cfa_off;
	else
		return 1; /* only the leaf has the other registers (uw_leaf) */
	if (kind == LSCB_UW_DEREF) {
		if (bpf_probe_read_user(&cfa, sizeof(cfa), (void *)cfa))
			return 1;
		cfa += LSCB_UW_ADD(r);
	}
	if (cfa <= w->sp || bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8)))
		return 1;
	switch (LSCB_UW_RBP(r)) {
	case LSCB_UW_RBP_CFA:
		if (bpf_probe_read_user(&w->bp, sizeof(w->bp), (void *)(cfa + r->rbp_off)))
			w->bp = 0;
		break;
	case LSCB_UW_RBP_RBP:
		if (bpf_probe_read_user(&w->bp, sizeof(w->bp), (void *)(w->bp + r->rbp_off)))
			w->bp = 0;
		break;
	case LSCB_UW_RBP_LOST:
		w->bp = 0;
		break;
	}
	w->sp = cfa;
	w->ip = ra;
	return 0;
}

static __always_inline __u64 uw_reg(struct pt_regs *regs, __u32 reg)
{
	switch (reg) { /* DWARF's numbering */
	case 0:
		return BPF_CORE_READ(regs, ax);
	case 1:
		return BPF_CORE_READ(regs, dx);
	case 2:
		return BPF_CORE_READ(regs, cx);
	case 3:
		return BPF_CORE_READ(regs, bx);
	case 4:
		return BPF_CORE_READ(regs, si);
	case 5:
		return BPF_CORE_READ(regs, di);
	case 8:
		return BPF_CORE_READ(regs, r8);
	case 9:
		return BPF_CORE_READ(regs, r9);
	case 10:
		return BPF_CORE_READ(regs, r10);
	case 11:
		return BPF_CORE_READ(regs, r11);
	case 12:
		return BPF_CORE_READ(regs, r12);
	case 13:
		return BPF_CORE_READ(regs, r13);
	case 14:
		return BPF_CORE_READ(regs, r14);
	case 15:
		return BPF_CORE_READ(regs, r15);
	}
	return 0;
}

/* The leaf, whose rule may take its CFA from any register (OpenSSL's assembly keeps the
 * caller's rsp in rax, rdi or rsi for a while): stepped here, with the registers at hand. */
static __always_inline void uw_leaf(struct uw_walk *w, struct pt_regs *regs)
{
	struct lscb_uw_row *r;
	__u64 cfa, ra = 0, bp = w->bp;
	__u16 insn = 0;
	__u32 reg;

	/* stopped in a system call: the rule is the syscall instruction's, just before ip; at a
	 * uprobe's int3 (V8's GC tracer), the probed instruction's, which has not run */
	if (!bpf_probe_read_user(&insn, sizeof(insn), (void *)(w->ip - 2)))
		w->adj = insn == 0x050f ? 2 : (insn >> 8) == 0xcc ? 1 : 0;
	r = uw_find(w->ip - w->adj);
	if (!r || (LSCB_UW_KIND(r) != LSCB_UW_CFA && LSCB_UW_KIND(r) != LSCB_UW_DEREF))
		return;
	reg = LSCB_UW_REG(r);
	if (reg == 6 || reg == 7)
		return; /* uw_step's */
	cfa = uw_reg(regs, reg) + r->cfa_off;
	if (LSCB_UW_KIND(r) == LSCB_UW_DEREF) {
		if (bpf_probe_read_user(&cfa, sizeof(cfa), (void *)cfa))
			return;
		cfa += LSCB_UW_ADD(r);
	}
	if (cfa <= w->sp || bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8)))
		return;
	if (LSCB_UW_RBP(r) == LSCB_UW_RBP_CFA &&
	    bpf_probe_read_user(&bp, sizeof(bp), (void *)(cfa + r->rbp_off)))
		bp = 0;
	else if (LSCB_UW_RBP(r) == LSCB_UW_RBP_LOST)
		bp = 0;
	w->ips[0] = w->ip;
	if (w->js) {
		w->sfis[0] = 0;
		w->prints[0] = 0;
	}
	w->n = 1;
	w->adj = 1;
	w->ip = ra;
	w->sp = cfa;
	w->bp = bp;
}

/*
 * The user stack from regs, leaf first, into ips (return addresses past the first); with js (a
 * Node.js target), each frame pointer's JS function into sfis and prints. cfi 0: frame pointers
 * only (--stacks fp). The number of frames.
 */
static __always_inline __u32 uw_stack(struct pt_regs *regs, __u64 *ips, __u64 *sfis, __u64 *prints,
				      int js, int cfi)
{
	struct uw_walk w = {
		.ip = BPF_CORE_READ(regs, ip),
		.sp = BPF_CORE_READ(regs, sp),
		.bp = BPF_CORE_READ(regs, bp),
		.ips = ips,
		.sfis = sfis,
		.prints = prints,
		.cfi = cfi && uw_nobjs,
		.js = js && v8_on,
	};

	if (w.cfi)
		uw_leaf(&w, regs);
	bpf_loop(LSCB_MAX_FRAMES, uw_step, &w, 0);
	return w.n;
}

/* ------------------------------------------------------------------ the stack's top, copied */

struct copy {
	__u64 base; /* the chunk holding rsp, aligned: no chunk straddles a page */
	__u8 *dst;
	__u32 len, missing;
};

/* What stands for a chunk that cannot be read. */
__u8 copy_zeros[LSCB_STACK_CHUNK];

/* A page of the stack may not be there inside it: a large buffer a frame never wrote (libuv's
 * uv__io_poll keeps 12 KiB of epoll events on its stack) was never faulted in. Such a chunk is
 * zeroed and the copy goes on, for the frames above it are there; after three pages of chunks
 * that cannot be read, the stack has ended. */
static long copy_step(__u32 i, struct copy *c)
{
	__u32 off = (i & (LSCB_STACK_COPY / LSCB_STACK_CHUNK - 1)) * LSCB_STACK_CHUNK;

	if (bpf_probe_read_user(c->dst + off, LSCB_STACK_CHUNK, (void *)(c->base + off))) {
		bpf_probe_read_kernel(c->dst + off, LSCB_STACK_CHUNK, copy_zeros);
		return ++c->missing >= 3 * 4096 / LSCB_STACK_CHUNK;
	}
	c->missing = 0;
	c->len = off + LSCB_STACK_CHUNK;
	return 0;
}

/* Registers and the top of the stack, for user space to unwind code without frame pointers. */
static __always_inline void copy_stack(struct pt_regs *regs, struct lscb_event *e)
{
	__u64 sp = BPF_CORE_READ(regs, sp);
	struct copy c = {.base = sp & ~(__u64)(LSCB_STACK_CHUNK - 1), .dst = e->stack};

	e->regs[0] = BPF_CORE_READ(regs, bx);
	e->regs[1] = BPF_CORE_READ(regs, bp);
	e->regs[2] = sp;
	e->regs[3] = BPF_CORE_READ(regs, r12);
	e->regs[4] = BPF_CORE_READ(regs, r13);
	e->regs[5] = BPF_CORE_READ(regs, r14);
	e->regs[6] = BPF_CORE_READ(regs, r15);
	e->regs[7] = BPF_CORE_READ(regs, ip);
	bpf_loop(LSCB_STACK_COPY / LSCB_STACK_CHUNK, copy_step, &c, 0);
	e->stack_skip = (__u32)(sp - c.base);
	e->stack_len = c.len > e->stack_skip ? c.len : 0;
}

#endif
