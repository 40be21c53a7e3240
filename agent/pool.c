/*
 * pool.c — libuv's thread pool seen from inside the process (`loopscope run`): the queue's depth
 * at every submission, each job's wait in the queue, the busy workers, and the stacks that
 * submit jobs. For Node.js, refloop and any program that links libuv statically with its symbol
 * table (what `attach` reads from outside, bpf/loop.bpf.c, read here from inside).
 *
 * libuv keeps the pool in statics of threadpool.c: its mutex, the queue `wq` (with a marker for
 * slow I/O, whose jobs wait in `slow_io_pending_wq`), `nthreads`, `idle_threads`, and the
 * function every worker thread runs. The executable's .symtab names them (local symbols after
 * the FILE symbol threadpool.c); read once from the constructor. The same walk finds fs.c's
 * functions (blocking.c) and uv-common.c's default_loop_ptr (preload.c).
 *
 * Every change to the queue happens under that mutex, taken with pthread_mutex_lock and
 * released with pthread_mutex_unlock from the program's own code: PLT calls the agent
 * interposes. Worker threads are known from their start routine (pthread_create hands them a
 * trampoline of the agent's that marks the thread, then runs libuv's worker). Then:
 *  - a lock by any other thread is a submission (libuv's post(); uv_cancel locks too, rarely):
 *    holding the mutex, the agent counts the queue and stamps the submission's time;
 *  - a worker's unlock is a pickup (a worker unlocks only after taking a job off the queue):
 *    the oldest stamp gives that job's wait, and nthreads - idle_threads its busy workers.
 * The stamps are a FIFO kept under libuv's mutex, so they need no lock of their own; it is
 * brought back to the queue's length at every submission, so a cancel or a missed submission
 * does not skew what follows. Everything goes to the writer through the thread's ring.
 *
 * Cost: one compare per pthread_mutex_lock/unlock of any other mutex. A submission walks the
 * queue (bounded) and unwinds its stack before taking the mutex, up to a burst of 64 and then
 * once a millisecond per thread; the jobs in between are counted into the next stack taken.
 *
 * Written here rather than with libelf: the agent links nothing but libunwind and libc, and
 * the walk over .symtab needs only the ELF header layout.
 */
#include "preload.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define A	    lsc__A
#define T	    lsc__T

#define WALK_MAX    65536      /* queue entries counted at most */
#define FIFO_CAP    (1u << 16) /* submission stamps kept */
#define STACK_GAP   1000000ULL /* ns of credit a submission stack costs a thread */
#define STACK_BURST 64	       /* stacks a thread may take at once */

struct uvq {
	struct uvq *next, *prev; /* libuv's struct uv__queue (QUEUE in older versions) */
};

static struct {
	pthread_mutex_t *mutex; /* NULL: no pool found */
	void *(*worker)(void *);
	const unsigned *nthreads, *idle_threads;
	struct uvq *wq, *slow_marker, *slow_pending;
	/* under libuv's mutex */
	uint64_t *fifo;
	uint32_t fifo_head, fifo_n;
	uint32_t depth;	       /* the queue's length since the last submission or pickup */
	uint64_t depth_t;      /* ns: when it became that */
	_Atomic uint64_t area; /* the queue's length integrated over time, job-ns */
} P;

/* Under libuv's mutex: the queue held depth jobs from P.depth_t until t. */
static void depth_becomes(uint32_t depth, uint64_t t)
{
	if (t > P.depth_t)
		atomic_store_explicit(&P.area,
				      atomic_load_explicit(&P.area, memory_order_relaxed) +
					      (uint64_t)P.depth * (t - P.depth_t),
				      memory_order_relaxed);
	P.depth = depth;
	P.depth_t = t;
}

uint64_t lsc__pool_area(uint64_t t)
{
	uint64_t at = P.depth_t, area = atomic_load_explicit(&P.area, memory_order_relaxed);

	return area + (t > at ? (uint64_t)P.depth * (t - at) : 0);
}

