/*
 * heap.c — the native heap, interposed: malloc, calloc, realloc, reallocarray, free,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc and malloc_usable_size.
 *
 * Modes (LOOPSCOPE_HEAP, fixed at start):
 *  - off: `loopscope run` preloads the agent built without this file's allocator
 *    (libloopscope_agent_noheap.so, LSC_AGENT_NOHEAP): the program's malloc is glibc's own. The
 *    full agent preloaded by hand with heap tracking off forwards every call;
 *  - sampled (the default): Poisson sampling by bytes (a sample point every Exp(interval) bytes,
 *    counted down per thread); a sampled allocation's stack is taken, and it stands for the
 *    bytes and the count that make per-site sums unbiased (heap_sites.c);
 *  - full: every allocation carries a 16-byte header in front of it (its site, its size, the
 *    distance back to the real block), so that free() needs no lookup and the live set at any
 *    moment is exact, per site. The header keeps malloc's 16-byte alignment; larger alignments
 *    get a block of size + alignment. malloc_usable_size() answers for the caller's part.
 *
 * Sampled mode's fast path is what a program that allocates all the time pays, so it is kept to
 * what cannot go: one load of the state, the thread's countdown (a subtraction in initial-exec
 * TLS, the only store) and a tail call to the real function; free() is a test of the pointer's
 * low bits, a range check for the bootstrap arena, and a tail call. No function call of ours, no
 * atomic, no table read. That holds because the decision to sample comes before the block is
 * made: a sampled block is made by the real memalign at a 256-byte boundary, so free() and
 * realloc() know every other block by its address; a 256-byte aligned pointer (a sample, or one
 * of glibc's own in about 16, or any valloc'd block) takes the rare path, a read of the per-page
 * filter and the sample table (heap_sites.c). A sampled block is an ordinary block of the real
 * allocator, so realloc, malloc_usable_size and a free that bypasses us need nothing of ours;
 * realloc moves a block to a 256-byte boundary when a sample point falls in its new size. Whether a
 * sampled block was temporary (freed before its thread's next allocation) is told without a store
 * per allocation: the thread's countdown moves with every allocation, so it still holds, at the
 * free, the value it had when the sample was taken only if none came in between.
 * Every allocation counts down, the agent's own included; a sample point that falls in one of
 * those is dropped. The points that fall in the program's bytes remain a Poisson process of the
 * same rate, so the estimates stay unbiased. Everything else (bootstrap, full mode, the sample
 * itself, 256-byte aligned pointers) is out of line.
 *
 * Bootstrap: until the constructor has resolved the real allocator and read the configuration,
 * allocations (ld.so's, libc's, dlsym's own) come from a static arena and are never given back;
 * free() recognises them by address. The mode never changes after that, so every pointer freed
 * was made under the rules it is freed by.
 *
 * Safety: no lock, no stdio, no allocation of our own on these paths; the re-entrancy guard
 * (lsc__T.in_agent) makes the allocator's own use of malloc (libunwind, dlsym, a signal handler
 * that interrupts us and allocates) pass straight through, with a header in full mode. A signal
 * handler that allocates between the countdown's load and store loses its own count: a sample
 * point moves by a few bytes, no more.
 */
#include "heap_stacks.h"

#include <dlfcn.h>
#include <errno.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT	    __attribute__((visibility("default")))
#define T	    lsc__T
#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static int mode = LSC_HEAP_OFF; /* the writer's view (LSC_HEAP_*) */

#ifndef LSC_AGENT_NOHEAP
/* ------------------------------------------------------------------ the real allocator */

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_memalign)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static size_t (*real_usable)(void *);

/* What the interposed calls do, read once per call; set once, from S_BOOT (the real allocator is
 * not resolved yet) to one of the others. From S_OFF up, the real allocator serves. */
enum { S_BOOT, S_FULL, S_OFF, S_SAMPLED };
static _Atomic int state;
static uint64_t interval;
static struct lsc_heap_sites sites;
static struct lsc_heap_samples samples;

/* ------------------------------------------------------------------ bootstrap arena */

static char boot[8u << 20] __attribute__((aligned(64)));
static _Atomic size_t boot_used;

static int is_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

