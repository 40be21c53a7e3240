/*
 * blocking.c — what a long call on the loop thread was (docs/report.md "Blocked, preempted,
 * locked"), from the scheduler's figures the capture took around it (BlockingEvent
 * run_queue_ns, on_cpu_ns, switches):
 *  - contention: the thread was runnable but another had the CPU for half the call or more (a
 *    busy machine): not the call's cost, and not a blocking call;
 *  - a lock wait (futex, flock, fcntl(F_SETLKW)) otherwise: a wait for another thread; on the
 *    runtime's own lock (libuv's queue mutex in uv__work_done: no frame of the app on the
 *    stack) the runtime's business and no finding; on the app's, lock contention with the
 *    waiting stack (report.c tells which by the owner frame);
 *  - blocking otherwise: the call's own time, asleep in the kernel (a disk read, a sleep) or
 *    running there (a page-cache read copies the file on the CPU: readFileSync from the cache
 *    stalls the loop as surely as from the disk). Both parts are reported.
 * A call without the figures (an older recording, a summed event) is blocking, as before.
 */
#include "lsc_report.h"

#include <string.h>

static int is_lock_call(const char *call)
{
	return call &&
	       (!strcmp(call, "futex") || !strcmp(call, "flock") || !strncmp(call, "fcntl", 5) ||
		!strcmp(call, "lockf") || !strncmp(call, "pthread_mutex", 13));
}

enum lsc_call_kind lsc_call_kind(const Loopscope__BlockingEvent *b)
{
	if (b->has_run_queue_ns && b->duration_ns && b->run_queue_ns * 2 >= b->duration_ns)
		return LSC_CALL_CONTENTION;
	return is_lock_call(b->call) ? LSC_CALL_LOCK : LSC_CALL_BLOCKED;
}

void lsc_call_split(const Loopscope__BlockingEvent *b, uint64_t *runq, uint64_t *cpu,
		    uint64_t *asleep)
{
	uint64_t d = b->duration_ns;

	*runq = b->run_queue_ns < d ? b->run_queue_ns : d;
	*cpu = b->on_cpu_ns < d - *runq ? b->on_cpu_ns : d - *runq;
	*asleep = d - *runq - *cpu;
}