/* ------------------------------------------------------------------ finding the statics */

static const void *in_file(const uint8_t *base, size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off ? base + off : NULL;
}

/* The pool's statics in an ELF image mapped at base (size bytes), loaded with bias. */
static int find_in_image(const uint8_t *base, size_t size, uintptr_t bias)
{
	const Elf64_Ehdr *eh = in_file(base, size, 0, sizeof(Elf64_Ehdr));
	const Elf64_Shdr *sh, *symtab = NULL, *strtab;
	const Elf64_Sym *sym;
	const char *str;
	size_t i, n;
	int in_pool = 0, in_fs = 0, in_common = 0, found = 0, is_uv = 0;
	uintptr_t fs_lo = UINTPTR_MAX, fs_hi = 0, lo = UINTPTR_MAX, hi = 0;

	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(Elf64_Shdr))
		return -1;
	sh = in_file(base, size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr));
	if (!sh)
		return -1;
	for (i = 0; i < eh->e_shnum && !symtab; i++)
		if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_link < eh->e_shnum)
			symtab = &sh[i];
	if (!symtab)
		return -1; /* stripped */
	strtab = &sh[symtab->sh_link];
	sym = in_file(base, size, symtab->sh_offset, symtab->sh_size);
	str = in_file(base, size, strtab->sh_offset, strtab->sh_size);
	if (!sym || !str)
		return -1;
	n = symtab->sh_size / sizeof(Elf64_Sym);
	for (i = 0; i < n; i++) {
		const char *name;
		uintptr_t at;

		if (ELF64_ST_BIND(sym[i].st_info) != STB_LOCAL)
			break; /* locals come first: threadpool.c's are behind us */
		if (sym[i].st_name >= strtab->sh_size)
			continue;
		name = str + sym[i].st_name;
		if (ELF64_ST_TYPE(sym[i].st_info) == STT_FILE) {
			/* "threadpool.c", or "threadpool.c.o" in a CMake build */
			if (in_fs && is_uv) /* the fs.c that was libuv's */
				fs_lo = lo, fs_hi = hi;
			/* All found: the rest of the table (three quarters of node's) is left
			 * unread, a third of a millisecond of every start. */
			if (found == 0x7f && fs_hi > fs_lo && lsc__uv_default_loop_ptr)
				break;
			in_pool = strncmp(name, "threadpool.c", 12) == 0;
			in_fs = strcmp(name, "fs.c") == 0 || strcmp(name, "fs.c.o") == 0;
			in_common = strcmp(name, "uv-common.c") == 0 ||
				    strcmp(name, "uv-common.c.o") == 0;
			is_uv = 0, lo = UINTPTR_MAX, hi = 0;
			continue;
		}
		if (in_fs && ELF64_ST_TYPE(sym[i].st_info) == STT_FUNC && sym[i].st_value &&
		    !strstr(name, ".cold")) { /* a cold part lies far away, among others' */
			/* libuv's fs.c (other projects have an fs.c too: the one with uv__fs_work),
			 * where its file calls are made (blocking.c) */
			at = bias + sym[i].st_value;
			lo = at < lo ? at : lo;
			hi = at + sym[i].st_size > hi ? at + sym[i].st_size : hi;
			is_uv |= strcmp(name, "uv__fs_work") == 0;
			continue;
		}
		if (in_common && ELF64_ST_TYPE(sym[i].st_info) == STT_OBJECT && sym[i].st_value &&
		    sym[i].st_size == sizeof(void *) && !strcmp(name, "default_loop_ptr")) {
			/* uv_default_loop()'s pointer, NULL until the loop is made (preload.c) */
			lsc__uv_default_loop_ptr = (void *const *)(bias + sym[i].st_value);
			continue;
		}
		if (!in_pool || !sym[i].st_value)
			continue;
		at = bias + sym[i].st_value;
		if (!strcmp(name, "mutex"))
			P.mutex = (pthread_mutex_t *)at, found |= 1;
		else if (!strcmp(name, "worker"))
			P.worker = (void *(*)(void *))at, found |= 2;
		else if (!strcmp(name, "nthreads"))
			P.nthreads = (const unsigned *)at, found |= 4;
		else if (!strcmp(name, "idle_threads"))
			P.idle_threads = (const unsigned *)at, found |= 8;
		else if (!strcmp(name, "wq"))
			P.wq = (struct uvq *)at, found |= 16;
		else if (!strcmp(name, "run_slow_work_message"))
			P.slow_marker = (struct uvq *)at, found |= 32;
		else if (!strcmp(name, "slow_io_pending_wq"))
			P.slow_pending = (struct uvq *)at, found |= 64;
	}
	if (in_fs && is_uv) /* the last FILE's locals */
		fs_lo = lo, fs_hi = hi;
	if (fs_hi > fs_lo) {
		lsc__uv_fs_lo = fs_lo;
		lsc__uv_fs_hi = fs_hi;
	}
	if (found != 0x7f) {
		memset(&P, 0, sizeof(P));
		return -1;
	}
	return 0;
}