static void *boot_alloc(size_t n, size_t align)
{
	size_t start = atomic_load(&boot_used), p, end;

	if (align < 16)
		align = 16;
	do {
		/* the address is aligned, not the offset: the arena itself is aligned to 64 only */
		p = (((uintptr_t)boot + start + sizeof(uint64_t) + align - 1) & ~(align - 1)) -
		    (uintptr_t)boot;
		end = p + n;
		if (n > sizeof(boot) || end > sizeof(boot)) {
			errno = ENOMEM;
			return NULL;
		}
	} while (!atomic_compare_exchange_weak(&boot_used, &start, end));
	memcpy(boot + p - sizeof(uint64_t), &n, sizeof(n));
	return boot + p; /* zeroed: the arena is never reused */
}

static size_t boot_size(const void *p)
{
	uint64_t n;

	memcpy(&n, (const char *)p - sizeof(n), sizeof(n));
	return n;
}

static inline int tracking(void)
{
	return !T.in_agent && !T.is_writer;
}

/* ------------------------------------------------------------------ full: headers */

#define MAGIC 0x4c5348u /* "LSH", in the header's top 24 bits */

struct hdr {
	uint32_t site;
	uint32_t tag; /* MAGIC << 8 | log2(distance from the real block to the pointer) */
	uint64_t size;
};

static inline struct hdr *hdr_of(void *p)
{
	return (struct hdr *)p - 1;
}

