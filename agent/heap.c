/*
 * heap.c — the native heap, interposed: malloc, calloc, realloc, reallocarray, free,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc and malloc_usable_size.
 *
 * Modes (LOOPSCOPE_HEAP, fixed at start):
 *  - off: every call goes straight to the real allocator;
 *  - sampled: Poisson sampling by bytes (a sample point every Exp(interval) bytes, counted down
 *    per thread); a sampled allocation's stack is taken, and it stands for the bytes and the
 *    count that make per-site sums unbiased (heap_sites.c). A free() costs one read of a small
 *    filter unless the pointer may have been sampled;
 *  - full: every allocation carries a 16-byte header in front of it (its site, its size, the
 *    distance back to the real block), so that free() needs no lookup and the live set at any
 *    moment is exact, per site. The header keeps malloc's 16-byte alignment; larger alignments
 *    get a block of size + alignment. malloc_usable_size() answers for the caller's part.
 *
 * Bootstrap: until the constructor has resolved the real allocator and read the configuration,
 * allocations (ld.so's, libc's, dlsym's own) come from a static arena and are never given back;
 * free() recognises them by address. The mode never changes after that, so every pointer freed
 * was made under the rules it is freed by.
 *
 * Safety: no lock, no stdio, no allocation of our own on these paths; the re-entrancy guard
 * (lsc__T.in_agent) makes the allocator's own use of malloc (libunwind, dlsym, a signal handler
 * that interrupts us and allocates) pass straight through, with a header in full mode.
 */
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT	    __attribute__((visibility("default")))
#define T	    lsc__T
#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

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

static _Atomic int ready; /* the real allocator is resolved and the mode is set */
static int mode = LSC_HEAP_OFF;
static uint64_t interval;
static struct lsc_heap_sites sites;
static struct lsc_heap_samples samples;
static uintptr_t self_lo, self_hi; /* this library's code: its frames are left off stacks */

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
		p = (start + sizeof(uint64_t) + align - 1) & ~(align - 1);
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

/* ------------------------------------------------------------------ stacks */

static inline __attribute__((always_inline)) uint32_t site_here(void)
{
	void *buf[LSC_AGENT_MAX_FRAMES + 8];
	uint64_t f[LSC_AGENT_MAX_FRAMES];
	int n, i = 0, k = 0;
	uint32_t s;

	T.in_agent = 1;
	n = unw_backtrace(buf, LSC_AGENT_MAX_FRAMES + 8);
	while (i < n && (uintptr_t)buf[i] >= self_lo && (uintptr_t)buf[i] < self_hi)
		i++;
	for (; i < n && k < LSC_AGENT_MAX_FRAMES; i++)
		f[k++] = (uint64_t)(uintptr_t)buf[i];
	s = lsc_heap_site(&sites, f, (uint32_t)k);
	T.in_agent = 0;
	return s;
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

static inline __attribute__((always_inline)) void *full_alloc(size_t n, size_t align, int zero)
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
		h->site = site_here();
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

static void *full_realloc(void *p, size_t n)
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

			h->site = site_here();
			lsc_heap_count_alloc(&sites, h->site, n, 1000);
			T.last_alloc = q;
			errno = saved;
		}
		return q;
	}
	if (h->tag >> 8 != MAGIC)
		return real_realloc(p, n);
	/* an aligned block: realloc does not keep alignment, and neither need we */
	q = full_alloc(n, 16, 0);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	full_free(p);
	return q;
}

/* ------------------------------------------------------------------ sampled */

static __attribute__((noinline)) void sample_slow(void *p, size_t n)
{
	uint64_t bytes, milli;
	uint32_t s;
	int saved = errno;

	if (!T.heap_rng) {
		/* this thread's first draw: the countdown so far was not a real one */
		T.heap_rng = lsc__now_ns() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^ (uintptr_t)p;
		T.heap_gap += lsc_heap_next_gap(&T.heap_rng, interval);
		if (T.heap_gap > 0) {
			errno = saved;
			return;
		}
	}
	while (T.heap_gap <= 0)
		T.heap_gap += lsc_heap_next_gap(&T.heap_rng, interval);
	lsc_heap_weight(n, interval, &bytes, &milli);
	s = site_here();
	lsc_heap_count_alloc(&sites, s, bytes, milli);
	if (lsc_heap_samples_put(&samples, (uintptr_t)p, s, bytes, milli))
		lsc_heap_count_free(&sites, s, bytes, milli, 0); /* cannot follow it: not live */
	errno = saved;
}

static inline void *sampled_alloc(void *p, size_t n)
{
	if (LIKELY(p != NULL) && LIKELY(tracking())) {
		T.last_alloc = p;
		T.heap_gap -= (int64_t)n;
		if (UNLIKELY(T.heap_gap <= 0))
			sample_slow(p, n);
	}
	return p;
}

static inline void sampled_release(void *p)
{
	uint64_t bytes, milli;
	uint32_t s;

	if (lsc_heap_samples_take(&samples, (uintptr_t)p, &s, &bytes, &milli))
		lsc_heap_count_free(&sites, s, bytes, milli, T.last_alloc == p);
}

/* ------------------------------------------------------------------ the interposed calls */

EXPORT void *malloc(size_t n)
{
	if (UNLIKELY(!atomic_load_explicit(&ready, memory_order_acquire)))
		return boot_alloc(n, 16);
	if (mode == LSC_HEAP_FULL)
		return full_alloc(n, 16, 0);
	if (mode == LSC_HEAP_SAMPLED)
		return sampled_alloc(real_malloc(n), n);
	return real_malloc(n);
}

