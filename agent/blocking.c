/*
 * blocking.c — the calls that block a loop thread, timed where the loop runs them: file reads
 * and writes, open and the stat family (both glibc name sets: Node imports the old ones), fsync,
 * the sleeps, getaddrinfo, connect, locks, waitpid and system. A call on a loop thread, outside
 * epoll and outside the agent, that lasts the threshold or longer becomes a blocking event with
 * the stack it was called from; everything else goes straight through (one TLS load and a
 * compare). The sleeps resume when the agent's own SIGPROF (--wall) cut them short.
 *
 * Blocked, or only slow? A call over the threshold may have slept (a disk read, a lock, a
 * sleep: the loop is blocked), or been runnable and preempted (a busy machine: CPU contention),
 * or run in the kernel (a munmap of 32 MiB). The scheduler's own accounting says which: the
 * thread's /proc/thread-self/schedstat (time on CPU, time runnable in a run queue, times it got
 * the CPU), from an fd the loop thread opens once (O_CLOEXEC; closed in a forked child and when
 * the thread ends, only if that number is still the same file; if the program closes it, or the
 * number is reused, the reading fails to parse and the call is left unmeasured). Not read around
 * every call: one pread before each timed call cost a fastify route 18 % of its loop time
 * (bench/schedstat_cost.sh). It is read after a long call, and on the loop thread's SIGPROF ticks
 * (every 10 ms of CPU), outside its poll; the long call is measured against the last reading: of
 * the time since, the thread's epoll waits (the loop counts them) and the call's own length bound
 * what it can have slept in, and the run-queue time goes to the call up to what the call leaves. A
 * reading over a second old is too old: the call goes unmeasured. The analysis (docs/report.md)
 * calls a call blocking only when it was the call's own time, not preemption.
 *
 * Same rules as preload.c: no allocation, no stdio, no lock; errno preserved.
 */
#include "preload.h"

#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define A lsc__A
#define T lsc__T

static uint64_t rel_now(void)
{
	return lsc__now_ns() - A.t0;
}

static inline int timing_on(void)
{
	return T.loop && !T.loop->in_poll && !T.in_agent &&
	       atomic_load_explicit(&A.active, memory_order_relaxed);
}

/* The thread's scheduler figures (ns on CPU, ns runnable in a run queue, times it got a CPU). */
struct sched {
	uint64_t cpu_ns, runq_ns, slices;
};

/* The digits of one number and the character after them; NULL when there are none. */
static const char *number(const char *p, const char *end, uint64_t *v)
{
	const char *s = p;

	*v = 0;
	while (p < end && *p >= '0' && *p <= '9')
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	return p > s && p < end ? p : NULL;
}

/* One pread of this loop thread's schedstat ("cpu runq slices\n"); 0 when it cannot be had.
 * Raw syscalls: the agent's own read and open must not be interposed calls. */
static int sched_read(struct sched *s)
{
	char buf[96];
	const char *p, *end;
	long n;
	int saved;

	if (T.sched_fd < 0)
		return 0;
	saved = errno;
	if (!T.sched_fd) {
		long fd = syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/schedstat",
				  O_RDONLY | O_CLOEXEC);
		struct stat st;

		if (fd >= 0 && syscall(SYS_fstat, fd, &st)) {
			syscall(SYS_close, fd);
			fd = -1;
		}
		T.sched_fd = fd >= 0 ? (int)fd + 1 : -1;
		if (fd < 0) {
			errno = saved;
			return 0;
		}
		T.sched_dev = st.st_dev;
		T.sched_ino = st.st_ino;
	}
	n = syscall(SYS_pread64, T.sched_fd - 1, buf, sizeof(buf), 0);
	errno = saved;
	if (n <= 0 || n >= (long)sizeof(buf))
		return 0;
	end = buf + n;
	if (!(p = number(buf, end, &s->cpu_ns)) || *p != ' ' ||
	    !(p = number(p + 1, end, &s->runq_ns)) || *p != ' ' ||
	    !(p = number(p + 1, end, &s->slices)) || *p != '\n' || p + 1 != end)
		return 0;
	return 1;
}

