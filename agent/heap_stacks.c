/*
 * heap_stacks.c — the allocation stacks of the native heap tracker (heap.c): the stack of a
 * sampled allocation, unwound with libunwind; and --heap full's per-thread cache of verified
 * stacks, which spares it the unwinding on almost every allocation, with the step rules learned
 * from libunwind that unwind the stacks the cache does not hold without it.
 */
#include "heap_stacks.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>

#define T lsc__T

uintptr_t lsc__self_lo, lsc__self_hi;

/* A sampled allocation's stack; in Node.js with its JS frames' functions (node_frames.c: two
 * words a frame after the frames), so that the writer names them as it names a CPU sample's. */
uint32_t lsc__heap_site_here(struct lsc_heap_sites *sites)
{
	void *buf[LSC_AGENT_MAX_FRAMES + 8];
	uint64_t f[3 * LSC_AGENT_MAX_FRAMES];
	int n, i = 0, k = 0, aux;
	uint32_t s;

	T.in_agent = 1;
	n = unw_backtrace(buf, LSC_AGENT_MAX_FRAMES + 8);
	while (i < n && (uintptr_t)buf[i] >= lsc__self_lo && (uintptr_t)buf[i] < lsc__self_hi)
		i++;
	for (; i + k < n && k < LSC_AGENT_MAX_FRAMES; k++)
		f[k] = (uint64_t)(uintptr_t)buf[i + k];
	lsc__node_frames_thread(); /* its frames read without a system call each */
	aux = lsc__node_frames(NULL, (uint64_t)(uintptr_t)__builtin_frame_address(0), buf + i, k,
			       f + k);
	s = aux ? lsc_heap_site_aux(sites, f, (uint32_t)(3 * k), 1)
		: lsc_heap_site(sites, f, (uint32_t)k);
	T.in_agent = 0;
	return s;
}

/*
 * --heap full takes a stack for every allocation; unwinding is most of its cost. A program
 * allocates from the same few places over and over, with the same stack below them, so each
 * thread keeps the stacks it unwound, keyed by the caller's frame at the allocation (return
 * address and stack pointer, and its frame pointer when that mattered), with every stack slot
 * whose value the unwinder's result depended on: each return address, and the saved frame
 * pointer of each frame whose address (CFA) was computed from the frame pointer. When the key
 * matches and every slot still holds its value, unwinding again would give the very same frames,
 * so the cached site is the answer. A frame's CFA is taken as computed from the frame pointer
 * when it equals rbp + 16 (what compilers emit with a frame pointer, and what libunwind assumes
 * for code without unwind information), else from the stack pointer. Not cached: stacks through
 * a signal frame, or with a slot outside the thread's own stack (a coroutine's, an alternate
 * signal stack). Not covered by the check: a CFA computed from other memory (GCC's DRAP frames,
 * for over-aligned locals), or from rbp with another offset (hand-written assembly).
 */
#define UC_CACHES 512

/* The caches, each mapped by the first thread that claims it (about 300 KiB of address space,
 * touched as it fills) and kept for the next thread that claims it after that one's exit. */
static struct ucache *ucaches[UC_CACHES];
static _Atomic int uc_claimed[UC_CACHES];
static pthread_key_t uc_key;
static int uc_key_ok;

static void uc_release(void *c)
{
	size_t i = (size_t)((struct ucache *)c)->slot;

	T.ucache = NULL;
	T.no_ucache = 1; /* this thread's last frees and allocations go without */
	if (i < UC_CACHES)
		atomic_store_explicit(&uc_claimed[i], 0, memory_order_release);
}

struct ucache *lsc__heap_ucache_claim(void)
{
	struct ucache *c;
	pthread_attr_t a;
	void *lo = NULL;
	size_t size = 0;
	int i;

	if (T.ucache || T.no_ucache || !uc_key_ok)
		return T.ucache;
	T.no_ucache = 1; /* one try per thread */
	for (i = 0; i < UC_CACHES; i++) {
		int free_cache = 0;

		if (atomic_compare_exchange_strong(&uc_claimed[i], &free_cache, 1))
			break;
	}
	if (i == UC_CACHES)
		return NULL;
	c = ucaches[i];
	if (!c) {
		c = lsc_map_zeroed(sizeof(*c));
		if (!c) {
			atomic_store_explicit(&uc_claimed[i], 0, memory_order_release);
			return NULL;
		}
		ucaches[i] = c;
	}
	c->slot = i;
	/* another thread's stacks: every entry stale at once, the ring come round */
	c->head += UC_CHECKS;
	c->lo = c->hi = 0;
	/* pthread_getattr_np allocates (passed through: the guard is set) */
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &lo, &size) == 0) {
			c->lo = (uintptr_t)lo;
			c->hi = (uintptr_t)lo + size;
		}
		pthread_attr_destroy(&a);
	}
	pthread_setspecific(uc_key, c);
	T.ucache = c;
	T.no_ucache = 0;
	return c;
}