EXPORT void free(void *p)
{
	if (!p || UNLIKELY(is_boot(p)))
		return;
	if (mode == LSC_HEAP_FULL) {
		full_free(p);
		return;
	}
	if (mode == LSC_HEAP_SAMPLED)
		sampled_release(p);
	real_free(p);
}

EXPORT void *calloc(size_t k, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(k, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	if (UNLIKELY(!atomic_load_explicit(&ready, memory_order_acquire)))
		return boot_alloc(n, 16);
	if (mode == LSC_HEAP_FULL)
		return full_alloc(n, 16, 1);
	if (mode == LSC_HEAP_SAMPLED)
		return sampled_alloc(real_calloc(k, size), n);
	return real_calloc(k, size);
}

EXPORT void *realloc(void *p, size_t n)
{
	void *q;

	if (!p)
		return malloc(n);
	if (UNLIKELY(is_boot(p))) {
		size_t old = boot_size(p);

		q = malloc(n);
		if (q)
			memcpy(q, p, old < n ? old : n);
		return q;
	}
	if (n == 0) { /* glibc's realloc(p, 0): frees p */
		free(p);
		return NULL;
	}
	if (mode == LSC_HEAP_FULL)
		return full_realloc(p, n);
	if (mode == LSC_HEAP_SAMPLED) {
		uint64_t bytes, milli;
		uint32_t s;
		int was = lsc_heap_samples_take(&samples, (uintptr_t)p, &s, &bytes, &milli);

		q = real_realloc(p, n);
		if (!q) {
			if (was) /* p lives on */
				lsc_heap_samples_put(&samples, (uintptr_t)p, s, bytes, milli);
			return NULL;
		}
		if (was)
			lsc_heap_count_free(&sites, s, bytes, milli, 0);
		return sampled_alloc(q, n);
	}
	return real_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t k, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(k, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

static size_t pow2_at_least(size_t a)
{
	size_t p = 16;

	while (p < a && p)
		p <<= 1;
	return p;
}

EXPORT void *memalign(size_t align, size_t n)
{
	if (UNLIKELY(!atomic_load_explicit(&ready, memory_order_acquire)))
		return boot_alloc(n, pow2_at_least(align));
	if (mode == LSC_HEAP_FULL)
		return full_alloc(n, pow2_at_least(align), 0);
	if (mode == LSC_HEAP_SAMPLED)
		return sampled_alloc(real_memalign(align, n), n);
	return real_memalign(align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (UNLIKELY(!atomic_load_explicit(&ready, memory_order_acquire)) || mode == LSC_HEAP_FULL)
		return memalign(align, n);
	if (mode == LSC_HEAP_SAMPLED)
		return sampled_alloc(real_aligned_alloc(align, n), n);
	return real_aligned_alloc(align, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;
	int r;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	if (UNLIKELY(!atomic_load_explicit(&ready, memory_order_acquire)) ||
	    mode == LSC_HEAP_FULL) {
		p = memalign(align, n);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	r = real_posix_memalign(out, align, n);
	if (r == 0 && mode == LSC_HEAP_SAMPLED)
		sampled_alloc(*out, n);
	return r;
}

EXPORT void *valloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (UNLIKELY(!atomic_load_explicit(&ready, memory_order_acquire)) || mode == LSC_HEAP_FULL)
		return memalign(page, n);
	if (mode == LSC_HEAP_SAMPLED)
		return sampled_alloc(real_valloc(n), n);
	return real_valloc(n);
}

EXPORT void *pvalloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded;

	if (__builtin_add_overflow(n, page - 1, &rounded)) {
		errno = ENOMEM;
		return NULL;
	}
	rounded &= ~(page - 1);
	if (UNLIKELY(!atomic_load_explicit(&ready, memory_order_acquire)) || mode == LSC_HEAP_FULL)
		return memalign(page, rounded ? rounded : page);
	if (mode == LSC_HEAP_SAMPLED)
		return sampled_alloc(real_pvalloc(n), rounded);
	return real_pvalloc(n);
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
			self_lo = lo;
			self_hi = lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

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
	if (atomic_load(&ready))
		return;
	if (!real_malloc || !real_free || !real_calloc || !real_realloc || !real_memalign ||
	    !real_posix_memalign || !real_aligned_alloc || !real_valloc || !real_pvalloc ||
	    !real_usable)
		return; /* cannot happen with glibc; the bootstrap arena is then all there is */
	dl_iterate_phdr(find_self, (void *)(uintptr_t)lsc__heap_start);
	if (m != LSC_HEAP_OFF) {
		unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
		if (lsc_heap_sites_init(&sites, 1u << 18, 1u << 23) ||
		    (m == LSC_HEAP_SAMPLED && lsc_heap_samples_init(&samples, 1u << 18, 1u << 16)))
			m = LSC_HEAP_OFF;
	}
	mode = m;
	interval = every ? every : 1;
	atomic_store_explicit(&ready, 1, memory_order_release);
}

int lsc__own_frame(uintptr_t ip)
{
	return ip >= self_lo && ip < self_hi;
}

struct lsc_heap_sites *lsc__heap_sites(void)
{
	return mode == LSC_HEAP_OFF ? NULL : &sites;
}

int lsc__heap_mode(void)
{
	return mode;
}

uint64_t lsc__heap_dropped(void)
{
	return mode == LSC_HEAP_SAMPLED ? atomic_load(&samples.dropped) : 0;
}