static inline __attribute__((always_inline)) void *full_alloc(size_t n, size_t align, int zero,
							      const struct caller *k)
{
	size_t lead = align <= 16 ? 16 : align, total;
	char *base, *p;
	struct hdr *h;
	int saved;

	if (__builtin_add_overflow(n, lead, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (align <= 16)
		base = zero ? real_calloc(1, total) : real_malloc(total);
	else
		base = real_memalign(align, total);
	if (!base)
		return NULL;
	p = base + lead;
	if (zero && align > 16)
		memset(p, 0, n);
	h = hdr_of(p);
	h->size = n;
	h->tag = MAGIC << 8 | (uint32_t)__builtin_ctzl(lead);
	h->site = 0;
	if (LIKELY(tracking())) {
		saved = errno;
		h->site = lsc__heap_site_of(&sites, k);
		lsc_heap_count_alloc(&sites, h->site, n, 1000);
		T.last_alloc = p;
		errno = saved;
	}
	return p;
}

static void full_free(void *p)
{
	struct hdr *h = hdr_of(p);
	size_t lead;

	if (UNLIKELY(h->tag >> 8 != MAGIC)) {
		real_free(p); /* not ours after all: the real allocator will judge */
		return;
	}
	lead = (size_t)1 << (h->tag & 0xff);
	if (h->site)
		lsc_heap_count_free(&sites, h->site, h->size, 1000, T.last_alloc == p);
	if (T.last_alloc == p)
		T.last_alloc = NULL;
	h->tag = 0; /* a second free of p goes to the real allocator, which reports it */
	real_free((char *)p - lead);
}

static void *full_realloc(void *p, size_t n, const struct caller *k)
{
	struct hdr *h = hdr_of(p);
	size_t old = h->size, total;
	char *base, *q;

	if (h->tag >> 8 == MAGIC && (h->tag & 0xff) == 4) {
		/* the common case: let the real realloc move the block, header and all */
		if (__builtin_add_overflow(n, 16, &total)) {
			errno = ENOMEM;
			return NULL;
		}
		if (h->site)
			lsc_heap_count_free(&sites, h->site, old, 1000, 0);
		base = real_realloc((char *)p - 16, total);
		if (!base) {
			if (h->site)
				lsc_heap_count_alloc(&sites, h->site, old, 1000);
			return NULL;
		}
		q = base + 16;
		h = hdr_of(q);
		h->size = n;
		h->site = 0;
		if (LIKELY(tracking())) {
			int saved = errno;

			h->site = lsc__heap_site_of(&sites, k);
			lsc_heap_count_alloc(&sites, h->site, n, 1000);
			T.last_alloc = q;
			errno = saved;
		}
		return q;
	}
	if (h->tag >> 8 != MAGIC)
		return real_realloc(p, n);
	/* an aligned block: realloc does not keep alignment, and neither need we */
	q = full_alloc(n, 16, 0, k);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	full_free(p);
	return q;
}

/* ------------------------------------------------------------------ sampled */

/*
 * A sampled block starts at a 256-byte boundary (TAG): free() and realloc() look a pointer up
 * only when its low 8 bits are zero, which glibc gives about one block in 16 of its own (and
 * every more aligned one); the lookup then reads the per-page filter and, when a sample lives in
 * that page, the table. The block comes from the real memalign, so it is a block of the real
 * allocator like any other: realloc, malloc_usable_size and a free that bypasses us (a library
 * calling __libc_free) treat it as theirs. Why 256 and not a page: memalign(4096) splits off up
 * to 4 KiB in front of each sample and hands it back to the free lists, which made every other
 * malloc and free of malloc_mixed slower (sampled 1.088× plain with a page, 1.058× with 256
 * bytes, 1.046× with no alignment at all; docs/performance.md); the filter read that one free in
 * 16 then costs is smaller than that.
 */
#define TAG 256u

static inline int tagged(const void *p)
{
	return ((uintptr_t)p & (TAG - 1)) == 0; /* NULL too: it goes the rare way */
}

/* The countdown, sampled mode's only work per allocation: whether a sample point falls in these
 * n bytes. Every allocation counts, the agent's own too (they are left out at the point: the
 * points that fall in the program's bytes are still a Poisson process of the same rate). */
static inline int sample_due(size_t n)
{
	T.heap_gap -= (int64_t)n;
	return UNLIKELY(T.heap_gap <= 0);
}

/* Past a sample point: draws the next one; whether this allocation is a sample (not the thread's
 * first draw, whose countdown was not a real one, and the program's allocation). */
static int sample_point(void)
{
	int saved = errno, real = 1;

	if (!T.heap_rng) {
		T.heap_rng =
			lsc__now_ns() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^ (uintptr_t)&saved;
		T.heap_gap += lsc_heap_next_gap(&T.heap_rng, interval);
		real = T.heap_gap <= 0;
	}
	while (T.heap_gap <= 0)
		T.heap_gap += lsc_heap_next_gap(&T.heap_rng, interval);
	errno = saved;
	return real && tracking();
}

/* A block for a sample of n bytes, at a TAG boundary (or align's, when larger), recorded with
 * the caller's stack. The thread's countdown at this moment tells whether another allocation
 * came before its free (a temporary one): the fast path stores nothing. */
static void *sample_block(size_t n, size_t align, int zero)
{
	void *p = real_memalign(align > TAG ? align : TAG, n);
	uint64_t bytes, milli;
	uint32_t s;
	int saved = errno;

	if (!p)
		return NULL;
	if (zero)
		memset(p, 0, n);
	lsc_heap_weight(n, interval, &bytes, &milli);
	s = lsc__heap_site_here(&sites);
	lsc_heap_count_alloc(&sites, s, bytes, milli);
	if (lsc_heap_samples_put(&samples, (uintptr_t)p, s, bytes, milli))
		lsc_heap_count_free(&sites, s, bytes, milli, 0); /* cannot follow it: not live */
	T.last_alloc = p;
	T.last_gap = T.heap_gap;
	errno = saved;
	return p;
}

/* malloc, calloc (zero) past a sample point. */
static __attribute__((noinline)) void *sampled_alloc(size_t n, int zero)
{
	if (sample_point())
		return sample_block(n, 16, zero);
	return zero ? real_calloc(1, n) : real_malloc(n);
}

/* The memalign family past a sample point; an alignment memalign would not take as it is (not
 * a power of two) goes to the real call unsampled, which judges it. */
static __attribute__((noinline)) void *sampled_aligned(void *(*real)(size_t, size_t), size_t align,
						       size_t n)
{
	if (sample_point() && align && !(align & (align - 1)))
		return sample_block(n, align, 0);
	return real(align, n);
}

/* realloc of a block of the real allocator (p) past a sample point: the new block is a sample,
 * so it moves to a TAG boundary. */
static __attribute__((noinline)) void *sampled_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!sample_point())
		return real_realloc(p, n);
	q = sample_block(n, 16, 0);
	if (!q)
		return NULL;
	old = real_usable(p);
	memcpy(q, p, old < n ? old : n);
	real_free(p);
	return q;
}