/*
 * Step rules: how libunwind went from a frame at a given return address to its caller's, kept
 * so that the next stack through that address is unwound without it. Unwinding a stack the
 * caches do not hold took libunwind 10 to 20 µs in Node.js, and on worker_threads much more:
 * Debian's libunwind is built without per-thread caches (UNW_CACHE_PER_THREAD falls back to
 * UNW_CACHE_GLOBAL), so every unw_step takes one process-wide mutex with all signals blocked
 * (two sigprocmask calls), and a frame without unwind information (every JIT frame) adds a
 * dl_iterate_phdr under the loader's lock and a mincore and a pipe write to validate memory. Four
 * workers learning their stacks at once spent most of their time in those calls and waiting on
 * that mutex. A rule is what x86-64 code does at one address: the caller's stack pointer (the
 * CFA) is the frame's rsp plus a constant, or its rbp + 16; the return address is at CFA - 8;
 * rbp is either unchanged or was saved at CFA plus a constant. Rules are learned from
 * libunwind's own steps (never guessed): the offsets are what it computed; whether the CFA came
 * from rsp or rbp is told by two steps through the same address that disagree on one of them,
 * and until then a rule is used only where both give the same CFA. An address where a step
 * contradicts what was learned, a signal frame and a return address not at CFA - 8 get no
 * rule: such stacks go to libunwind every time, as all did before. The end of a stack is an
 * address whose unwind information says so (_start, clone3). The table is process-wide (the
 * threads of a program run the same code), read without a lock, written by compare-and-swap,
 * and bounded (RULES addresses, 1 MiB; a full neighbourhood is not written to). Memory is read
 * only in the thread's own stack, between the caller's frame and its top, so a stale rule (the
 * code at an address replaced by other code: a library unloaded and another mapped there) can
 * make a wrong stack, never a fault.
 */
#define RULES	     (1u << 16)
#define RULE_PROBES  8
#define RULE_BUSY    (1ULL << 63) /* a slot being filled: its rule is not there yet */
#define R_KIND	     3u		  /* how the CFA is found: */
#define R_SP	     1u		  /*   rsp + the offset */
#define R_BP	     2u		  /*   rbp + 16 */
#define R_EITHER     3u		  /*   both, as seen so far: used only when they agree */
#define R_SET	     4u		  /* learned (with kind 0: never from rules) */
#define R_END	     8u		  /* the outermost frame */
#define R_BP_SAVED   16u	  /* rbp was saved at CFA + (int16)(rule >> 16) */
#define R_GUESS	     32u	  /* no unwind information: libunwind's frame chain */
#define RULE_SP(r)   ((uintptr_t)((r) >> 32))
#define RULE_BPAT(r) ((intptr_t)(int16_t)((r) >> 16))

struct rule_slot {
	_Atomic uint64_t ip, rule;
};

static struct rule_slot *rules; /* [RULES], mmap'd once (--heap full) */

/* A step notes at most two slots; a stack has at most LSC_AGENT_MAX_FRAMES - 1 steps. */
_Static_assert(UC_MAX_CHECKS >= 2 * (LSC_AGENT_MAX_FRAMES - 1), "the ring's stretch is too short");

static uint32_t rule_home(uintptr_t ip)
{
	return (uint32_t)(((uint64_t)ip * 0x9e3779b97f4a7c15ULL) >> (64 - 16)); /* 16: RULES */
}

static uint64_t rule_of(uintptr_t ip)
{
	uint32_t j = rule_home(ip), p;
	uint64_t key;

	for (p = 0; p < RULE_PROBES; p++, j = (j + 1) & (RULES - 1)) {
		key = atomic_load_explicit(&rules[j].ip, memory_order_acquire);
		if (key == ip)
			return atomic_load_explicit(&rules[j].rule, memory_order_relaxed);
		if (!key)
			return 0;
	}
	return 0;
}

