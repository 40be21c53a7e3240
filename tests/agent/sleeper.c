/*
 * sleeper.c — an event loop that sleeps in its callbacks: its thread polls an epoll fd (so the
 * agent treats it as a loop thread), then naps with nanosleep and usleep, five times each. It
 * prints how long the shortest naps really lasted, so that the test can check that --wall's
 * signals did not cut a sleep short, and the total asked for.
 *   sleeper     prints "naps: nanosleep MIN_NS usleep MIN_NS total ASKED_NS"
 */
#include <stdint.h>
#include <stdio.h>
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

int main(void)
{
	struct epoll_event ev;
	uint64_t min_n = UINT64_MAX, min_u = UINT64_MAX, d;
	int ep = epoll_create1(0), i;

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
