/*
 * native-leak — malloc'd buffers that are never freed: every request, leak_session_buffer()
 * allocates a buffer of a distinctive size (default 24593 bytes), fills it, and drops the pointer.
 * Native memory grows by exactly that much per request; the managed heap does not.
 *
 * Ground truth: scenario.leaked_bytes and scenario.leaked_allocations, exact.
 */
#include "refloop_app.h"

#include <stdlib.h>
#include <string.h>

static uint64_t leak_bytes = 24593;

static __attribute__((noinline)) int leak_session_buffer(uint64_t id)
{
	char *p = malloc(leak_bytes);

	if (!p)
		return UV_ENOMEM;
	memset(p, (int)(id & 0xff), leak_bytes);
	/* The pointer escapes nowhere: the buffer is leaked, and the compiler must keep it. */
	__asm__ volatile("" : : "r"(p) : "memory");
	rl_counter_add("leaked_bytes", leak_bytes);
	rl_counter_add("leaked_allocations", 1);
	return 0;
}

static void handle_upload(void *arg, struct rl_http_req *req)
{
	if (leak_session_buffer(rl_http_req_id(req)))
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
	else
		rl_http_respond(req, 200, "text/plain", "stored\n", 7);
}

static int start(char *what, size_t cap)
{
	return leak_bytes ? 0 : UV_EINVAL;
}

static const struct rl_app_opt opts[] = {
	{"leak-bytes", RL_OPT_U64, &leak_bytes, "BYTES leaked per request (default 24593)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "native-leak",
		.summary = "Leaks one malloc'd buffer of a distinctive size per request.",
		.opts = opts,
		.handler = handle_upload,
		.start = start,
		.load_path = "/upload",
	};

	return rl_app_main(argc, argv, &app);
}
