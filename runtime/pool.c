/*
 * pool.c — refloop's own layer over libuv's thread pool: every job the runtime's modules queue with
 * uv_queue_work() goes through here, so that --stats can report ground truth for loopscope's
 * thread-pool measurements: jobs submitted, started and done, the peak queue depth (submitted but
 * not yet picked up by a worker) and the queue-wait distribution.
 *
 * Worker threads touch only atomics and the job itself. The USDT probes work__submit, work__start
 * and work__done carry the job's id, so a tracer can pair them.
 */
#include "rl_internal.h"

#include <stdlib.h>

struct job {
	uv_work_t req;
	rl_work_fn work;
	rl_after_work_fn done;
	void *arg;
	uint64_t id;
	uint64_t submit_ns;
	int status;
};

static _Atomic uint64_t submitted, started, completed, peak_depth, wait_max, wait_total;
static struct rl__hist wait_hist;

int rl_pool_size(void)
{
	const char *s = getenv("UV_THREADPOOL_SIZE");
	long n = s ? strtol(s, NULL, 10) : 4;

	/* libuv's own rule: at least 1, at most 1024. */
	if (n < 1)
		n = 1;
	if (n > 1024)
		n = 1024;
	return (int)n;
}

static void work_cb(uv_work_t *req)
{
	struct job *j = rl__container_of(req, struct job, req);
	uint64_t wait = uv_hrtime() - j->submit_ns, max;

	atomic_fetch_add(&started, 1);
	atomic_fetch_add(&wait_total, wait);
	max = atomic_load(&wait_max);
	while (wait > max && !atomic_compare_exchange_weak(&wait_max, &max, wait))
		;
	rl__hist_add(&wait_hist, wait);
	RL_PROBE2(work__start, j->id, wait);
	j->work(j->arg);
}

static void after_task(void *arg)
{
	struct job *j = arg;

	j->done(j->arg, j->status);
}

static void after_cb(uv_work_t *req, int status)
{
	struct job *j = rl__container_of(req, struct job, req);

	atomic_fetch_add(&completed, 1);
	RL_PROBE1(work__done, j->id);
	j->status = status;
	if (j->done)
		rl__dispatch(RL_CB_WORK, after_task, j);
	free(j);
}

int rl_pool_submit(rl_work_fn work, rl_after_work_fn done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	uint64_t depth, peak;
	int err;

	if (!j)
		return UV_ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	j->id = atomic_fetch_add(&submitted, 1) + 1;
	j->submit_ns = uv_hrtime();
	RL_PROBE1(work__submit, j->id);
	err = uv_queue_work(rl_loop(), &j->req, work_cb, after_cb);
	if (err) {
		atomic_fetch_sub(&submitted, 1);
		free(j);
		return err;
	}
	/* Depth after this submit: everything submitted that no worker has picked up yet. */
	depth = atomic_load(&submitted) - atomic_load(&started);
	peak = atomic_load(&peak_depth);
	while (depth > peak && !atomic_compare_exchange_weak(&peak_depth, &peak, depth))
		;
	rl__note_active();
	return 0;
}

void rl__pool_stats_get(struct rl__pool_stats *out)
{
	out->size = rl_pool_size();
	out->submitted = atomic_load(&submitted);
	out->started = atomic_load(&started);
	out->completed = atomic_load(&completed);
	out->peak_depth = atomic_load(&peak_depth);
	out->wait_max_ns = atomic_load(&wait_max);
	out->wait_total_ns = atomic_load(&wait_total);
	out->wait_p50_ns = rl__hist_quantile(&wait_hist, 0.50);
	out->wait_p99_ns = rl__hist_quantile(&wait_hist, 0.99);
}
