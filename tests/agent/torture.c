/*
 * torture.c — a program that is hard to live inside: while its main thread polls an epoll fd and
 * makes blocking calls, rounds of threads allocate and free memory across each other, fork
 * children that allocate and exit, and exit themselves, hundreds of threads in all. Run under the
 * agent by test_run.c in every heap mode; it must finish, exit 0 and say so.
 *   torture ROUNDS
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 8
#define SLOTS	256

static _Atomic(void *) slots[SLOTS];

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg, i;

	for (i = 0; i < 3000; i++) {
		size_t size = 1 + rand_r(&seed) % 4096;
		char *p = malloc(size);
		void *old;

		if (!p)
			abort();
		memset(p, (int)i, size);
		/* Half the blocks are freed by whichever thread takes the slot next. */
		old = atomic_exchange(&slots[rand_r(&seed) % SLOTS], (i & 1) ? p : NULL);
		free(old);
		if (!(i & 1))
			free(p);
		if (i % 1000 == 999 && rand_r(&seed) % 4 == 0) {
			pid_t pid = fork();

			if (pid == 0) {
				void *q = malloc(1000);

				free(q);
				_exit(0);
			}
			if (pid > 0)
				waitpid(pid, NULL, 0);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20, r, t, ep = epoll_create1(0), threads = 0;
	struct epoll_event ev;
	char buf[4096];
	size_t i;

	for (r = 0; r < rounds; r++) {
		pthread_t th[THREADS];
		FILE *f;

		for (t = 0; t < THREADS; t++, threads++)
			if (pthread_create(&th[t], NULL, worker,
					   (void *)(uintptr_t)(r * THREADS + t + 1)))
				return 1;
		/* The main thread is a loop thread meanwhile: polls and blocking reads. */
		for (i = 0; i < 5; i++) {
			epoll_wait(ep, &ev, 1, 2);
			f = fopen("/proc/self/status", "r");
			if (f) {
				while (fread(buf, 1, sizeof(buf), f) > 0)
					;
				fclose(f);
			}
		}
		for (t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
	}
	for (i = 0; i < SLOTS; i++)
		free(atomic_exchange(&slots[i], NULL));
	printf("torture ok: %d threads\n", threads);
	return 0;
}