/* Merges what a step showed (seen) into what earlier steps through the same address showed. */
static uint64_t rule_merge(uint64_t old, uint64_t seen)
{
	const uint64_t rest = 0xfffffffcu; /* all but the kind and the offset from rsp */
	unsigned ko = old & R_KIND, ks = seen & R_KIND;

	if (!ko || (old & rest) != (seen & rest))
		return R_SET; /* never, or the end or rbp's slot differ: no rule fits */
	if (RULE_SP(old) == RULE_SP(seen)) {
		if (ko == R_BP && ks == R_SP)
			return R_SET; /* the CFA was at rbp + 16 with varying offsets, now not */
		return ko == R_EITHER ? seen : old; /* a CFA not at rbp + 16 settles it: rsp */
	}
	/* the offset from rsp varies: rbp, if every step had the CFA at rbp + 16 */
	return ko != R_SP && ks != R_SP ? (old & ~(uint64_t)R_KIND) | R_BP : R_SET;
}

/* Stores what a step through ip showed. */
static void rule_learn(uintptr_t ip, uint64_t seen)
{
	uint32_t j = rule_home(ip), p;
	uint64_t key, old;

	for (p = 0; p < RULE_PROBES; p++, j = (j + 1) & (RULES - 1)) {
		key = atomic_load_explicit(&rules[j].ip, memory_order_acquire);
		if (!key) {
			if (!atomic_compare_exchange_strong(&rules[j].ip, &key, ip | RULE_BUSY))
				continue; /* taken meanwhile (maybe for ip, being filled: no matter)
					   */
			atomic_store_explicit(&rules[j].rule, seen, memory_order_relaxed);
			atomic_store_explicit(&rules[j].ip, ip, memory_order_release);
			return;
		}
		if (key != ip)
			continue;
		old = atomic_load_explicit(&rules[j].rule, memory_order_relaxed);
		if (rule_merge(old, seen) != old)
			atomic_store_explicit(&rules[j].rule, rule_merge(old, seen),
					      memory_order_relaxed);
		return;
	}
}

/*
 * Unwinds from k with the rules alone, noting the frames in f and the slots their result
 * depends on in ck exactly as lsc__heap_site_learn's unwinding notes them; 0 when some frame on
 * the way has no rule that settles it (libunwind then does it all again).
 */
static int rules_unwind(const struct caller *k, uintptr_t hi, uint64_t *f, uint32_t *nf,
			struct uc_check *ck, uint32_t *nck, int *need_bp)
{
	uintptr_t ip = k->ip, sp = k->sp, bp = k->bp, cfa, at, bp_from = 0;
	uint32_t n = 0, checks = 0;
	uint64_t r;

	*need_bp = 0;
	for (;;) {
		f[n++] = ip;
		if (n == LSC_AGENT_MAX_FRAMES)
			break;
		r = rule_of(ip);
		if (!(r & R_KIND))
			return 0;
		if (r & R_END)
			break;
		if (r & R_GUESS) {
			/* libunwind's frame chain: the return address above rbp, the caller's rbp
			 * at it, and the stack pointer 16 bytes up (not rbp + 16: libunwind's own
			 * figure, which the frames after it are unwound from); the end when rbp is
			 * 0, below that or over 16 KiB above it */
			if (!bp || bp < sp || bp - sp > 0x4000)
				break;
			if (bp + 16 > hi)
				return 0;
			cfa = sp + 16;
			if (cfa == bp + 16) {
				if (!bp_from)
					*need_bp = 1;
				else {
					ck[checks].addr = bp_from;
					ck[checks++].value = bp;
				}
			}
			at = bp + 8;
			ip = *(const uintptr_t *)at;
			ck[checks].addr = at;
			ck[checks++].value = ip;
			bp_from = bp;
			bp = *(const uintptr_t *)bp_from;
			sp = cfa;
			if (!ip)
				break;
			continue;
		}
		cfa = (r & R_KIND) == R_BP ? bp + 16 : sp + RULE_SP(r);
		if ((r & R_KIND) == R_EITHER && cfa != bp + 16)
			return 0;
		if (cfa <= sp || cfa - 8 < k->sp || cfa > hi)
			return 0;
		if (cfa == bp + 16) {
			if (!bp_from)
				*need_bp = 1;
			else {
				ck[checks].addr = bp_from;
				ck[checks++].value = bp;
			}
		}
		at = cfa - 8;
		ip = *(const uintptr_t *)at;
		ck[checks].addr = at;
		ck[checks++].value = ip;
		if (r & R_BP_SAVED) {
			at = cfa + RULE_BPAT(r);
			if (at < k->sp || at + 8 > hi)
				return 0;
			bp = *(const uintptr_t *)at;
			bp_from = at;
		}
		sp = cfa;
		if (!ip)
			break; /* where libunwind ends too */
	}
	*nf = n;
	*nck = checks;
	return 1;
}

