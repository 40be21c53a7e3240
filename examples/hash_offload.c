/*
 * hash-offload — the fix for hash-on-loop: the same PBKDF2 derivation on the thread pool
 * (crypto.pbkdf2), so the loop stays free while workers hash.
 *
 * Ground truth: pool.submitted = requests; low ELU; the CPU time is on worker threads.
 */
#include "refloop_app.h"

static uint64_t iterations = 5000;

static void login_done(void *arg, int err, const uint8_t *key, size_t len)
{
	struct rl_http_req *req = arg;

	rl_counter_add("hashes", 1);
	if (err)
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
	else
		rl_http_respond(req, 200, "application/octet-stream", key, len);
}

static void handle_login(void *arg, struct rl_http_req *req)
{
	if (rl_crypto_pbkdf2("hunter2", 7, "per-user-salt", 13, (uint32_t)iterations, 32,
			     login_done, req))
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
}

static const struct rl_app_opt opts[] = {
	{"iterations", RL_OPT_U64, &iterations,
	 "N    PBKDF2 iterations per request (default 5000)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "hash-offload",
		.summary = "Derives a key with PBKDF2 on the thread pool.",
		.opts = opts,
		.handler = handle_login,
		.load_path = "/login",
	};

	return rl_app_main(argc, argv, &app);
}
