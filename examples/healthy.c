/*
 * healthy — what a well-behaved service looks like: the handler keeps a small request context on
 * the managed heap, queries a fake database on the thread pool, and answers with a short JSON
 * body. Nothing blocks the loop; the heap is flat after each GC.
 *
 * Ground truth: low ELU, no blocking, gc.live_after_gc flat, scenario.db_queries = requests.
 */
#include "refloop_app.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t db_us = 2000;
static int ctx_type, body_type;

static void fake_db_query(void *arg)
{
	struct timespec ts = {0, (long)(db_us * 1000)};

	/* A database round trip: the worker waits, the loop does not. */
	nanosleep(&ts, NULL);
}

static void db_done(void *arg, int status)
{
	struct rl_http_req *req = arg;
	struct rl_object *ctx = rl_http_req_held(req), *body;
	int n;

	rl_counter_add("db_queries", 1);
	body = rl_alloc(body_type, 0, 256);
	if (!body || status) {
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
		return;
	}
	n = snprintf(rl_obj_payload(body), 256, "{\"user\":%llu,\"name\":\"%s\"}\n",
		     (unsigned long long)rl_http_req_id(req), (char *)rl_obj_payload(ctx));
	rl_http_respond(req, 200, "application/json", rl_obj_payload(body), (size_t)n);
}

static void handle_users(void *arg, struct rl_http_req *req)
{
	struct rl_object *ctx = rl_alloc(ctx_type, 0, 512);

	if (!ctx) {
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
		return;
	}
	snprintf(rl_obj_payload(ctx), 512, "user-%llu", (unsigned long long)rl_http_req_id(req));
	rl_http_req_hold(req, ctx);
	if (rl_pool_submit(fake_db_query, db_done, req))
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
}

static int start(char *what, size_t cap)
{
	ctx_type = rl_type_register("RequestContext");
	body_type = rl_type_register("ResponseBody");
	return ctx_type < 0 ? ctx_type : body_type < 0 ? body_type : 0;
}

static const struct rl_app_opt opts[] = {
	{"db-us", RL_OPT_U64, &db_us,
	 "US   fake database latency on the thread pool (default 2000)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "healthy",
		.summary = "An async handler with a fake database call on the thread pool.",
		.opts = opts,
		.handler = handle_users,
		.start = start,
		.load_path = "/users",
	};

	return rl_app_main(argc, argv, &app);
}
