/*
 * sync-read — the readFileSync pitfall: an HTTP handler reads a large file synchronously, so every
 * request blocks the loop for the duration of the read, in handle_video().
 *
 * Node equivalent: app.get('/video/info', (req, res) => res.json(index(fs.readFileSync(path)))).
 * The answer is a few bytes, so the loop's busy time per request is the read itself; stream-file
 * sends the same file as the body, the right way.
 * Ground truth: scenario.sync_read_ns / scenario.sync_reads in --stats, measured around the call.
 */
#include "refloop_app.h"

#include <stdio.h>

static uint64_t file_size = 32u << 20;
static const char *file_arg;
static char path[4096];

static void handle_video(void *arg, struct rl_http_req *req)
{
	uint64_t t0 = rl_now_ns();
	char *data, info[128];
	size_t len;
	int n, err = rl_fs_read_file_sync(path, &data, &len); /* blocks the loop: the pitfall */

	rl_counter_add("sync_read_ns", rl_now_ns() - t0);
	rl_counter_add("sync_reads", 1);
	if (err) {
		rl_http_respond(req, 500, "text/plain", "read failed\n", 12);
		return;
	}
	n = snprintf(info, sizeof(info), "{\"bytes\":%zu,\"first\":%u}\n", len,
		     len ? (unsigned char)data[0] : 0);
	rl_buffer_free(data);
	rl_http_respond(req, 200, "application/json", info, (size_t)n);
}

static int start(char *what, size_t cap)
{
	uint64_t size;
	int err;

	if (!file_arg) {
		snprintf(what, cap, "cannot create the video file");
		return rl_app_temp_file(file_size, path, sizeof(path));
	}
	snprintf(path, sizeof(path), "%s", file_arg);
	snprintf(what, cap, "cannot open '%s'", path);
	err = rl_fs_stat_sync(path, &size);
	if (!err)
		rl_counter_max("file_bytes", size);
	return err;
}

static const struct rl_app_opt opts[] = {
	{"file", RL_OPT_STRING, &file_arg, "PATH serve this file (default: a generated one)"},
	{"file-size", RL_OPT_U64, &file_size, "BYTES size of the generated file (default 32 MiB)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "sync-read",
		.summary = "Serves a large file read synchronously in the handler (readFileSync).",
		.opts = opts,
		.handler = handle_video,
		.start = start,
		.load_path = "/video/info",
	};

	return rl_app_main(argc, argv, &app);
}
