/*
 * handle-leak — an interval timer per request that is never cleared: each request leaves one more
 * active libuv timer handle behind, and the process's handle count grows without bound.
 *
 * Node equivalent: setInterval(() => poll(session), 60000) in a handler, never clearInterval'd.
 * Ground truth: scenario.leaked_intervals = requests; loop.peak_active_handles >= requests.
 */
#include "refloop_app.h"

static uint64_t poll_ms = 60000;

static void poll_session(void *arg)
{
	rl_counter_add("session_polls", 1);
}

static void handle_subscribe(void *arg, struct rl_http_req *req)
{
	/* The leak: nothing ever calls rl_clear_timer() on this. */
	if (rl_set_interval(poll_ms, poll_session, NULL, NULL)) {
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
		return;
	}
	rl_counter_add("leaked_intervals", 1);
	rl_http_respond(req, 200, "text/plain", "subscribed\n", 11);
}

static const struct rl_app_opt opts[] = {
	{"poll-ms", RL_OPT_U64, &poll_ms, "MS   period of each leaked interval (default 60000)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "handle-leak",
		.summary = "Starts an interval timer per request and never clears it.",
		.opts = opts,
		.handler = handle_subscribe,
		.load_path = "/subscribe",
	};

	return rl_app_main(argc, argv, &app);
}