#define SCHED_OLDEST  1000000000ULL /* a reading older than this measures nothing */
#define SCHED_TICK_NS 100000000ULL  /* SIGPROF reads at most this often */

/* The reading taken now joins the thread's last ones (t: now, since the agent started). */
static void sched_keep(const struct sched *s, uint64_t t)
{
	struct lsc_sched_snap *k = &T.sched[T.sched_next++ % 8];

	k->ok = 0; /* a SIGPROF in between finds it incomplete */
	__asm__ volatile("" ::: "memory");
	k->cpu_ns = s->cpu_ns;
	k->runq_ns = s->runq_ns;
	k->slices = s->slices;
	k->t_ns = t;
	k->idle_ns = T.loop ? T.loop->idle_total_ns : 0;
	__asm__ volatile("" ::: "memory");
	k->ok = 1;
}

/* The latest reading taken at or before t0 (a call or stretch is measured from before it
 * began: a SIGPROF during a stretch reads too), under a second before t1; NULL if none. */
static const struct lsc_sched_snap *sched_before(uint64_t t0, uint64_t t1)
{
	const struct lsc_sched_snap *best = NULL;
	int i;

	for (i = 0; i < 8; i++) {
		const struct lsc_sched_snap *k = &T.sched[i];

		if (k->ok && k->t_ns <= t0 && t1 - k->t_ns <= SCHED_OLDEST &&
		    (!best || k->t_ns > best->t_ns))
			best = k;
	}
	return best;
}

void lsc__sched_refresh(void)
{
	const struct lsc_sched_snap *last = &T.sched[(T.sched_next + 7) % 8];
	uint64_t now = rel_now();
	struct sched s;

	/* at most every SCHED_TICK_NS: eight readings span the last second or so of ticks, so a
	 * long stretch still finds one from before it began */
	if (T.loop && !T.loop->in_poll && !T.in_call &&
	    (!last->ok || now - last->t_ns >= SCHED_TICK_NS) && sched_read(&s))
		sched_keep(&s, now);
}

/* What the thread did from t0 to t1 (a call, a stretch), against its last reading: runnable
 * but not running, on the CPU, and the times it got the CPU back. 0 when it cannot say. */
static int sched_split(uint64_t t0, uint64_t t1, uint64_t *runq_out, uint64_t *on_cpu,
		       uint32_t *switches)
{
	struct sched s1;
	uint64_t d = t1 - t0, span, cpu, runq, idle, slept, q;
	const struct lsc_sched_snap *k = sched_before(t0, t1);
	int ok = 0;

	if (!sched_read(&s1))
		return 0;
	if (k && s1.runq_ns >= k->runq_ns && s1.cpu_ns >= k->cpu_ns && s1.slices >= k->slices &&
	    T.loop && T.loop->idle_total_ns >= k->idle_ns) {
		span = t1 - k->t_ns;
		cpu = s1.cpu_ns - k->cpu_ns;
		runq = s1.runq_ns - k->runq_ns;
		idle = T.loop->idle_total_ns - k->idle_ns;
		ok = 1;
		*switches = (uint32_t)(s1.slices - k->slices);
		/* runnable since the reading: this span's, up to its length (the run-queue figure
		 * is exact; the time before it was short or was on the CPU) */
		q = runq < d ? runq : d;
		/* off the CPU and not runnable since the reading, outside epoll: asleep, in this
		 * span up to what it leaves; never off the CPU since: on it all along (the CPU
		 * figure lags up to a tick, the switches do not) */
		slept = span > cpu + runq + idle ? span - cpu - runq - idle : 0;
		if (!*switches)
			slept = 0, q = 0;
		slept = slept < d - q ? slept : d - q;
		*runq_out = q;
		*on_cpu = d - slept - q;
	}
	sched_keep(&s1, t1);
	return ok;
}

/* What the call from t0 to t1 was: 0 when it cannot say. */
static int sched_measure(uint64_t t0, uint64_t t1, struct lsc_ev_blocking *ev)
{
	ev->sched_known = sched_split(t0, t1, &ev->run_queue_ns, &ev->on_cpu_ns, &ev->switches);
	return ev->sched_known;
}

