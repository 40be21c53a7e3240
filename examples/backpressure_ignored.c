/*
 * backpressure-ignored — writing to a slow reader without waiting for drain: the export handler
 * queues the whole response at once, ignoring rl_http_write()'s "wait for drain" answer, so every
 * byte the client has not read yet sits in native memory. The built-in client reads slowly.
 *
 * Node equivalent: for (const chunk of rows) res.write(chunk); res.end() — ignoring false.
 * Ground truth: buffers.peak_bytes, scenario.ignored_drains (writes answered "wait").
 */
#include "refloop_app.h"

#include <string.h>

static uint64_t chunks = 256, chunk_bytes = 64 * 1024;
static char chunk[1 << 20];

static void handle_export(void *arg, struct rl_http_req *req)
{
	uint64_t i;

	if (rl_http_begin(req, 200, "text/csv", chunks * chunk_bytes)) {
		rl_http_end(req);
		return;
	}
	for (i = 0; i < chunks; i++)
		if (rl_http_write(req, chunk, chunk_bytes) == 0) /* "wait for drain", ignored */
			rl_counter_add("ignored_drains", 1);
	rl_counter_add("exports", 1);
	rl_http_end(req);
}

static int start(char *what, size_t cap)
{
	if (chunk_bytes == 0 || chunk_bytes > sizeof(chunk))
		return UV_EINVAL;
	memset(chunk, 'x', sizeof(chunk));
	return 0;
}

static const struct rl_app_opt opts[] = {
	{"chunks", RL_OPT_U64, &chunks, "N    chunks per response (default 256)"},
	{"chunk-bytes", RL_OPT_U64, &chunk_bytes,
	 "BYTES size of each chunk, at most 1 MiB (default 64 KiB)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "backpressure-ignored",
		.summary = "Writes a large response to a slow reader without waiting for drain.",
		.opts = opts,
		.handler = handle_export,
		.start = start,
		.load_path = "/export",
		.load_read_bps = 1u << 20,
	};

	return rl_app_main(argc, argv, &app);
}
