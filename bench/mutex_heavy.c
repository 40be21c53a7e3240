/*
 * mutex_heavy.c — what the agent's pthread_mutex_lock/unlock interposition (agent/pool.c) costs
 * a program that does little but take an uncontended mutex: OPS lock/unlock pairs on the main
 * thread, with a second, idle thread so that glibc takes its multi-threaded path with and without
 * the agent (as every Node.js process does).
 *   mutex_heavy [OPS]   (default 50,000,000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

static void *idle(void *arg)
{
	pause();
	return arg;
}

int main(int argc, char **argv)
{
	unsigned long ops = argc > 1 ? strtoul(argv[1], NULL, 10) : 50000000UL, i;
	pthread_t t;

	if (pthread_create(&t, NULL, idle, NULL))
		return 1;
	for (i = 0; i < ops; i++) {
		pthread_mutex_lock(&m);
		counter++;
		pthread_mutex_unlock(&m);
	}
	printf("%lu\n", counter);
	return 0;
}
