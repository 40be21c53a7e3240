/*
 * signals.c — the program's signals and exec, kept exactly as they are without the agent.
 *
 * The agent needs a word on the signals that end a process (to close the recording: a crash
 * event and a flush, or a footer) and owns SIGPROF (CPU samples). Everything else about those
 * signals belongs to the program, and must behave as if the agent were not there:
 *
 * - The program's dispositions live in a mirror (prog[]), set and read through the interposed
 *   sigaction()/signal(). The kernel holds, for each managed signal, what the program asked for
 *   with the agent's handler in front: the program's sa_mask and its SA_RESTART, SA_NODEFER and
 *   SA_ONSTACK, so the kernel masks and restarts exactly as it would. SIG_IGN is given to the
 *   kernel as is (an ignored signal is never delivered, and stays ignored across exec).
 * - SA_RESETHAND is done here, not by the kernel: on delivery the mirror goes back to SIG_DFL
 *   before the program's handler runs. A handler that re-raises (Node's SignalExit does) then
 *   meets the default action through the agent, which ends the recording first.
 * - With the program at SIG_DFL the agent records (crash: event, stack, flush; termination:
 *   the last window and a footer), sets the kernel's SIG_DFL and raises the signal again: the exit
 *   status is the signal's, as without the agent.
 * - exec: ITIMER_PROF survives execve while the SIGPROF handler does not, so the new image would
 *   die of the agent's next tick. Before any exec family call the timer is disarmed, the --wall
 *   sampler held, a pending SIGPROF discarded, SIGPROF's disposition put back to SIG_DFL and the
 *   writer flushed and parked (no record cut by the exec); if the exec fails, all of it is undone.
 *
 * Every path here is async-signal-safe: no allocation, no stdio; the mirror's one lock is taken
 * only with every signal blocked, so no handler can interrupt its holder on the same thread.
 */
#include "preload.h"

#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define A lsc__A
#define T lsc__T

#ifndef SA_RESTORER
#define SA_RESTORER                                                                                \
	0x04000000 /* the kernel's (asm/signal.h); glibc's headers keep it to itself               \
		    */
#endif

enum { NOT_MANAGED, ENDS, CRASHES };

/* What the default action of each managed signal is, to the agent: the process ends (the
 * recording gets its last window and a footer) or crashes (a crash event with the stack too). */
static const unsigned char kind[65] = {
	[SIGHUP] = ENDS,     [SIGINT] = ENDS,	  [SIGQUIT] = ENDS,   [SIGTERM] = ENDS,
	[SIGUSR1] = ENDS,    [SIGUSR2] = ENDS,	  [SIGPIPE] = ENDS,   [SIGALRM] = ENDS,
	[SIGXCPU] = ENDS,    [SIGXFSZ] = ENDS,	  [SIGVTALRM] = ENDS, [SIGSEGV] = CRASHES,
	[SIGBUS] = CRASHES,  [SIGABRT] = CRASHES, [SIGFPE] = CRASHES, [SIGILL] = CRASHES,
	[SIGTRAP] = CRASHES, [SIGSYS] = CRASHES,
};

DECLARE_REAL(int, sigaction, int, const struct sigaction *, struct sigaction *);

/* The program's disposition of each signal: two slots, the current one named by cur[], so a
 * handler on another thread reads a whole one while sigaction() writes the other. Two writes
 * during one read would reach the slot being read: seq[] counts the writes' starts and ends,
 * and a read that saw more than one of them (prog_read) reads again. */
static struct sigaction prog[65][2];
static _Atomic unsigned char cur[65];
static _Atomic unsigned seq[65];
static atomic_flag set_lock = ATOMIC_FLAG_INIT;
static int installed;
static int prof_installed;
static _Atomic int crashing, ending;

static int managed(int sig)
{
	return sig > 0 && sig < 65 && kind[sig] != NOT_MANAGED;
}

/* sa_handler and sa_sigaction share their storage: the kernel reads SIG_DFL (0) and SIG_IGN (1)
 * from it whatever SA_SIGINFO says. */
static int is_ignored(const struct sigaction *sa)
{
	return sa->sa_handler == SIG_IGN;
}

static int is_handler(const struct sigaction *sa)
{
	return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

static void on_signal(int sig, siginfo_t *si, void *uc);

/* The program's disposition, whole, without the lock (from a handler): the writer holds every
 * signal blocked on its own thread, so it runs on another and finishes. */
static void prog_read(int sig, struct sigaction *out)
{
	for (;;) {
		unsigned s0 = atomic_load_explicit(&seq[sig], memory_order_acquire);

		memcpy(out, (const void *)&prog[sig][atomic_load(&cur[sig])], sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&seq[sig], memory_order_relaxed) - s0 <= 1)
			return;
	}
}