int lsc__sched_stretch(uint64_t t0, uint64_t t1, uint64_t *runq, uint64_t *on_cpu)
{
	uint32_t switches;

	return sched_split(t0, t1, runq, on_cpu, &switches);
}

/* The stack, then the event: duration for `calls` calls (the interposed call is the leaf);
 * measured, what the thread did during it (a single call: sched_measure). */
static __attribute__((noinline)) void blocking_event(unsigned call, uint64_t t0, uint64_t dur,
						     int64_t result, uint32_t calls, int measured)
{
	void *frames[3 * (LSC_AGENT_MAX_FRAMES + 2)]; /* then, for Node.js, two aux words each */
	struct lsc_ev_blocking ev;
	int saved = errno, n;

	T.in_agent = 1;
	ev = (struct lsc_ev_blocking){t0, dur, result, call, 0, calls, 0, 0, 0, 0, 0};
	if (measured)
		sched_measure(t0, t0 + dur, &ev);
	/* frames[0] is this function, frames[1] the one that called it here */
	n = unw_backtrace(frames, LSC_AGENT_MAX_FRAMES + 2);
	n = n > 2 ? n - 2 : 0;
	ev.nframes = (uint32_t)n;
	/* JS frames' functions, walking up from this function's own frame */
	lsc__node_frames_thread();
	ev.aux = (uint32_t)lsc__node_frames(NULL, (uint64_t)(uintptr_t)__builtin_frame_address(0),
					    frames + 2, n, (uint64_t *)(frames + 2 + n));
	(ev.aux ? lsc__push_js : lsc__push)(LSC_EV_BLOCKING, &ev, sizeof(ev), frames + 2,
					    (size_t)n * (ev.aux ? 3 : 1) * sizeof(void *));
	T.in_agent = 0;
	errno = saved;
}

static __attribute__((noinline)) void blocking_done(unsigned call, uint64_t t0, uint64_t t1,
						    int64_t result)
{
	blocking_event(call, t0, t1 - t0, result, 1, 1);
	__asm__ volatile("" ::: "memory"); /* not a tail call: its frame is one the stack skips */
}

/* The fd is closed only if it is still the file the agent opened: a program that closed every
 * descriptor (a daemon's sweep) may have that number for a file of its own now. */
static void sched_close(void)
{
	struct stat st;
	int saved = errno;

	if (T.sched_fd > 0 && !syscall(SYS_fstat, T.sched_fd - 1, &st) &&
	    st.st_dev == T.sched_dev && st.st_ino == T.sched_ino)
		syscall(SYS_close, T.sched_fd - 1);
	T.sched_fd = 0;
	errno = saved;
}

void lsc__blocking_after_fork(void)
{
	sched_close(); /* the parent's thread's; this thread opens its own if it needs one */
}

void lsc__blocking_thread_exit(void)
{
	sched_close(); /* a program that starts and ends Workers would pile them up */
}

/*
 * File calls under the threshold: one 16 MiB readFileSync from the page cache takes under a
 * millisecond, and a handler that makes thousands of them blocks its loop all the same. Their
 * time is summed per thread and, each time the sum reaches the threshold, written as one event
 * that stands for those calls, with the stack of the call that got there: a sample by time, as a
 * profiler takes it. Only the calls libuv's fs.c makes (its synchronous uv_fs_* on the loop
 * thread: Node's fs.*Sync), told by where the call returns to: a read or write on a socket comes
 * from libuv's streams and is the loop's ordinary work, not a blocking call. A program without
 * libuv's symbols in its executable keeps only the calls over the threshold.
 */
static __attribute__((noinline)) void short_done(unsigned call, uint64_t t0, uint64_t t1,
						 int64_t result)
{
	T.short_ns += t1 - t0;
	T.short_calls++;
	if (T.short_ns >= A.cfg.block_threshold_ns) {
		blocking_event(call, t0, T.short_ns, result, T.short_calls, 0);
		T.short_ns = 0;
		T.short_calls = 0;
	}
}

