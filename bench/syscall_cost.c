/*
 * syscall_cost.c — what a syscall costs, in ns, for bench/syscall_cost.sh: N getppid() calls,
 * then N pairs of a 1-byte write() and read() on a pipe, timed with CLOCK_MONOTONIC; prints
 * "getppid NS write+read NS". With --loop it first makes one epoll_wait (1 ms timeout), so that
 * `loopscope attach` takes its thread for a loop thread and times each later syscall as a loop
 * thread's; with --wait it first waits for SIGUSR1 (the attach is in place by then).
 *   cc -O2 -o syscall_cost bench/syscall_cost.c
 *   syscall_cost [--wait] [--loop] [N]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	long n = 1000000, i;
	int p[2], loop = 0, wait = 0, k, ep;
	struct epoll_event ev;
	double t0, t1, t2;
	sigset_t set;
	char c = 0;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--loop"))
			loop = 1;
		else if (!strcmp(argv[k], "--wait"))
			wait = 1;
		else
			n = atol(argv[k]);
	}
	if (pipe(p))
		return 1;
	if (wait) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		fprintf(stderr, "waiting for SIGUSR1\n");
		sigwait(&set, &k);
	}
	if (loop) {
		ep = epoll_create1(0);
		if (ep < 0 || epoll_wait(ep, &ev, 1, 1) < 0)
			return 1;
	}
	t0 = now();
	for (i = 0; i < n; i++)
		getppid();
	t1 = now();
	for (i = 0; i < n; i++)
		if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1)
			return 1;
	t2 = now();
	printf("getppid %.1f write+read %.1f\n", (t1 - t0) / (double)n * 1e9,
	       (t2 - t1) / (double)n * 1e9);
	return 0;
}
