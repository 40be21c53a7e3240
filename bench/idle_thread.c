/*
 * idle_thread.c — preloaded into a program, starts one thread that sleeps until the program
 * ends: the yardstick for what an in-process agent's own thread costs a single-threaded
 * program (glibc's malloc leaves its single-thread path once a second thread has existed).
 *   cc -O2 -shared -fPIC -o idle_thread.so bench/idle_thread.c -lpthread
 */
#include <pthread.h>
#include <unistd.h>

static void *idle(void *arg)
{
	for (;;)
		pause();
	return arg;
}

__attribute__((constructor)) static void start_idle_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, idle, NULL) == 0)
		pthread_detach(t);
}