uintptr_t lsc__uv_fs_lo, lsc__uv_fs_hi;
void *const *lsc__uv_default_loop_ptr;

static int main_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
	*(uintptr_t *)arg = info->dlpi_addr;
	return 1; /* the first is the executable */
}

int lsc__pool_find(void)
{
	struct stat st;
	uintptr_t bias = 0;
	void *map;
	int fd, err;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	dl_iterate_phdr(main_bias, &bias);
	err = find_in_image(map, (size_t)st.st_size, bias);
	munmap(map, (size_t)st.st_size);
	if (err)
		return -1;
	P.fifo = lsc_map_zeroed(FIFO_CAP * sizeof(*P.fifo));
	if (!P.fifo) {
		memset(&P, 0, sizeof(P));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ worker threads */

static void *worker_start(void *arg)
{
	T.pool_worker = 1;
	return P.worker(arg);
}

void *(*lsc__pool_start_routine(void *(*fn)(void *)))(void *)
{
	return P.mutex && fn == P.worker ? worker_start : fn;
}

/* ------------------------------------------------------------------ submissions and pickups */

DECLARE_REAL(int, pthread_mutex_lock, pthread_mutex_t *);
DECLARE_REAL(int, pthread_mutex_unlock, pthread_mutex_t *);

/* glibc's own entry points, for calls that come before the constructor resolved the next ones. */
extern int __pthread_mutex_lock(pthread_mutex_t *m);
extern int __pthread_mutex_unlock(pthread_mutex_t *m);

void lsc__pool_resolve(void)
{
	RESOLVE(pthread_mutex_lock);
	RESOLVE(pthread_mutex_unlock);
}

static inline int real_lock(pthread_mutex_t *m)
{
	return REAL(pthread_mutex_lock) ? REAL(pthread_mutex_lock)(m) : __pthread_mutex_lock(m);
}

static inline int real_unlock(pthread_mutex_t *m)
{
	return REAL(pthread_mutex_unlock) ? REAL(pthread_mutex_unlock)(m)
					  : __pthread_mutex_unlock(m);
}

static uint32_t count_queue(const struct uvq *head, const struct uvq *skip)
{
	const struct uvq *q = head->next;
	uint32_t n = 0;

	while (q && q != head && n < WALK_MAX) {
		n += q != skip;
		q = q->next;
	}
	return n;
}

/* The jobs waiting: the queue, less the slow-I/O marker, plus the slow I/O jobs behind it. */
static uint32_t depth_now(void)
{
	return count_queue(P.wq, P.slow_marker) + count_queue(P.slow_pending, NULL);
}

static __attribute__((noinline)) int submit(pthread_mutex_t *m)
{
	void *frames[3 * (LSC_AGENT_MAX_FRAMES + 1)]; /* then, for Node.js, two aux words each */
	struct lsc_ev_pool_submit ev = {0};
	int saved = errno, r, n = 0;
	uint64_t t = lsc__now_ns() - A.t0;

	T.in_agent = 1;
	T.pool_unsampled++;
	/* A token bucket: a stack per submission up to a burst of STACK_BURST, then one per
	 * STACK_GAP; a stack then stands for the submissions since the last one. */
	T.pool_credit += t - T.pool_last_ns;
	T.pool_last_ns = t;
	if (T.pool_credit > STACK_BURST * STACK_GAP)
		T.pool_credit = STACK_BURST * STACK_GAP;
	if (T.pool_credit >= STACK_GAP) {
		T.pool_credit -= STACK_GAP;
		/* frames[0] is this function: the program's lock call is the leaf */
		n = unw_backtrace(frames, LSC_AGENT_MAX_FRAMES + 1);
		n = n > 1 ? n - 1 : 0;
		/* the JS frames' functions (node_frames.c), walking up from this frame */
		ev.aux = (uint32_t)lsc__node_frames(NULL,
						    (uint64_t)(uintptr_t)__builtin_frame_address(0),
						    frames + 1, n, (uint64_t *)(frames + 1 + n));
		ev.weight = T.pool_unsampled;
		T.pool_unsampled = 0;
	}
	r = real_lock(m);
	if (r == 0) {
		uint32_t depth = depth_now();

		/* the stamps follow the queue: extra ones (a cancel's lock) go, oldest first */
		while (P.fifo_n > depth) {
			P.fifo_head = (P.fifo_head + 1) & (FIFO_CAP - 1);
			P.fifo_n--;
		}
		if (P.fifo_n < FIFO_CAP) {
			P.fifo[(P.fifo_head + P.fifo_n) & (FIFO_CAP - 1)] = t;
			P.fifo_n++;
		}
		ev.depth = depth + 1;
		depth_becomes(depth + 1, t);
	}
	ev.t_ns = t;
	ev.nframes = (uint32_t)n;
	(ev.aux ? lsc__push_js : lsc__push)(LSC_EV_POOL_SUBMIT, &ev, sizeof(ev), frames + 1,
					    (size_t)n * (ev.aux ? 3 : 1) * sizeof(void *));
	T.in_agent = 0;
	errno = saved;
	return r;
}

static __attribute__((noinline)) void pickup(void)
{
	struct lsc_ev_pool_pickup ev = {0};
	int saved = errno;
	unsigned threads = *P.nthreads, idle = *P.idle_threads;

	T.in_agent = 1;
	ev.t_ns = lsc__now_ns() - A.t0;
	ev.wait_ns = UINT64_MAX; /* no stamp: a job submitted before the agent saw it */
	if (P.fifo_n) {
		uint64_t at = P.fifo[P.fifo_head];

		P.fifo_head = (P.fifo_head + 1) & (FIFO_CAP - 1);
		P.fifo_n--;
		ev.wait_ns = ev.t_ns > at ? ev.t_ns - at : 0;
	}
	depth_becomes(P.depth ? P.depth - 1 : 0, ev.t_ns);
	ev.threads = threads;
	ev.busy = threads >= idle ? threads - idle : 0;
	lsc__push(LSC_EV_POOL_PICKUP, &ev, sizeof(ev), NULL, 0);
	T.in_agent = 0;
	errno = saved;
}

EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	if (__builtin_expect(m != P.mutex, 1) || T.pool_worker || T.in_agent ||
	    !atomic_load_explicit(&A.active, memory_order_relaxed))
		return real_lock(m);
	return submit(m);
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	if (__builtin_expect(m == P.mutex, 0) && T.pool_worker && !T.in_agent &&
	    atomic_load_explicit(&A.active, memory_order_relaxed))
		pickup();
	return real_unlock(m);
}

/* The pool's size, for the writer (0: no pool found, or not started yet). */
unsigned lsc__pool_threads(void)
{
	return P.nthreads ? *(volatile const unsigned *)P.nthreads : 0;
}
