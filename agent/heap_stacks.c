/*
 * heap_stacks.c — the allocation stacks of the native heap tracker (heap.c): the stack of a
 * sampled allocation, unwound with libunwind; and --heap full's per-thread cache of verified
 * stacks, which spares it the unwinding on almost every allocation.
 */
#include "heap_stacks.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>

#define T lsc__T

uintptr_t lsc__self_lo, lsc__self_hi;

uint32_t lsc__heap_site_here(struct lsc_heap_sites *sites)
{
	void *buf[LSC_AGENT_MAX_FRAMES + 8];
	uint64_t f[LSC_AGENT_MAX_FRAMES];
	int n, i = 0, k = 0;
	uint32_t s;

	T.in_agent = 1;
	n = unw_backtrace(buf, LSC_AGENT_MAX_FRAMES + 8);
	while (i < n && (uintptr_t)buf[i] >= lsc__self_lo && (uintptr_t)buf[i] < lsc__self_hi)
		i++;
	for (; i < n && k < LSC_AGENT_MAX_FRAMES; i++)
		f[k++] = (uint64_t)(uintptr_t)buf[i];
	s = lsc_heap_site(sites, f, (uint32_t)k);
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

/* Unwinds from the caller's frame with a cursor, noting what was read, and caches the stack. */
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
	int ok = set != NULL, need_bp = 0, w;

	if (unw_getcontext(&uc) || unw_init_local(&cur, &uc))
		return 1;
	if (ok) {
		/* The checks go to the ring from its head, in one stretch: no entry that stands
		 * (UC_LIVE) has a slot among the UC_MAX_CHECKS written from there. */
		at = c->head;
		if (at % UC_CHECKS + UC_MAX_CHECKS > UC_CHECKS)
			at += UC_CHECKS - at % UC_CHECKS;
		c->head = at;
		ck = &c->check[at % UC_CHECKS];
	}
	if (ok && (k->sp < c_lo || k->sp >= c_hi))
		ok = 0; /* not on the thread's own stack (a coroutine's, a signal stack) */
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
	for (;;) {
		f[n++] = (uint64_t)ip;
		if (unw_get_reg(&cur, UNW_X86_64_RBP, &bp) < 0)
			ok = 0;
		if (n == LSC_AGENT_MAX_FRAMES || unw_step(&cur) <= 0)
			break;
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 ||
		    unw_get_reg(&cur, UNW_REG_SP, &cfa) < 0)
			break;
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
		if (unw_is_signal_frame(&cur) > 0)
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
	uc_key_ok = pthread_key_create(&uc_key, uc_release) == 0;
	return uc_key_ok ? 0 : -1;
}