/* What the kernel holds for a program disposition: see the header. */
static void kernel_action(const struct sigaction *p, struct sigaction *k)
{
	if (is_ignored(p)) {
		*k = *p;
		return;
	}
	memset(k, 0, sizeof(*k));
	k->sa_sigaction = on_signal;
	k->sa_flags = SA_SIGINFO;
	if (is_handler(p)) {
		k->sa_mask = p->sa_mask;
		k->sa_flags |= p->sa_flags & (SA_RESTART | SA_NODEFER | SA_ONSTACK);
	} else {
		/* SIG_DFL: the agent records and re-raises; nothing interrupts it, and on an
		 * alternate stack when there is one (a stack overflow is a SIGSEGV too). */
		sigfillset(&k->sa_mask);
		k->sa_flags |= SA_ONSTACK;
	}
}

static void lock_all(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, saved);
	while (atomic_flag_test_and_set_explicit(&set_lock, memory_order_acquire))
		sched_yield();
}

static void unlock_all(const sigset_t *saved)
{
	atomic_flag_clear_explicit(&set_lock, memory_order_release);
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* With the lock held: the kernel first, then the mirror (a failed sigaction changes nothing). */
static int set_locked(int sig, const struct sigaction *p)
{
	struct sigaction k;
	unsigned char next = !atomic_load(&cur[sig]);

	kernel_action(p, &k);
	if (REAL(sigaction)(sig, &k, NULL))
		return -1;
	atomic_fetch_add_explicit(&seq[sig], 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	prog[sig][next] = *p;
	/* As the kernel stores it, and as libc hands it back: no SIGKILL or SIGSTOP in the mask,
	 * and libc's own return trampoline (SA_RESTORER) where libc installed one. */
	sigdelset(&prog[sig][next].sa_mask, SIGKILL);
	sigdelset(&prog[sig][next].sa_mask, SIGSTOP);
	if (!is_ignored(p) && REAL(sigaction)(sig, NULL, &k) == 0 && (k.sa_flags & SA_RESTORER)) {
		prog[sig][next].sa_flags |= SA_RESTORER;
		prog[sig][next].sa_restorer = k.sa_restorer;
	}
	atomic_store(&cur[sig], next);
	atomic_fetch_add_explicit(&seq[sig], 1, memory_order_release);
	return 0;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction in, out;
	sigset_t saved;
	int r = 0, err = 0;

	RESOLVE(sigaction);
	if (!installed || !managed(sig))
		return REAL(sigaction)(sig, act, old);
	if (act)
		in = *act; /* act and old may be the same struct */
	lock_all(&saved);
	out = prog[sig][atomic_load(&cur[sig])];
	if (act && set_locked(sig, &in)) {
		r = -1;
		err = errno;
	}
	unlock_all(&saved);
	if (r) {
		errno = err;
		return r;
	}
	if (old)
		*old = out;
	return 0;
}

static sighandler_t set_simple(int sig, sighandler_t handler, int flags, int mask_self)
{
	struct sigaction sa, old;

	if (handler == SIG_ERR || sig <= 0 || sig >= 65) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (mask_self)
		sigaddset(&sa.sa_mask, sig);
	if (sigaction(sig, &sa, &old))
		return SIG_ERR;
	return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction
					   : old.sa_handler;
}

/* glibc's signal() has BSD semantics (the handler stays, calls restart, the signal is masked
 * while it runs); sysv_signal() the System V ones. Both call the internal sigaction, which an
 * interposer cannot see, so they are interposed too. */
EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	return set_simple(sig, handler, SA_RESTART, 1);
}

EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return set_simple(sig, handler, SA_RESTART, 1);
}

EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	return set_simple(sig, handler, (int)(SA_RESETHAND | SA_NODEFER), 0);
}

EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler)
{
	return set_simple(sig, handler, (int)(SA_RESETHAND | SA_NODEFER), 0);
}

/* SA_RESETHAND, at delivery: back to SIG_DFL, unless the program changed it meanwhile. The
 * kernel changes the handler alone (the flags and mask stay, and sigaction() shows them). */
static void reset_hand(int sig, const struct sigaction *p)
{
	struct sigaction dfl = *p;
	sigset_t saved;
	const struct sigaction *now;

	dfl.sa_handler = SIG_DFL;
	lock_all(&saved);
	now = &prog[sig][atomic_load(&cur[sig])];
	if (now->sa_sigaction == p->sa_sigaction && now->sa_flags == p->sa_flags)
		set_locked(sig, &dfl);
	unlock_all(&saved);
}