static inline int from_uv_fs(uintptr_t ra)
{
	return ra - lsc__uv_fs_lo < lsc__uv_fs_hi - lsc__uv_fs_lo;
}

/* The timing of an interposed call; with counted, calls under the threshold made by libuv's
 * fs.c are summed (above). */
#define TIMED_SHORT(call, name, counted, expr)                                                     \
	do {                                                                                       \
		uint64_t t0_, t1_;                                                                 \
		__typeof__(expr) r_;                                                               \
		RESOLVE(name);                                                                     \
		if (__builtin_expect(lsc__node_pending, 0) && !T.in_agent)                         \
			lsc__node_early();                                                         \
		if (!timing_on())                                                                  \
			return expr;                                                               \
		t0_ = rel_now();                                                                   \
		T.in_call = 1; /* a reading now would be of no use to this call */                 \
		r_ = expr;                                                                         \
		T.in_call = 0;                                                                     \
		t1_ = rel_now();                                                                   \
		if (t1_ - t0_ >= A.cfg.block_threshold_ns)                                         \
			blocking_done(call, t0_, t1_, (int64_t)r_);                                \
		else if ((counted) && from_uv_fs((uintptr_t)__builtin_return_address(0)))          \
			short_done(call, t0_, t1_, (int64_t)r_);                                   \
		return r_;                                                                         \
	} while (0)

#define TIMED(call, name, expr)	       TIMED_SHORT(call, name, 0, expr)
#define TIMED_FD(call, name, fd, expr) TIMED_SHORT(call, name, 1, expr)
#define TIMED_PATH(call, name, expr)   TIMED_SHORT(call, name, 1, expr)

DECLARE_REAL(ssize_t, read, int, void *, size_t);
DECLARE_REAL(ssize_t, pread, int, void *, size_t, off_t);
DECLARE_REAL(ssize_t, pread64, int, void *, size_t, off_t);
DECLARE_REAL(ssize_t, readv, int, const struct iovec *, int);
DECLARE_REAL(ssize_t, preadv, int, const struct iovec *, int, off_t);
DECLARE_REAL(ssize_t, preadv64, int, const struct iovec *, int, off_t);
DECLARE_REAL(ssize_t, write, int, const void *, size_t);
DECLARE_REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
DECLARE_REAL(ssize_t, pwrite64, int, const void *, size_t, off_t);
DECLARE_REAL(ssize_t, writev, int, const struct iovec *, int);
DECLARE_REAL(int, open, const char *, int, ...);
DECLARE_REAL(int, open64, const char *, int, ...);
DECLARE_REAL(int, openat, int, const char *, int, ...);
DECLARE_REAL(int, openat64, int, const char *, int, ...);
DECLARE_REAL(int, fsync, int);
DECLARE_REAL(int, fdatasync, int);
DECLARE_REAL(int, stat, const char *, struct stat *);
DECLARE_REAL(int, lstat, const char *, struct stat *);
DECLARE_REAL(int, fstat, int, struct stat *);
DECLARE_REAL(int, __xstat64, int, const char *, struct stat *);
DECLARE_REAL(int, __lxstat64, int, const char *, struct stat *);
DECLARE_REAL(int, __fxstat64, int, int, struct stat *);
DECLARE_REAL(int, __xstat, int, const char *, struct stat *);
DECLARE_REAL(int, __lxstat, int, const char *, struct stat *);
DECLARE_REAL(int, __fxstat, int, int, struct stat *);
DECLARE_REAL(int, statx, int, const char *, int, unsigned, struct statx *);
DECLARE_REAL(int, nanosleep, const struct timespec *, struct timespec *);
DECLARE_REAL(int, clock_nanosleep, clockid_t, int, const struct timespec *, struct timespec *);
DECLARE_REAL(int, usleep, useconds_t);
DECLARE_REAL(unsigned, sleep, unsigned);
DECLARE_REAL(int, getaddrinfo, const char *, const char *, const struct addrinfo *,
	     struct addrinfo **);