/* What a step of libunwind from a frame (ip0, sp0, bp0) to cur showed: the rule it followed, or
 * R_SET (no rule fits). */
static uint64_t rule_seen(unw_cursor_t *cur, uintptr_t ip0, uintptr_t sp0, uintptr_t bp0)
{
	unw_word_t cfa, bp;
	unw_save_loc_t ra, rbp;
	unw_proc_info_t pi;
	uint64_t r = R_SET;
	int dwarf, guess;

	if (unw_get_reg(cur, UNW_REG_SP, &cfa) < 0 || unw_get_reg(cur, UNW_X86_64_RBP, &bp) < 0 ||
	    unw_get_save_loc(cur, UNW_REG_IP, &ra) || unw_get_save_loc(cur, UNW_X86_64_RBP, &rbp) ||
	    ra.type != UNW_SLT_MEMORY || cfa <= sp0 || cfa - sp0 > 0xffffffffu)
		return R_SET;
	/* unwind information: the return address at CFA - 8; none: libunwind's frame chain */
	dwarf = ra.u.addr == cfa - 8;
	guess = cfa == sp0 + 16 && ra.u.addr == bp0 + 8 && rbp.type == UNW_SLT_MEMORY &&
		rbp.u.addr == bp0;
	if (dwarf && guess) /* rbp was rsp: which one, the unwind information says */
		dwarf = unw_get_proc_info_by_ip(unw_local_addr_space, ip0 - 1, &pi, cur) == 0;
	if (!dwarf)
		return guess ? R_SET | R_GUESS | R_SP | (uint64_t)16 << 32 : R_SET;
	if (rbp.type == UNW_SLT_MEMORY && rbp.u.addr >= sp0 && rbp.u.addr < cfa) {
		if (cfa - rbp.u.addr > 0x8000)
			return R_SET;
		r |= R_BP_SAVED | (uint64_t)(uint16_t)(int16_t)(rbp.u.addr - cfa) << 16;
	} else if (bp != bp0) {
		return R_SET;
	}
	r |= (uint64_t)(cfa - sp0) << 32;
	return r | (cfa == bp0 + 16 ? R_EITHER : R_SP);
}

/* Unwinds from the caller's frame with the rules, or else with a cursor, noting what was read,
 * and caches the stack. */
__attribute__((noinline)) uint32_t lsc__heap_site_learn(struct lsc_heap_sites *sites,
							const struct caller *k, struct ucache *c,
							struct uc_entry *set)
{
	uintptr_t c_lo = c ? c->lo : 0, c_hi = c ? c->hi : 0;
	struct uc_check *ck = NULL;
	struct uc_entry *e = NULL;
	uint64_t at = 0;
	uint64_t f[LSC_AGENT_MAX_FRAMES];
	unw_context_t uc;
	unw_cursor_t cur;
	unw_word_t ip, sp, bp, cfa;
	unw_save_loc_t loc;
	uintptr_t bp_from = 0; /* the slot this frame's rbp was read from; 0: the key's rbp */
	uint32_t n = 0, checks = 0, s;
	int ok = set != NULL, need_bp = 0, w, sig = 0, step;