static void reraise_default(int sig)
{
	struct sigaction dfl;
	sigset_t set;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	REAL(sigaction)(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

/* This thread's loop, if it is one and is not inside its poll: its window so far goes in (the
 * writer closes the windows of loops that wait in epoll by itself). */
static void close_my_window(void)
{
	if (T.loop && !T.loop->in_poll)
		lsc_loop_maybe_close_window(T.loop, lsc__now_ns() - A.t0, 0);
}

static void record_crash(int sig, siginfo_t *si)
{
	void *frames[LSC_AGENT_MAX_FRAMES + 2];
	struct lsc_ev_crash ev;
	int n;

	T.in_agent = 1;
	/* frames[0] is this function's caller's handler, frames[1] the signal trampoline */
	n = unw_backtrace(frames, LSC_AGENT_MAX_FRAMES + 2);
	n = n > 2 ? n - 2 : 0;
	ev = (struct lsc_ev_crash){lsc__now_ns() - A.t0, si ? (uint64_t)(uintptr_t)si->si_addr : 0,
				   sig, (uint32_t)n};
	lsc__push(LSC_EV_CRASH, &ev, sizeof(ev), frames + 2, (size_t)n * sizeof(void *));
	close_my_window();
	atomic_store(&A.active, 0);
	lsc__writer_flush_wait(2000);
	T.in_agent = 0;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	struct sigaction p;
	int saved = errno;

	prog_read(sig, &p);
	if (is_handler(&p)) {
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) /* asked to stop: draining */
			lsc__shutdown_begins(sig);
		if (p.sa_flags & SA_RESETHAND)
			reset_hand(sig, &p);
		errno = saved;
		if (p.sa_flags & SA_SIGINFO)
			p.sa_sigaction(sig, si, uc);
		else
			p.sa_handler(sig);
		return;
	}
	if (is_ignored(&p)) /* set while this signal was on its way */
		return;
	/* The default action: the process ends. The recording ends first, once. */
	if (kind[sig] == CRASHES) {
		if (!atomic_exchange(&crashing, 1) && atomic_load(&A.active) && !T.is_writer)
			record_crash(sig, si);
	} else if (!atomic_exchange(&ending, 1) && atomic_load(&A.active) && !T.is_writer) {
		T.in_agent = 1;
		close_my_window();
		atomic_store(&A.active, 0);
		lsc__writer_stop(2000);
		T.in_agent = 0;
	} else if (!T.is_writer) {
		/* A second one while another thread ends the recording (a SIGTERM sent to the
		 * process and forwarded by `run`, or to the group): the process must not die before
		 * that recording has its footer. The same bound: the writer finishes in
		 * milliseconds. */
		lsc__writer_stop(2000);
	}
	reraise_default(sig);
}

/* ------------------------------------------------------------------ set-up */

static void arm_timer(void)
{
	struct itimerval it;
	long us = 1000000L / (A.cfg.cpu_hz ? A.cfg.cpu_hz : 1);

	it.it_interval = (struct timeval){us / 1000000, us % 1000000};
	it.it_value = it.it_interval;
	if (A.cfg.cpu_hz)
		setitimer(ITIMER_PROF, &it, NULL);
}

static void install_prof(void)
{
	struct sigaction prof;

	memset(&prof, 0, sizeof(prof));
	prof.sa_sigaction = lsc__on_sigprof;
	prof.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&prof.sa_mask);
	REAL(sigaction)(SIGPROF, &prof, NULL);
}

void lsc__signals_install(void)
{
	sigset_t saved;
	int sig;

	RESOLVE(sigaction);
	lock_all(&saved);
	for (sig = 1; sig < 65; sig++) {
		struct sigaction now;

		if (!managed(sig) || REAL(sigaction)(sig, NULL, &now))
			continue;
		prog[sig][0] = now;
		atomic_store(&cur[sig], 0);
		if (!is_ignored(
			    &now)) /* inherited SIG_IGN (nohup, `cmd &`) stays with the kernel */
			set_locked(sig, &now);
	}
	installed = 1;
	unlock_all(&saved);
	if (A.cfg.cpu_hz || A.cfg.wall) {
		install_prof();
		prof_installed = 1;
		arm_timer();
	}
}

void lsc__signals_after_fork(void)
{
	atomic_flag_clear(&set_lock); /* another thread may have held it at the fork */
}

/* ------------------------------------------------------------------ exec */

struct exec_hold {
	int held;
	struct itimerval timer;
};

