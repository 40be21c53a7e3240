/*
 * shutdown-hang — a server that does not finish stopping. Its answer to SIGTERM stops listening
 * and nothing else (Node: process.on('SIGTERM', () => server.close())); the self-load client's
 * keep-alive connections stay open and go on asking, and a forgotten interval keeps ticking, so
 * the process lives on. After --hang-s it gives up and stops everything (where a process
 * manager would have killed it). --term-after sends it the SIGTERM itself, as a deploy would.
 *
 * Node equivalent: keep-alive clients and a setInterval never cleared, with server.close() as
 * the only thing done on SIGTERM.
 * Ground truth: scenario.stop_signals; scenario.hang_ns (the SIGTERM to the give-up);
 * scenario.open_tcp_at_stop, scenario.open_timers_at_stop: the active, referenced handles libuv
 * had, by type, a second after the SIGTERM (the listener closed by then): what keeps it alive.
 */
#include "refloop_app.h"

#include <signal.h>
#include <unistd.h>

static uint64_t hang_s = 6, term_after_s = 2, stop_ns;
static struct rl_timer *give_up_timer;

static void handle_ping(void *arg, struct rl_http_req *req)
{
	rl_http_respond(req, 200, "text/plain", "pong\n", 5);
}

static void refresh_cache(void *arg)
{
	rl_counter_add("cache_refreshes", 1); /* the interval nobody clears */
}

static void count_handle(uv_handle_t *h, void *arg)
{
	uint64_t *n = arg;

	if (!uv_is_active(h) || !uv_has_ref(h))
		return;
	if (h->type == UV_TCP)
		n[0]++;
	else if (h->type == UV_TIMER)
		n[1]++;
}

/* what keeps it alive, counted once the listener has closed */
static void count_open(void *arg)
{
	uint64_t n[2] = {0, 0};

	uv_walk(rl_loop(), count_handle, n);
	rl_counter_max("open_tcp_at_stop", n[0]);
	rl_counter_max("open_timers_at_stop", n[1]);
}

static void give_up(void *arg)
{
	rl_counter_add("hang_ns", rl_now_ns() - stop_ns);
	rl_on_stop_signal(NULL, NULL);
	rl_stop();
}

/* The bug: only the listener is closed. */
static void on_sigterm(void *arg)
{
	struct rl_timer *t;

	rl_counter_add("stop_signals", 1);
	if (stop_ns)
		return;
	stop_ns = rl_now_ns();
	rl_http_stop_listening();
	if (!rl_set_timeout(1000, count_open, NULL, &t))
		rl_timer_unref(t);
	/* (unref'd: what keeps the process alive is the program's, not this timer) */
	if (!rl_set_timeout(hang_s * 1000, give_up, NULL, &give_up_timer))
		rl_timer_unref(give_up_timer);
}

static void send_term(void *arg)
{
	kill(getpid(), SIGTERM);
}

static int start(char *what, size_t cap)
{
	struct rl_timer *t;
	int err;

	rl_on_stop_signal(on_sigterm, NULL);
	err = rl_set_interval(500, refresh_cache, NULL, &t);
	if (!err && term_after_s)
		err = rl_set_timeout(term_after_s * 1000, send_term, NULL, &t);
	return err;
}

static const struct rl_app_opt opts[] = {
	{"hang-s", RL_OPT_U64, &hang_s, "SEC  give up this long after the SIGTERM (default 6)"},
	{"term-after", RL_OPT_U64, &term_after_s,
	 "SEC  send itself a SIGTERM this long after start (default 2; 0: never)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "shutdown-hang",
		.summary = "Stops listening on SIGTERM but keeps its keep-alive sockets and an "
			   "interval: it does not exit.",
		.opts = opts,
		.handler = handle_ping,
		.start = start,
		.load_path = "/ping",
	};

	return rl_app_main(argc, argv, &app);
}
