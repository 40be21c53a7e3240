/*
 * sleeper.c — an event loop that sleeps in its callbacks: its thread polls an epoll fd (so the
 * agent treats it as a loop thread), then naps with nanosleep and usleep, five times each. It
 * prints how long the shortest naps really lasted, so that the test can check that --wall's
 * signals did not cut a sleep short, and the total asked for.
 *   sleeper [--wait-signal]   prints "naps: nanosleep MIN_NS usleep MIN_NS total ASKED_NS";
 *                             with --wait-signal, first "ready", then it waits for SIGUSR2 (a
 *                             tool attaching from outside says when it is in place)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static __attribute__((noinline)) uint64_t nap_nanosleep(void)
{
	struct timespec ts = {0, 150000000};
	uint64_t t = now_ns();

	nanosleep(&ts, NULL);
	return now_ns() - t;
}

static __attribute__((noinline)) uint64_t nap_usleep(void)
{
	uint64_t t = now_ns();

	usleep(100000);
	return now_ns() - t;
}

int main(int argc, char **argv)
{
	struct epoll_event ev;
	uint64_t min_n = UINT64_MAX, min_u = UINT64_MAX, d;
	int ep = epoll_create1(0), i, sig;

	if (argc > 1 && !strcmp(argv[1], "--wait-signal")) {
		sigset_t usr2;

		sigemptyset(&usr2);
		sigaddset(&usr2, SIGUSR2);
		sigprocmask(SIG_BLOCK, &usr2, NULL);
		printf("ready\n");
		fflush(stdout);
		sigwait(&usr2, &sig);
	}

	for (i = 0; i < 5; i++) {
		epoll_wait(ep, &ev, 1, 20);
		d = nap_nanosleep();
		min_n = d < min_n ? d : min_n;
		epoll_wait(ep, &ev, 1, 20);
		d = nap_usleep();
		min_u = d < min_u ? d : min_u;
	}
	printf("naps: nanosleep %llu usleep %llu total %llu\n", (unsigned long long)min_n,
	       (unsigned long long)min_u, 5ULL * (150000000ULL + 100000000ULL));
	return 0;
}
