/*
 * hash-on-loop — CPU-bound work on the loop thread: the login handler derives a key with PBKDF2
 * synchronously (crypto.pbkdf2Sync), so the loop is busy, not blocked in a syscall, for the whole
 * derivation. Compare hash-offload, which does the same work on the thread pool.
 *
 * Ground truth: scenario.hash_ns / scenario.hashes; the CPU time is under handle_login().
 */
#include "refloop_app.h"

static uint64_t iterations = 5000;

static void handle_login(void *arg, struct rl_http_req *req)
{
	uint8_t key[32];
	uint64_t t0 = rl_now_ns();

	rl_pbkdf2_sha256("hunter2", 7, "per-user-salt", 13, (uint32_t)iterations, key, sizeof(key));
	rl_counter_add("hash_ns", rl_now_ns() - t0);
	rl_counter_add("hashes", 1);
	rl_http_respond(req, 200, "application/octet-stream", key, sizeof(key));
}

static const struct rl_app_opt opts[] = {
	{"iterations", RL_OPT_U64, &iterations,
	 "N    PBKDF2 iterations per request (default 5000)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "hash-on-loop",
		.summary = "Derives a key with PBKDF2 synchronously in the handler.",
		.opts = opts,
		.handler = handle_login,
		.load_path = "/login",
	};

	return rl_app_main(argc, argv, &app);
}
