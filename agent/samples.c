/*
 * samples.c — the agent's CPU samples and off-CPU (--wall) samples: what its SIGPROF handler
 * takes (signals.c owns the signal and calls lsc__on_sigprof). A sample is the thread's stack
 * (libunwind), and in Node.js, per frame, the bytecode an interpreted frame runs
 * (node_frames.c), pushed into the thread's ring for the writer. Split from preload.c.
 */
#include "preload.h"

#include <errno.h>
#include <libunwind.h>
#include <signal.h>
#include <string.h>

#define A lsc__A
#define T lsc__T

static void on_wall_signal(const void *uc)
{
	void *frames[3 * (LSC_AGENT_MAX_FRAMES + 2)]; /* then, for Node.js, two aux words each */
	struct lsc_ev_wall ev;
	uint64_t off;
	int n, i = 0, aux;

	if (!T.loop || !(off = atomic_exchange(&T.loop->wall_pending, 0)))
		return;
	T.in_agent = 1;
	/* the agent's own frames, then the signal trampoline */
	n = unw_backtrace(frames, LSC_AGENT_MAX_FRAMES + 2);
	while (i < n && lsc__own_frame((uintptr_t)frames[i]))
		i++;
	i = i < n ? i + 1 : n;
	aux = uc ? lsc__node_frames(uc, 0, frames + i, n - i, (uint64_t *)(frames + n)) : 0;
	ev = (struct lsc_ev_wall){lsc__now_ns() - A.t0, off,	       lsc__gettid(),
				  (uint32_t)(n - i),	(uint32_t)aux, 0};
	(aux ? lsc__push_js : lsc__push)(LSC_EV_WALL, &ev, sizeof(ev), frames + i,
					 (size_t)(n - i) * (aux ? 3 : 1) * sizeof(void *));
	T.in_agent = 0;
}

void lsc__on_sigprof(int sig, siginfo_t *si, void *uc)
{
	void *frames[3 * (LSC_AGENT_MAX_FRAMES + 2)]; /* then, for Node.js, two aux words each */
	struct lsc_ev_cpu ev;
	int saved = errno, n, aux = 0;

	T.prof_hit = 1;
	if (T.in_agent || T.is_writer || !atomic_load_explicit(&A.active, memory_order_relaxed)) {
		errno = saved;
		return;
	}
	if (si && si->si_code == SI_TKILL && si->si_pid == A.pid) {
		/* --wall: the sampler found this loop thread off CPU, outside epoll */
		on_wall_signal(uc);
		errno = saved;
		return;
	}
	T.in_agent = 1;
	lsc__sched_refresh(); /* a loop thread's scheduler figures, for its next long call */
	/* frames[0] is this handler, frames[1] the signal trampoline. */
	n = unw_backtrace(frames, LSC_AGENT_MAX_FRAMES + 2);
	n = n > 2 ? n - 2 : 0;
	if (uc) /* interpreted JS frames, from the interrupted registers */
		aux = lsc__node_frames(uc, 0, frames + 2, n, (uint64_t *)(frames + 2 + n));
	ev = (struct lsc_ev_cpu){lsc__now_ns() - A.t0, (uint32_t)n, T.loop != NULL, (uint32_t)aux,
				 0};
	(aux ? lsc__push_js : lsc__push)(LSC_EV_CPU, &ev, sizeof(ev), frames + 2,
					 (size_t)n * (aux ? 3 : 1) * sizeof(void *));
	T.in_agent = 0;
	errno = saved;
}