/* free() of a TAG-aligned block: a sample or not. */
static void sampled_release(void *p)
{
	uint64_t bytes, milli;
	uint32_t s;

	if (lsc_heap_samples_take(&samples, (uintptr_t)p, &s, &bytes, &milli))
		lsc_heap_count_free(&sites, s, bytes, milli,
				    T.last_alloc == p && T.last_gap == T.heap_gap);
}

/* ------------------------------------------------------------------ the interposed calls */

/*
 * Each entry point reads the state once. Off and sampled (the default) stay in the entry point:
 * a compare or two, the countdown, and a tail call to the real allocator; the rest (bootstrap,
 * full mode, a sample, a TAG-aligned free) is out of line. Full mode's cache key is the frame
 * of the program's call, taken in the entry point itself.
 */
static size_t pow2_at_least(size_t a)
{
	size_t p = 16;

	while (p < a && p)
		p <<= 1;
	return p;
}

static inline int is_boot_fast(const void *p)
{
	return (uintptr_t)p - (uintptr_t)boot < sizeof(boot);
}

static inline int state_now(void)
{
	return atomic_load_explicit(&state, memory_order_acquire);
}

/* Full mode's work, out of line: the interposed calls stay small for the other modes. */
static __attribute__((noinline)) void *full_path(size_t n, size_t align, int zero,
						 const struct caller *k)
{
	return full_alloc(n, align, zero, k);
}

/* Every allocating entry point's rare cases, with the frame of the program's call. */
static __attribute__((noinline)) void *alloc_rare(size_t n, size_t align, int zero,
						  const struct caller *k)
{
	int s = state_now();

	if (s == S_BOOT)
		return boot_alloc(n, pow2_at_least(align));
	if (s == S_FULL)
		return full_path(n, pow2_at_least(align), zero, k);
	if (s == S_SAMPLED && sample_due(n))
		return align <= 16 ? sampled_alloc(n, zero)
				   : sampled_aligned(real_memalign, align, n);
	if (align <= 16)
		return zero ? real_calloc(1, n) : real_malloc(n);
	return real_memalign(align, n);
}

EXPORT void *malloc(size_t n)
{
	int s = state_now();

	if (LIKELY(s == S_SAMPLED)) {
		if (sample_due(n))
			return sampled_alloc(n, 0);
		return real_malloc(n);
	}
	if (LIKELY(s == S_OFF))
		return real_malloc(n);
	{
		struct caller k = CALLER_HERE();

		return alloc_rare(n, 16, 0, &k);
	}
}

static __attribute__((noinline)) void free_rare(void *p)
{
	int s = state_now();

	if (!p || is_boot(p))
		return;
	if (s == S_FULL) {
		full_free(p);
		return;
	}
	if (s == S_SAMPLED)
		sampled_release(p);
	if (s != S_BOOT)
		real_free(p);
}

/* Before the real allocator: a block not from the arena is not ours to give back. */
static void boot_free(void *p)
{
}

/* What free() hands an ordinary block to (not NULL, not TAG-aligned, not from the arena): the
 * real free, or full mode's; set with the state, so the fast path does not read the state. */
static _Atomic(void (*)(void *)) free_to = boot_free;

/* A TAG-aligned pointer in a page where no sample lives (in sampled mode, most of them) is told
 * by one read of the filter, without leaving the entry point. */
static inline int not_a_sample(const void *p)
{
	return LIKELY(!tagged(p)) || (p && lsc_heap_samples_none(&samples, (uintptr_t)p));
}

EXPORT void free(void *p)
{
	if (LIKELY(!is_boot_fast(p)) && not_a_sample(p)) {
		atomic_load_explicit(&free_to, memory_order_relaxed)(p);
		return;
	}
	free_rare(p);
}