static void exec_prepare(struct exec_hold *h)
{
	struct itimerval off = {{0, 0}, {0, 0}};
	struct sigaction ign, now;

	h->held = 0;
	/* Only the process the agent records: a vfork child shares its memory but not its pid,
	 * and neither it nor a fork child has the timer or the writer. */
	if (!installed || (int)syscall(SYS_getpid) != A.pid || !atomic_load(&A.active))
		return;
	h->held = 1;
	atomic_store(&A.exec_hold, 1);
	while (atomic_load(&A.wall_sending)) /* a tgkill of the --wall sampler in flight */
		sched_yield();
	memset(&h->timer, 0, sizeof(h->timer));
	if (prof_installed) {
		setitimer(ITIMER_PROF, &off, &h->timer);
		/* Ignoring a signal discards it where it is pending; then the default, which the
		 * new image would have had without the agent. */
		if (REAL(sigaction)(SIGPROF, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
		    now.sa_sigaction == lsc__on_sigprof) {
			memset(&ign, 0, sizeof(ign));
			ign.sa_handler = SIG_IGN;
			REAL(sigaction)(SIGPROF, &ign, NULL);
			ign.sa_handler = SIG_DFL;
			REAL(sigaction)(SIGPROF, &ign, NULL);
		}
	}
	/* What this image recorded is in the file before the next image appends to it. */
	T.in_agent = 1;
	close_my_window();
	lsc__writer_hold(1000);
	T.in_agent = 0;
}

static void exec_failed(struct exec_hold *h)
{
	int saved = errno;

	if (!h->held)
		return;
	if (prof_installed) {
		install_prof();
		if (h->timer.it_value.tv_sec || h->timer.it_value.tv_usec)
			setitimer(ITIMER_PROF, &h->timer, NULL);
	}
	lsc__writer_release();
	atomic_store(&A.exec_hold, 0);
	errno = saved;
}

DECLARE_REAL(int, execve, const char *, char *const[], char *const[]);
DECLARE_REAL(int, execv, const char *, char *const[]);
DECLARE_REAL(int, execvp, const char *, char *const[]);
DECLARE_REAL(int, execvpe, const char *, char *const[], char *const[]);
DECLARE_REAL(int, fexecve, int, char *const[], char *const[]);
DECLARE_REAL(int, execveat, int, const char *, char *const[], char *const[], int);

#define EXEC_BODY(name, ...)                                                                       \
	struct exec_hold h;                                                                        \
	int r;                                                                                     \
	RESOLVE(name);                                                                             \
	if (!REAL(name)) {                                                                         \
		errno = ENOSYS;                                                                    \
		return -1;                                                                         \
	}                                                                                          \
	exec_prepare(&h);                                                                          \
	r = REAL(name)(__VA_ARGS__);                                                               \
	exec_failed(&h);                                                                           \
	return r

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	EXEC_BODY(execve, path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	EXEC_BODY(execv, path, argv);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	EXEC_BODY(execvp, file, argv);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	EXEC_BODY(execvpe, file, argv, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	EXEC_BODY(fexecve, fd, argv, envp);
}

EXPORT int execveat(int dir, const char *path, char *const argv[], char *const envp[], int flags)
{
	EXEC_BODY(execveat, dir, path, argv, envp, flags);
}

/* The execl family: the arguments into an array on the stack (as glibc does), then the execv
 * call above. */
#define COUNT_ARGS(first, n)                                                                       \
	do {                                                                                       \
		va_list ap_;                                                                       \
		const char *first_ = first;                                                        \
		__asm__("" : "+r"(first_)); /* declared nonnull, yet some pass NULL */             \
		n = 0;                                                                             \
		if (first_) {                                                                      \
			va_start(ap_, first);                                                      \
			for (n = 1; va_arg(ap_, const char *); n++)                                \
				;                                                                  \
			va_end(ap_);                                                               \
		}                                                                                  \
	} while (0)

#define FILL_ARGS(first, argv, n)                                                                  \
	do {                                                                                       \
		size_t i_;                                                                         \
		va_start(ap, first);                                                               \
		argv[0] = (char *)first;                                                           \
		for (i_ = 1; i_ <= n; i_++)                                                        \
			argv[i_] = va_arg(ap, char *); /* the last one is the NULL */              \
	} while (0)

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	size_t n;

	COUNT_ARGS(arg, n);
	{
		char *argv[n + 1];

		FILL_ARGS(arg, argv, n);
		va_end(ap);
		return execv(path, argv);
	}
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	size_t n;

	COUNT_ARGS(arg, n);
	{
		char *argv[n + 1];

		FILL_ARGS(arg, argv, n);
		va_end(ap);
		return execvp(file, argv);
	}
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	size_t n;

	COUNT_ARGS(arg, n);
	{
		char *argv[n + 1], **envp;

		FILL_ARGS(arg, argv, n);
		envp = va_arg(ap, char **);
		va_end(ap);
		return execve(path, argv, envp);
	}
}