DECLARE_REAL(int, connect, int, const struct sockaddr *, socklen_t);
DECLARE_REAL(int, flock, int, int);
DECLARE_REAL(int, fcntl, int, int, ...);
DECLARE_REAL(int, fcntl64, int, int, ...);
DECLARE_REAL(pid_t, waitpid, pid_t, int *, int);
DECLARE_REAL(int, system, const char *);

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	TIMED_FD(CALL_READ, read, fd, REAL(read)(fd, buf, n));
}
EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	TIMED_FD(CALL_PREAD, pread, fd, REAL(pread)(fd, buf, n, off));
}
EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	TIMED_FD(CALL_PREAD, pread64, fd, REAL(pread64)(fd, buf, n, off));
}
EXPORT ssize_t readv(int fd, const struct iovec *v, int n)
{
	TIMED_FD(CALL_READV, readv, fd, REAL(readv)(fd, v, n));
}
EXPORT ssize_t preadv(int fd, const struct iovec *v, int n, off_t off)
{
	TIMED_FD(CALL_PREADV, preadv, fd, REAL(preadv)(fd, v, n, off));
}
EXPORT ssize_t preadv64(int fd, const struct iovec *v, int n, off_t off)
{
	TIMED_FD(CALL_PREADV, preadv64, fd, REAL(preadv64)(fd, v, n, off));
}
EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	TIMED_FD(CALL_WRITE, write, fd, REAL(write)(fd, buf, n));
}
EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	TIMED_FD(CALL_PWRITE, pwrite, fd, REAL(pwrite)(fd, buf, n, off));
}
EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	TIMED_FD(CALL_PWRITE, pwrite64, fd, REAL(pwrite64)(fd, buf, n, off));
}
EXPORT ssize_t writev(int fd, const struct iovec *v, int n)
{
	TIMED_FD(CALL_WRITE, writev, fd, REAL(writev)(fd, v, n));
}

/* open's mode is there only with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags, mode)                                                                      \
	do {                                                                                       \
		if ((flags) & (O_CREAT | __O_TMPFILE)) {                                           \
			va_list ap_;                                                               \
			va_start(ap_, flags);                                                      \
			mode = va_arg(ap_, mode_t);                                                \
			va_end(ap_);                                                               \
		}                                                                                  \
	} while (0)

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	TIMED_PATH(CALL_OPEN, open, REAL(open)(path, flags, mode));
}
EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	TIMED_PATH(CALL_OPEN, open64, REAL(open64)(path, flags, mode));
}
EXPORT int openat(int dir, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	TIMED_PATH(CALL_OPENAT, openat, REAL(openat)(dir, path, flags, mode));
}
EXPORT int openat64(int dir, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	TIMED_PATH(CALL_OPENAT, openat64, REAL(openat64)(dir, path, flags, mode));
}
EXPORT int fsync(int fd)
{
	TIMED(CALL_FSYNC, fsync, REAL(fsync)(fd));
}
EXPORT int fdatasync(int fd)
{
	TIMED(CALL_FDATASYNC, fdatasync, REAL(fdatasync)(fd));
}
EXPORT int stat(const char *path, struct stat *st)
{
	TIMED_PATH(CALL_STAT, stat, REAL(stat)(path, st));
}
EXPORT int lstat(const char *path, struct stat *st)
{
	TIMED_PATH(CALL_LSTAT, lstat, REAL(lstat)(path, st));
}
EXPORT int fstat(int fd, struct stat *st)
{
	TIMED(CALL_FSTAT, fstat, REAL(fstat)(fd, st));
}
/* The old glibc names that Node 20 still imports. */
EXPORT int __xstat64(int ver, const char *path, struct stat *st)
{
	TIMED_PATH(CALL_STAT, __xstat64, REAL(__xstat64)(ver, path, st));
}
EXPORT int __lxstat64(int ver, const char *path, struct stat *st)
{
	TIMED_PATH(CALL_LSTAT, __lxstat64, REAL(__lxstat64)(ver, path, st));
}
EXPORT int __fxstat64(int ver, int fd, struct stat *st)
{
	TIMED(CALL_FSTAT, __fxstat64, REAL(__fxstat64)(ver, fd, st));
}
EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	TIMED_PATH(CALL_STAT, __xstat, REAL(__xstat)(ver, path, st));
}
EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	TIMED_PATH(CALL_LSTAT, __lxstat, REAL(__lxstat)(ver, path, st));
}
EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	TIMED(CALL_FSTAT, __fxstat, REAL(__fxstat)(ver, fd, st));
}
EXPORT int statx(int dir, const char *path, int flags, unsigned mask, struct statx *st)
{
	TIMED_PATH(CALL_STATX, statx, REAL(statx)(dir, path, flags, mask, st));
}
/*
 * A sleep that the agent's own SIGPROF cut short (--wall signals threads that are off CPU) goes
 * on for what is left: the program asked for all of it. Returns clock_nanosleep's error number.
 */
