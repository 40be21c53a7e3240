/*
 * pool-saturation — more work than threads: every --every ms, submit_burst() queues --jobs PBKDF2
 * derivations at once on a pool of UV_THREADPOOL_SIZE threads (default 4). Once the pool is warm,
 * the queue peaks at jobs - threads, and requests that need the pool (a fake database call) wait
 * behind the burst.
 *
 * Ground truth: pool.peak_depth >= jobs - pool.size, pool.wait_max_ns, scenario.bursts.
 */
#include "refloop_app.h"

#include <time.h>

static uint64_t jobs = 32, every_ms = 1000, iterations = 20000;

static void hash_done(void *arg, int err, const uint8_t *key, size_t len)
{
	rl_counter_add("burst_jobs_done", 1);
}

static void submit_burst(void *arg)
{
	uint64_t i;

	rl_counter_add("bursts", 1);
	for (i = 0; i < jobs; i++)
		rl_crypto_pbkdf2("report", 6, "salt", 4, (uint32_t)iterations, 32, hash_done, NULL);
}

static void warm(void *arg)
{
}

static void fake_db_query(void *arg)
{
	struct timespec ts = {0, 1000000};

	nanosleep(&ts, NULL);
}

static void db_done(void *arg, int status)
{
	rl_http_respond(arg, status ? 503 : 200, "text/plain", "report\n", 7);
}

static void handle_report(void *arg, struct rl_http_req *req)
{
	if (rl_pool_submit(fake_db_query, db_done, req))
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
}

static int start(char *what, size_t cap)
{
	struct rl_timer *t;
	int i, err = 0;

	/* libuv starts its threads on the first submission: warm them so bursts meet a full pool.
	 */
	for (i = 0; i < rl_pool_size() && !err; i++)
		err = rl_pool_submit(warm, NULL, NULL);
	if (!err)
		err = rl_set_interval(every_ms, submit_burst, NULL, &t);
	if (!err)
		rl_timer_unref(t);
	return err;
}

static const struct rl_app_opt opts[] = {
	{"jobs", RL_OPT_U64, &jobs, "J    jobs per burst (default 32)"},
	{"every", RL_OPT_U64, &every_ms, "MS   one burst this often (default 1000)"},
	{"iterations", RL_OPT_U64, &iterations, "N    PBKDF2 iterations per job (default 20000)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "pool-saturation",
		.summary = "Bursts of thread-pool jobs beyond the pool's size.",
		.opts = opts,
		.handler = handle_report,
		.start = start,
		.load_path = "/report",
	};

	return rl_app_main(argc, argv, &app);
}
