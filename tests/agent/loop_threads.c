/*
 * loop_threads.c — a program that starts and ends loop threads one after another (as an app
 * starts and ends Workers), each of which makes one long call: whatever the agent opens for a
 * thread must close with it. Prints "schedstat during D after A fds M E": the most descriptors
 * on a schedstat file seen while a thread ran, those left after all threads ended, and the
 * process's open descriptors after the first two threads and after the last. Not before the
 * first: the agent opens its few descriptors for good when a second thread starts its writer,
 * and its writer has one /proc file open for a moment now and then; a leak grows with threads.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define THREADS 40

static int during;

/* Open descriptors of this process, and how many of them are a schedstat file. */
static int fds(int *schedstat)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	*schedstat = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char link[300], to[256];
		ssize_t k;

		if (e->d_name[0] == '.')
			continue;
		n++;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		k = readlink(link, to, sizeof(to) - 1);
		if (k > 0) {
			to[k] = 0;
			*schedstat += strstr(to, "schedstat") != NULL;
		}
	}
	closedir(d);
	return n - 1; /* the directory's own */
}

static void on_timer(uv_timer_t *t)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	int s;

	nanosleep(&ts, NULL); /* a blocking call over the agent's threshold */
	fds(&s);
	if (s > during)
		during = s;
	uv_close((uv_handle_t *)t, NULL);
}

static void *loop_thread(void *arg)
{
	uv_loop_t loop;
	uv_timer_t t;

	uv_loop_init(&loop);
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_timer, 2, 0); /* after a poll: the thread is a loop by then */
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return arg;
}

int main(void)
{
	int mid = -1, after, s0, s1, i;

	for (i = 0; i < THREADS; i++) {
		pthread_t th;

		if (pthread_create(&th, NULL, loop_thread, NULL) || pthread_join(th, NULL))
			return 2;
		if (i == 1)
			mid = fds(&s0);
	}
	after = fds(&s1);
	printf("schedstat during %d after %d fds %d %d\n", during, s1, mid, after);
	return 0;
}
