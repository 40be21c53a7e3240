/*
 * wall.c — --wall: where the loop threads spend their time off CPU. CPU samples (SIGPROF on
 * CPU time) see only running threads; a loop thread that sleeps in a blocking call is invisible
 * to them, and that is the time an event loop loses worst.
 *
 * A sampler thread wakes cpu_hz times a second and reads each loop thread's CPU clock: the wall
 * time since its last visit minus the CPU time is time off CPU. When the thread is waiting in
 * epoll (the loop is idle) that time goes to the stack of the loop's wait, taken once at its
 * first poll: no signal disturbs an idle loop. Otherwise the sampler hands the time to the
 * thread and signals it (SIGPROF, from tgkill); the agent's handler unwinds the stack where the
 * thread is blocked and records the time there. Only threads that were mostly off CPU and are not
 * in epoll are signalled, so the signals land on blocked calls: calls that restart
 * (SA_RESTART) go on; the sleeps the agent interposes resume; others (poll, select, connect) may
 * return EINTR, as with any signal — agent/README.md says so.
 */
#include "preload.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct {
	uint32_t tid;
	uint64_t wall, cpu;
} seen[LSC_AGENT_MAX_LOOPS];

/* Another thread's CPU clock, as the kernel names it (MAKE_THREAD_CPUCLOCK(tid, SCHED)). */
static clockid_t thread_clock(uint32_t tid)
{
	return (clockid_t)((~tid << 3) | 6);
}

static void visit(int i, struct lsc_loop *L, uint64_t period)
{
	struct timespec c;
	uint64_t now, cpu, off;

	if (clock_gettime(thread_clock(L->tid), &c))
		return; /* the thread has exited */
	now = lsc__now_ns();
	cpu = (uint64_t)c.tv_sec * 1000000000ULL + (uint64_t)c.tv_nsec;
	if (seen[i].tid != L->tid) {
		seen[i].tid = L->tid;
		seen[i].wall = now;
		seen[i].cpu = cpu;
		return;
	}
	off = now - seen[i].wall > cpu - seen[i].cpu ? (now - seen[i].wall) - (cpu - seen[i].cpu)
						     : 0;
	seen[i].wall = now;
	seen[i].cpu = cpu;
	if (off < period / 10)
		return; /* on CPU most of the time: the CPU samples say where */
	if (__atomic_load_n(&L->in_poll, __ATOMIC_RELAXED) && L->npoll_frames) {
		struct lsc_ev_wall ev = {now - lsc__A.t0, off, L->tid, L->npoll_frames, 0, 0};

		lsc__push(LSC_EV_WALL, &ev, sizeof(ev), L->poll_frames,
			  L->npoll_frames * sizeof(uint64_t));
		return;
	}
	atomic_fetch_add(&L->wall_pending, off);
	/* An exec (signals.c) waits for this flag to drop after it has raised exec_hold: either it
	 * sees the flag, or this sees the hold. No SIGPROF lands on the new image. */
	atomic_store(&lsc__A.wall_sending, 1);
	if (!atomic_load(&lsc__A.exec_hold))
		syscall(SYS_tgkill, lsc__A.pid, L->tid, SIGPROF);
	atomic_store(&lsc__A.wall_sending, 0);
}

static void *sampler_main(void *arg)
{
	unsigned hz = lsc__A.cfg.cpu_hz ? lsc__A.cfg.cpu_hz : 99;
	uint64_t period = 1000000000ULL / hz, next = lsc__now_ns();
	int i;

	lsc__T.is_writer = 1; /* one of the agent's threads: nothing of it is recorded */
	while (atomic_load(&lsc__A.active) && !atomic_load(&lsc__A.stop)) {
		struct timespec ts;

		next += period;
		ts.tv_sec = (time_t)(next / 1000000000ULL);
		ts.tv_nsec = (long)(next % 1000000000ULL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		for (i = 0; i < LSC_AGENT_MAX_LOOPS; i++) {
			struct lsc_loop *L = atomic_load(&lsc__A.loops[i]);

			if (L && atomic_load(&L->life) == LOOP_LIVE)
				visit(i, L, period);
		}
	}
	return NULL;
}

int lsc__wall_start(void)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, &attr, sampler_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -err;
}
