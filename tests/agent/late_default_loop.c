/*
 * late_default_loop.c — a libuv program shaped as Node.js starts: another thread runs a loop of
 * its own (Node's platform thread) before the main thread makes libuv's default loop. The agent
 * must not make the default loop itself at that thread's first poll: uv_default_loop() creates
 * the loop when it does not exist, and two threads creating it at once leave its watcher queue
 * corrupt (a node linked to itself: uv__io_poll then spins in epoll_ctl for good).
 *
 * Prints "default loop: made by main" when no epoll instance other than the thread's existed
 * after that thread polled (libuv's default loop makes one), else "default loop: made before
 * main asked" and exits 3; then runs the default loop with four timers for 1.5 s and exits 0.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

static _Atomic int ticks, stop;

/* The epoll instances this process holds. */
static int epolls(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], what[64];
	ssize_t n;
	int count = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, what, sizeof(what) - 1);
		if (n > 0) {
			what[n] = 0;
			count += strcmp(what, "anon_inode:[eventpoll]") == 0;
		}
	}
	closedir(d);
	return count;
}

static void on_tick(uv_timer_t *t)
{
	atomic_fetch_add(&ticks, 1);
	if (atomic_load(&stop))
		uv_timer_stop(t);
}

/* The other thread's loop: polls every 5 ms until told to stop. */
static void *platform(void *arg)
{
	uv_loop_t loop;
	uv_timer_t t;

	(void)arg;
	uv_loop_init(&loop);
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_tick, 5, 5);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return NULL;
}

static void on_main_tick(uv_timer_t *t)
{
	(void)t;
}

static void on_end(uv_timer_t *t)
{
	uv_stop(t->loop);
}

int main(void)
{
	static uv_timer_t timers[4]; /* still in the loop at exit: not on the stack */
	struct timespec step = {0, 1000000};
	pthread_t th;
	uv_loop_t *loop;
	int i, before, after;

	before = epolls();
	if (pthread_create(&th, NULL, platform, NULL))
		return 2;
	/* Several polls of the thread's loop, its first among them (5 s at most). */
	for (i = 0; i < 5000 && atomic_load(&ticks) < 5; i++)
		nanosleep(&step, NULL);
	after = epolls();
	if (atomic_load(&ticks) < 5 || after != before + 1) {
		printf("default loop: made before main asked (epoll instances: %d before the thread, "
		       "%d after its polls, ticks %d)\n",
		       before, after, atomic_load(&ticks));
		atomic_store(&stop, 1);
		pthread_join(th, NULL);
		return 3;
	}
	printf("default loop: made by main\n");
	fflush(stdout);
	loop = uv_default_loop();
	for (i = 0; i < 3; i++) {
		uv_timer_init(loop, &timers[i]);
		uv_timer_start(&timers[i], on_main_tick, 10, 10);
	}
	uv_timer_init(loop, &timers[3]);
	uv_timer_start(&timers[3], on_end, 1500, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	return 0;
}
