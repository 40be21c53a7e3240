/*
 * nexttick-starvation — a nextTick that schedules itself: the tick queue never empties, so timers
 * and I/O wait until the chain stops. Every --every ms, start_starvation() begins a chain of
 * spin_tick() calls that re-queue themselves for --starve-ms; a 1 ms heartbeat interval measures
 * how late it fires, and requests queue up meanwhile.
 *
 * Node equivalent: function spin() { work(); if (more) process.nextTick(spin) }.
 * Ground truth: scenario.episodes, scenario.starved_ns (chain time),
 * scenario.heartbeat_max_late_ns.
 */
#include "refloop_app.h"

static uint64_t every_ms = 1000, starve_ms = 200;
static uint64_t chain_start, last_beat;
static uint8_t digest[32];

static void spin_tick(void *arg)
{
	uint64_t now;

	rl_sha256(digest, sizeof(digest), digest); /* a little real work per tick */
	rl_counter_add("spin_ticks", 1);
	now = rl_now_ns();
	if (now - chain_start < starve_ms * 1000000) {
		rl_next_tick(spin_tick, arg);
		return;
	}
	rl_counter_add("starved_ns", now - chain_start);
}

static void start_starvation(void *arg)
{
	rl_counter_add("episodes", 1);
	chain_start = rl_now_ns();
	rl_next_tick(spin_tick, NULL);
}

static void heartbeat(void *arg)
{
	uint64_t now = rl_now_ns();

	/* libuv's timers have millisecond steps: a beat can come a little under 1 ms after the
	 * last one, which is not late */
	if (last_beat && now - last_beat > 1000000)
		rl_counter_max("heartbeat_max_late_ns", now - last_beat - 1000000);
	last_beat = now;
}

static void handle_ping(void *arg, struct rl_http_req *req)
{
	rl_http_respond(req, 200, "text/plain", "pong\n", 5);
}

static int start(char *what, size_t cap)
{
	struct rl_timer *t;
	int err = rl_set_interval(1, heartbeat, NULL, &t);

	if (!err)
		rl_timer_unref(t);
	if (!err)
		err = rl_set_interval(every_ms, start_starvation, NULL, &t);
	if (!err)
		rl_timer_unref(t);
	return err;
}

static const struct rl_app_opt opts[] = {
	{"every", RL_OPT_U64, &every_ms,
	 "MS   start a starving nextTick chain this often (default 1000)"},
	{"starve-ms", RL_OPT_U64, &starve_ms, "MS   how long each chain runs (default 200)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "nexttick-starvation",
		.summary = "A self-rescheduling nextTick chain starves timers and I/O.",
		.opts = opts,
		.handler = handle_ping,
		.start = start,
		.load_path = "/ping",
	};

	return rl_app_main(argc, argv, &app);
}
