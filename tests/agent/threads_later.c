/*
 * threads_later.c — a program with no event loop, single-threaded at first: whether the agent's
 * writer keeps to the program's thread until the program starts one of its own.
 *   threads_later alone        allocates, then prints "single-threaded: yes|no tasks N" (glibc's
 *                              __libc_single_threaded, and the entries of /proc/self/task)
 *   threads_later spawn-kill   starts an idle thread, spins 1.5 s of CPU on the main thread,
 *                              prints the same line, then SIGKILLs itself
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <time.h>
#include <unistd.h>

static void *volatile kept;

static int tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void *idle(void *arg)
{
	pause();
	return arg;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static __attribute__((noinline)) unsigned long spin_for_a_while(double seconds)
{
	volatile unsigned long x = 0;
	double until = cpu_s() + seconds;

	while (cpu_s() < until)
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
	return x;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "alone";
	int i;

	for (i = 0; i < 1000; i++) {
		kept = malloc((size_t)(16 + i)); /* through a volatile: not elided with its free */
		free(kept);
	}
	if (strcmp(mode, "spawn-kill") == 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, idle, NULL))
			return 2;
		spin_for_a_while(1.5);
	}
	printf("single-threaded: %s tasks %d\n", __libc_single_threaded ? "yes" : "no", tasks());
	fflush(stdout);
	if (strcmp(mode, "spawn-kill") == 0)
		raise(SIGKILL);
	return 0;
}