	if (ok && (k->sp < c_lo || k->sp >= c_hi))
		ok = 0; /* not on the thread's own stack (a coroutine's, a signal stack) */
	if (ok) {
		/* The checks go to the ring from its head, in one stretch: no entry that stands
		 * (UC_LIVE) has a slot among the UC_MAX_CHECKS written from there. */
		at = c->head;
		if (at % UC_CHECKS + UC_MAX_CHECKS > UC_CHECKS)
			at += UC_CHECKS - at % UC_CHECKS;
		c->head = at;
		ck = &c->check[at % UC_CHECKS];
		if (rules && rules_unwind(k, c_hi, f, &n, ck, &checks, &need_bp))
			goto found;
	}
	if (unw_getcontext(&uc) || unw_init_local(&cur, &uc))
		return 1;
	/* past the agent's frames, to the caller's */
	do {
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0)
			return 1;
		if (!lsc__own_frame((uintptr_t)ip))
			break;
	} while (unw_step(&cur) > 0);
	unw_get_reg(&cur, UNW_REG_SP, &sp);
	if (ip != k->ip || sp != k->sp)
		ok = 0; /* not the frame the key describes: do not cache */
	n = checks = 0;
	need_bp = 0;
	for (;;) {
		f[n++] = (uint64_t)ip;
		if (unw_get_reg(&cur, UNW_X86_64_RBP, &bp) < 0)
			ok = 0;
		if (n == LSC_AGENT_MAX_FRAMES)
			break;
		step = unw_step(&cur);
		if (step == 0 && rules && !sig) {
			unw_proc_info_t pi;

			/* the end, by its unwind information (the call's, at ip - 1), or else by a
			 * value (a return address of 0, a frame pointer gone astray): no rule */
			if (unw_get_proc_info_by_ip(unw_local_addr_space, ip - 1, &pi, &cur) == 0)
				rule_learn((uintptr_t)ip, R_SET | R_END | R_SP);
		}
		if (step <= 0)
			break;
		if (rules && !sig)
			rule_learn((uintptr_t)ip,
				   rule_seen(&cur, (uintptr_t)ip, (uintptr_t)sp, (uintptr_t)bp));
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 ||
		    unw_get_reg(&cur, UNW_REG_SP, &cfa) < 0)
			break;
		sp = cfa;
		/* This frame's address came from its rbp (rbp + 16, as compilers emit with a frame
		 * pointer, and as libunwind assumes for code without unwind info): then rbp
		 * decided the rest, and where rbp came from is checked. Otherwise it came from
		 * the stack pointer, and rbp's value did not matter here. */
		if (cfa == bp + 16) {
			if (!bp_from)
				need_bp = 1;
			else if (ok && checks < UC_MAX_CHECKS) {
				ck[checks].addr = bp_from;
				ck[checks++].value = bp;
			}
		}
		/* A signal frame restores every register from memory: not cacheable. */
		sig = unw_is_signal_frame(&cur) > 0;
		if (sig)
			ok = 0;
		/* where this return address was read */
		if (unw_get_save_loc(&cur, UNW_REG_IP, &loc) || loc.type != UNW_SLT_MEMORY ||
		    loc.u.addr < k->sp || loc.u.addr + sizeof(uintptr_t) > c_hi)
			ok = 0;
		else if (ok && checks < UC_MAX_CHECKS) {
			ck[checks].addr = loc.u.addr;
			ck[checks++].value = *(uintptr_t *)loc.u.addr;
		}
		/* and where the next frame's rbp comes from */
		if (unw_get_save_loc(&cur, UNW_X86_64_RBP, &loc) || loc.type == UNW_SLT_REG ||
		    loc.type == UNW_SLT_NONE)
			ok = 0;
		else if (loc.u.addr >= k->sp && loc.u.addr + sizeof(uintptr_t) <= c_hi)
			bp_from = loc.u.addr;
		else if (loc.u.addr >= k->sp)
			ok = 0;
		/* else: in the agent's frames below the key, so unchanged since the caller */
	}
found:
	s = lsc_heap_site(sites, f, n);
	if (ok) {
		/* the way to fill: an empty or stale one, else the set's next in turn */
		for (w = 0; w < UC_WAYS; w++)
			if (!set[w].ip || at - set[w].at > UC_LIVE) {
				e = &set[w];
				break;
			}
		if (!e) {
			uint8_t *next = &c->next[(set - c->e) / UC_WAYS];

			e = &set[*next % UC_WAYS];
			*next = (uint8_t)(*next + 1);
		}
		e->ip = 0;
		atomic_signal_fence(memory_order_seq_cst);
		e->sp = k->sp;
		e->bp = k->bp;
		e->need_bp = (uint8_t)need_bp;
		e->site = s;
		e->at = at;
		e->nchecks = (uint16_t)checks;
		c->head = at + checks;
		atomic_signal_fence(
			memory_order_seq_cst); /* a signal handler sees it whole or not */
		e->ip = k->ip;
	}
	return s;
}

int lsc__heap_stacks_init(void)
{
	rules = lsc_map_zeroed(RULES * sizeof(*rules));
	uc_key_ok = pthread_key_create(&uc_key, uc_release) == 0;
	return uc_key_ok ? 0 : -1;
}
