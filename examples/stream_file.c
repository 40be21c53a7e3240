/*
 * stream-file — the fix for sync-read: the same file streamed to the client with backpressure.
 * Reading from disk happens on the thread pool, one 64 KiB chunk at a time, and pauses whenever the
 * socket's write queue is over its high-water mark, so resident memory stays flat.
 *
 * Node equivalent: fs.createReadStream(path).pipe(res).
 * Ground truth: http.stream_pauses / stream_resumes and buffers.peak_bytes in --stats.
 */
#include "refloop_app.h"

#include <stdio.h>

static uint64_t file_size = 32u << 20;
static const char *file_arg;
static char path[4096];

static void handle_video(void *arg, struct rl_http_req *req)
{
	if (rl_http_pipe_file(req, path, "video/mp4"))
		rl_http_respond(req, 500, "text/plain", "open failed\n", 12);
}

static int start(char *what, size_t cap)
{
	uint64_t size;

	if (!file_arg) {
		snprintf(what, cap, "cannot create the video file");
		return rl_app_temp_file(file_size, path, sizeof(path));
	}
	snprintf(path, sizeof(path), "%s", file_arg);
	snprintf(what, cap, "cannot open '%s'", path);
	return rl_fs_stat_sync(path, &size);
}

static const struct rl_app_opt opts[] = {
	{"file", RL_OPT_STRING, &file_arg, "PATH serve this file (default: a generated one)"},
	{"file-size", RL_OPT_U64, &file_size, "BYTES size of the generated file (default 32 MiB)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "stream-file",
		.summary = "Streams a large file with backpressure (createReadStream().pipe(res)).",
		.opts = opts,
		.handler = handle_video,
		.start = start,
		.load_path = "/video",
	};

	return rl_app_main(argc, argv, &app);
}
