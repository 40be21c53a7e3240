/*
 * worker-offload — two event loops in one process: the main loop serves /login and hands each
 * PBKDF2 derivation to a second libuv loop on a thread of its own (a worker loop, as a Node.js
 * Worker has), which derives keys one after another and hands the results back. The main loop
 * stays free; the worker loop is saturated, its callbacks long.
 *
 * Ground truth: the main loop's ELU is loop.elu; the worker loop's is measured by libuv on it
 * (uv_metrics_idle_time, UV_METRICS_IDLE_TIME set before it runs) and reported as
 * scenario.worker_wall_ns and scenario.worker_idle_ns; scenario.hashes = jobs derived.
 */
#include "refloop_app.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uint64_t iterations = 20000;

struct job {
	struct rl_http_req *req;
	uint8_t key[32];
	struct job *next;
};

static struct {
	pthread_t thread;
	uv_loop_t loop;
	uv_async_t wake;      /* on the worker loop: jobs are queued, or stop */
	uv_async_t done;      /* on the main loop: results are back */
	pthread_mutex_t lock; /* the two queues */
	struct job *todo, *finished;
	int stop, started;
	uint64_t wall_ns, idle_ns, t0;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The worker loop's work: one derivation, on its thread. */
static __attribute__((noinline)) void derive_key(struct job *j)
{
	rl_pbkdf2_sha256("hunter2", 7, "per-user-salt", 13, (uint32_t)iterations, j->key,
			 sizeof(j->key));
}

static void on_wake(uv_async_t *h)
{
	struct job *list, *j;

	pthread_mutex_lock(&W.lock);
	list = W.todo;
	W.todo = NULL;
	pthread_mutex_unlock(&W.lock);
	/* everything queued, in one callback: the worker loop's long busy stretch */
	for (j = list; j; j = j->next)
		derive_key(j);
	pthread_mutex_lock(&W.lock);
	while (list) {
		j = list;
		list = j->next;
		j->next = W.finished;
		W.finished = j;
	}
	pthread_mutex_unlock(&W.lock);
	uv_async_send(&W.done);
	if (W.stop)
		uv_close((uv_handle_t *)h, NULL);
}

static void *worker_main(void *arg)
{
	(void)arg;
	W.t0 = uv_hrtime();
	uv_run(&W.loop, UV_RUN_DEFAULT);
	W.wall_ns = uv_hrtime() - W.t0;
	W.idle_ns = uv_metrics_idle_time(&W.loop);
	uv_loop_close(&W.loop);
	return NULL;
}

/* On the main loop: answer the requests whose keys are back. */
static void on_done(uv_async_t *h)
{
	struct job *list, *j;

	(void)h;
	pthread_mutex_lock(&W.lock);
	list = W.finished;
	W.finished = NULL;
	pthread_mutex_unlock(&W.lock);
	while ((j = list)) {
		list = j->next;
		rl_counter_add("hashes", 1);
		rl_http_respond(j->req, 200, "application/octet-stream", j->key, sizeof(j->key));
		free(j);
	}
}

static void handle_login(void *arg, struct rl_http_req *req)
{
	struct job *j = calloc(1, sizeof(*j));

	(void)arg;
	if (!j) {
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
		return;
	}
	j->req = req;
	pthread_mutex_lock(&W.lock);
	j->next = W.todo;
	W.todo = j;
	pthread_mutex_unlock(&W.lock);
	uv_async_send(&W.wake);
}

static int start(char *err, size_t errlen)
{
	int e;

	if ((e = uv_loop_init(&W.loop)) || (e = uv_loop_configure(&W.loop, UV_METRICS_IDLE_TIME)) ||
	    (e = uv_async_init(&W.loop, &W.wake, on_wake)) ||
	    (e = uv_async_init(rl_loop(), &W.done, on_done))) {
		snprintf(err, errlen, "cannot set up the worker loop");
		return e;
	}
	uv_unref((uv_handle_t *)&W.done); /* the main loop ends when the server does */
	if ((e = pthread_create(&W.thread, NULL, worker_main, NULL))) {
		snprintf(err, errlen, "cannot start the worker loop's thread");
		return -e;
	}
	W.started = 1;
	return 0;
}

static void finish(void)
{
	if (!W.started)
		return;
	W.stop = 1;
	uv_async_send(&W.wake);
	pthread_join(W.thread, NULL);
	rl_counter_add("worker_wall_ns", W.wall_ns);
	rl_counter_add("worker_idle_ns", W.idle_ns);
}

static const struct rl_app_opt opts[] = {
	{"iterations", RL_OPT_U64, &iterations,
	 "N    PBKDF2 iterations per request, on the worker loop (default 20000)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "worker-offload",
		.summary = "Hands each PBKDF2 derivation to a second event loop on its own thread.",
		.opts = opts,
		.handler = handle_login,
		.start = start,
		.finish = finish,
		.load_path = "/login",
	};

	return rl_app_main(argc, argv, &app);
}