static int sleep_on(clockid_t c, int flags, const struct timespec *req, struct timespec *rem)
{
	struct timespec left = *req, r = {0, 0};
	int e;

	RESOLVE(clock_nanosleep);
	for (;;) {
		T.prof_hit = 0;
		e = REAL(clock_nanosleep)(c, flags, &left, &r);
		if (e != EINTR || !T.prof_hit)
			break;
		if (!(flags & TIMER_ABSTIME))
			left = r;
	}
	if (e == EINTR && rem && !(flags & TIMER_ABSTIME))
		*rem = r;
	return e;
}

static int errno_of(int e)
{
	if (!e)
		return 0;
	errno = e;
	return -1;
}

static unsigned sleep_seconds(unsigned s)
{
	struct timespec ts = {(time_t)s, 0}, rem = {0, 0};

	return sleep_on(CLOCK_MONOTONIC, 0, &ts, &rem) == EINTR
		       ? (unsigned)rem.tv_sec + (rem.tv_nsec > 0)
		       : 0;
}

static int sleep_us(useconds_t us)
{
	struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};

	return errno_of(sleep_on(CLOCK_MONOTONIC, 0, &ts, NULL));
}

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	TIMED(CALL_NANOSLEEP, nanosleep, errno_of(sleep_on(CLOCK_MONOTONIC, 0, req, rem)));
}
EXPORT int clock_nanosleep(clockid_t c, int flags, const struct timespec *req, struct timespec *rem)
{
	TIMED(CALL_NANOSLEEP, clock_nanosleep, sleep_on(c, flags, req, rem));
}
EXPORT int usleep(useconds_t us)
{
	TIMED(CALL_USLEEP, usleep, sleep_us(us));
}
EXPORT unsigned sleep(unsigned s)
{
	TIMED(CALL_SLEEP, sleep, sleep_seconds(s));
}
EXPORT int getaddrinfo(const char *node, const char *svc, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	TIMED(CALL_GETADDRINFO, getaddrinfo, REAL(getaddrinfo)(node, svc, hints, res));
}
EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	TIMED(CALL_CONNECT, connect, REAL(connect)(fd, addr, len));
}
EXPORT int flock(int fd, int op)
{
	TIMED(CALL_FLOCK, flock, REAL(flock)(fd, op));
}
EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	TIMED(CALL_WAITPID, waitpid, REAL(waitpid)(pid, status, options));
}
EXPORT int system(const char *cmd)
{
	TIMED(CALL_SYSTEM, system, REAL(system)(cmd));
}

/* fcntl's third argument is an int or a pointer: pass it on as a pointer-sized word. Only
 * F_SETLKW waits; everything else goes straight through. */
#define FCNTL_BODY(name)                                                                           \
	va_list ap;                                                                                \
	void *arg;                                                                                 \
	va_start(ap, cmd);                                                                         \
	arg = va_arg(ap, void *);                                                                  \
	va_end(ap);                                                                                \
	RESOLVE(name);                                                                             \
	if (cmd != F_SETLKW && cmd != F_OFD_SETLKW)                                                \
		return REAL(name)(fd, cmd, arg);                                                   \
	TIMED(CALL_FCNTL_LOCK, name, REAL(name)(fd, cmd, arg))

EXPORT int fcntl(int fd, int cmd, ...)
{
	FCNTL_BODY(fcntl);
}
EXPORT int fcntl64(int fd, int cmd, ...)
{
	FCNTL_BODY(fcntl64);
}