EXPORT void *calloc(size_t k, size_t size)
{
	int s = state_now();
	size_t n;

	if (LIKELY(s >= S_OFF)) {
		if (s == S_SAMPLED && !__builtin_mul_overflow(k, size, &n) && sample_due(n))
			return sampled_alloc(n, 1);
		return real_calloc(k, size);
	}
	if (__builtin_mul_overflow(k, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	{
		struct caller c = CALLER_HERE();

		return alloc_rare(n, 16, 1, &c);
	}
}

/* realloc's rare cases: no block yet, a bootstrap block, size 0, full mode, a TAG-aligned
 * block (a sample, maybe). */
static __attribute__((noinline)) void *realloc_rare(void *p, size_t n, const struct caller *k)
{
	int s = state_now();
	void *q;

	if (!p)
		return alloc_rare(n, 16, 0, k);
	if (UNLIKELY(is_boot(p))) {
		size_t old = boot_size(p);

		q = alloc_rare(n, 16, 0, k);
		if (q)
			memcpy(q, p, old < n ? old : n);
		return q;
	}
	if (n == 0) { /* glibc's realloc(p, 0): frees p */
		free(p);
		return NULL;
	}
	if (s == S_FULL)
		return full_realloc(p, n, k);
	if (s == S_SAMPLED) {
		uint64_t bytes, milli;
		uint32_t site;
		int was = lsc_heap_samples_take(&samples, (uintptr_t)p, &site, &bytes, &milli);

		q = sample_due(n) ? sampled_realloc(p, n) : real_realloc(p, n);
		if (!q) {
			if (was) /* p lives on */
				lsc_heap_samples_put(&samples, (uintptr_t)p, site, bytes, milli);
			return NULL;
		}
		if (was)
			lsc_heap_count_free(&sites, site, bytes, milli, 0);
		return q;
	}
	return real_realloc(p, n);
}

EXPORT void *realloc(void *p, size_t n)
{
	int s = state_now();

	if (LIKELY(s >= S_OFF) && LIKELY(!is_boot_fast(p)) && not_a_sample(p) && LIKELY(n)) {
		if (s == S_SAMPLED && sample_due(n))
			return sampled_realloc(p, n);
		return real_realloc(p, n);
	}
	{
		struct caller k = CALLER_HERE();

		return realloc_rare(p, n, &k);
	}
}

EXPORT void *reallocarray(void *p, size_t k, size_t size)
{
	struct caller c = CALLER_HERE();
	size_t n;

	if (__builtin_mul_overflow(k, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc_rare(p, n, &c);
}

/* memalign and aligned_alloc: the real one (which judges the alignment) unless in full mode. */
static inline __attribute__((always_inline)) void *
aligned_impl(void *(*real)(size_t, size_t), size_t align, size_t n, const struct caller *k)
{
	int s = state_now();

	if (LIKELY(s >= S_OFF)) {
		if (s == S_SAMPLED && sample_due(n))
			return sampled_aligned(real, align, n);
		return real(align, n);
	}
	return alloc_rare(n, align, 0, k);
}

EXPORT void *memalign(size_t align, size_t n)
{
	struct caller k = CALLER_HERE();

	return aligned_impl(real_memalign, align, n, &k);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	struct caller k = CALLER_HERE();

	return aligned_impl(real_aligned_alloc, align, n, &k);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	struct caller k = CALLER_HERE();
	int s = state_now(), saved;
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	if (s >= S_OFF && !(s == S_SAMPLED && sample_due(n)))
		return real_posix_memalign(out, align, n);
	saved = errno; /* posix_memalign leaves errno alone */
	p = s >= S_OFF ? sampled_aligned(real_memalign, align, n) : alloc_rare(n, align, 0, &k);
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

EXPORT void *valloc(size_t n)
{
	struct caller k = CALLER_HERE();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int s = state_now();

	if (s >= S_OFF)
		return s == S_SAMPLED && sample_due(n) ? sampled_aligned(real_memalign, page, n)
						       : real_valloc(n);
	return alloc_rare(n, page, 0, &k);
}

EXPORT void *pvalloc(size_t n)
{
	struct caller k = CALLER_HERE();
	size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded;
	int s = state_now();

	if (__builtin_add_overflow(n, page - 1, &rounded)) {
		errno = ENOMEM;
		return NULL;
	}
	rounded &= ~(page - 1);
	if (!rounded)
		rounded = page;
	if (s >= S_OFF)
		return s == S_SAMPLED && sample_due(rounded)
			       ? sampled_aligned(real_memalign, page, rounded)
			       : real_pvalloc(n);
	return alloc_rare(rounded, page, 0, &k);
}

EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (is_boot(p))
		return boot_size(p);
	if (mode == LSC_HEAP_FULL && hdr_of(p)->tag >> 8 == MAGIC) {
		size_t lead = (size_t)1 << (hdr_of(p)->tag & 0xff);

		return real_usable((char *)p - lead) - lead;
	}
	return real_usable(p);
}

#endif /* LSC_AGENT_NOHEAP */

/* ------------------------------------------------------------------ lifecycle */

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	int i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo &&
		    me < lo + ph->p_memsz) {
			lsc__self_lo = lo;
			lsc__self_hi = lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

#ifdef LSC_AGENT_NOHEAP
void lsc__heap_resolve(void)
{
}

void lsc__heap_start(int m, uint64_t every)
{
	dl_iterate_phdr(find_self, (void *)(uintptr_t)lsc__heap_start);
}

struct lsc_heap_sites *lsc__heap_sites(void)
{
	return NULL;
}

uint64_t lsc__heap_dropped(void)
{
	return 0;
}
#else
void lsc__heap_resolve(void)
{
#define RESOLVE_ALLOC(var, name) var = (__typeof__(var))dlsym(RTLD_NEXT, name)
	RESOLVE_ALLOC(real_malloc, "malloc");
	RESOLVE_ALLOC(real_free, "free");
	RESOLVE_ALLOC(real_calloc, "calloc");
	RESOLVE_ALLOC(real_realloc, "realloc");
	RESOLVE_ALLOC(real_memalign, "memalign");
	RESOLVE_ALLOC(real_posix_memalign, "posix_memalign");
	RESOLVE_ALLOC(real_aligned_alloc, "aligned_alloc");
	RESOLVE_ALLOC(real_valloc, "valloc");
	RESOLVE_ALLOC(real_pvalloc, "pvalloc");
	RESOLVE_ALLOC(real_usable, "malloc_usable_size");
#undef RESOLVE_ALLOC
}

void lsc__heap_start(int m, uint64_t every)
{
	if (atomic_load(&state) != S_BOOT)
		return;
	if (!real_malloc || !real_free || !real_calloc || !real_realloc || !real_memalign ||
	    !real_posix_memalign || !real_aligned_alloc || !real_valloc || !real_pvalloc ||
	    !real_usable)
		return; /* cannot happen with glibc; the bootstrap arena is then all there is */
	dl_iterate_phdr(find_self, (void *)(uintptr_t)lsc__heap_start);
	if (m != LSC_HEAP_OFF) {
		/* A libunwind built without per-thread caches (Debian's 1.6) makes this its global
		 * cache, behind one mutex taken with every signal blocked on each unw_step: full
		 * mode's step rules (heap_stacks.c) keep it off the allocations' path. */
		unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
		if (m == LSC_HEAP_FULL) {
			lsc__heap_stacks_init(); /* without them, every stack is unwound */
		}
		if (lsc_heap_sites_init(&sites, 1u << 18, 1u << 23) ||
		    (m == LSC_HEAP_SAMPLED && lsc_heap_samples_init(&samples, 1u << 18, 1u << 16)))
			m = LSC_HEAP_OFF;
	}
	mode = m;
	interval = every ? every : 1;
	atomic_store_explicit(&free_to, m == LSC_HEAP_FULL ? full_free : real_free,
			      memory_order_relaxed);
	atomic_store_explicit(&state,
			      m == LSC_HEAP_FULL      ? S_FULL
			      : m == LSC_HEAP_SAMPLED ? S_SAMPLED
						      : S_OFF,
			      memory_order_release);
}

struct lsc_heap_sites *lsc__heap_sites(void)
{
	return mode == LSC_HEAP_OFF ? NULL : &sites;
}

uint64_t lsc__heap_dropped(void)
{
	return mode == LSC_HEAP_SAMPLED ? atomic_load(&samples.dropped) : 0;
}
#endif /* LSC_AGENT_NOHEAP */

int lsc__own_frame(uintptr_t ip)
{
	return ip >= lsc__self_lo && ip < lsc__self_hi;
}

int lsc__heap_mode(void)
{
	return mode;
}
