/*
 * test_stream.c — backpressure: rl_http_pipe_file() pauses at the high-water mark while the client
 * does not read and resumes when it drains, delivering every byte; writes that ignore the
 * answer pile up in native memory instead.
 */
#include "task.h"
#include "net_client.h"
#include "rl_internal.h"

#include <poll.h>

#define FILE_BYTES (16u << 20)

static char path[256];
static int port, paused_pipe[2];
static uv_async_t done_async;
static uv_timer_t watch;
static int ignore_mode; /* write everything at once, ignoring "wait" */
static int drain_mode;	/* write until "wait", go on from the drain callback, end there */
static int leave_early; /* the client closes instead of reading once the server paused */
static int drain_calls, write_failures, ended_in_drain;
static struct rl_http_req *drain_req;
static uint64_t drain_written;
static uint64_t wait_answers;
static uint8_t want_digest[32], got_digest[32];
static int st_paused;
static long got_len;

#define DRAIN_TOTAL (8u << 20)

static void write_until_wait(void *arg)
{
	static char chunk[65536];
	int w = 1;

	drain_calls++;
	while (drain_written < DRAIN_TOTAL) {
		w = rl_http_write(drain_req, chunk, sizeof(chunk));
		if (w < 0) {
			write_failures++;
			break;
		}
		drain_written += sizeof(chunk);
		if (w == 0 && drain_written < DRAIN_TOTAL &&
		    rl_http_on_drain(drain_req, write_until_wait, NULL) == 0) {
			if (drain_calls == 1)
				st_paused = 1;
			return;
		}
	}
	ended_in_drain = drain_calls > 1;
	rl_http_end(drain_req); /* may free the request: nothing touches it after this */
}

static void handler(void *arg, struct rl_http_req *req)
{
	static char chunk[65536];
	int i;

	if (drain_mode) {
		drain_req = req;
		ASSERT_OK(rl_http_begin(req, 200, "application/octet-stream", DRAIN_TOTAL));
		write_until_wait(NULL);
		return;
	}
	if (!ignore_mode) {
		ASSERT_OK(rl_http_pipe_file(req, path, "application/octet-stream"));
		return;
	}
	ASSERT_OK(rl_http_begin(req, 200, "text/plain", 128 * sizeof(chunk)));
	for (i = 0; i < 128; i++)
		if (rl_http_write(req, chunk, sizeof(chunk)) == 0)
			wait_answers++;
	rl_http_end(req);
}

/* On the loop thread: tell the client once the server has paused (or queued all, when ignoring). */
static void watch_cb(uv_timer_t *t)
{
	struct rl__http_stats st;

	rl__http_stats_get(&st);
	if (st.stream_pauses > 0 || st_paused || (ignore_mode && st.responses + wait_answers > 0)) {
		ASSERT_EQ(write(paused_pipe[1], "p", 1), 1);
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, NULL);
	}
}

static void on_done(uv_async_t *a)
{
	uv_close((uv_handle_t *)a, NULL);
	if (!uv_is_closing((uv_handle_t *)&watch))
		uv_close((uv_handle_t *)&watch, NULL);
	rl_stop();
}

static void *slow_client(void *arg)
{
	struct pollfd p = {paused_pipe[0], POLLIN, 0};
	static char body[FILE_BYTES];
	char head[4096];
	int fd = client_connect(port, 16384);

	client_send(fd, "GET /file HTTP/1.1\r\n\r\n");
	/* Do not read until the server says it paused: bounded, and a failure if it never does. */
	if (poll(&p, 1, 20000) == 1 && leave_early) {
		got_len = 0;
	} else if (p.revents) {
		got_len = client_read_response(fd, head, sizeof(head), body, sizeof(body));
		if (got_len > 0)
			rl_sha256(body, (size_t)got_len, got_digest);
	} else {
		got_len = -2;
	}
	close(fd);
	uv_async_send(&done_async);
	return NULL;
}

static void serve(void)
{
	struct rl_http_server *srv;
	pthread_t th;

	ASSERT_OK(pipe(paused_pipe));
	ASSERT_OK(rl_http_listen("127.0.0.1", 0, handler, NULL, &srv));
	port = rl_http_server_port(srv);
	ASSERT_OK(uv_async_init(rl_loop(), &done_async, on_done));
	ASSERT_OK(uv_timer_init(rl_loop(), &watch));
	ASSERT_OK(uv_timer_start(&watch, watch_cb, 1, 1));
	ASSERT_OK(pthread_create(&th, NULL, slow_client, NULL));
	ASSERT_OK(rl_run());
	pthread_join(th, NULL);
}

TEST(pipe_file_pauses_at_high_water_and_resumes_on_drain)
{
	struct rl__http_stats st;
	struct rl__buffer_stats bs;
	char *data;
	size_t len;

	ASSERT_OK(rl_init(NULL));
	snprintf(path, sizeof(path), "/tmp/refloop-test-stream-%d", (int)getpid());
	data = malloc(FILE_BYTES);
	for (len = 0; len < FILE_BYTES; len++)
		data[len] = (char)(len * 131 + (len >> 12));
	ASSERT_OK(rl_fs_write_file_sync(path, data, FILE_BYTES));
	rl_sha256(data, FILE_BYTES, want_digest);
	free(data);

	serve();
	unlink(path);
	ASSERT_EQ(got_len, FILE_BYTES);
	ASSERT_EQ(memcmp(got_digest, want_digest, 32), 0);
	rl__http_stats_get(&st);
	ASSERT_CMP(st.stream_pauses, >=, 1);
	ASSERT_EQ(st.stream_resumes, st.stream_pauses);
	/* Memory stayed bounded: the queue never held much more than the mark plus one chunk. */
	ASSERT_CMP(st.peak_write_queue, <=, 64 * 1024 + 64 * 1024 + 512);
	rl__buffer_stats_get(&bs);
	ASSERT_CMP(bs.peak_bytes, <, 1u << 20);
	ASSERT_EQ(bs.live_bytes, 0);
	rl_release();
}

TEST(ignoring_backpressure_queues_the_whole_response)
{
	struct rl__buffer_stats bs;

	ignore_mode = 1;
	ASSERT_OK(rl_init(NULL));
	serve();
	ASSERT_EQ(got_len, 128 * 65536);
	/* write() said "wait" once the queue passed the mark (how soon depends on how much the
	 * kernel's socket buffer took), and was ignored every time. */
	ASSERT_CMP(wait_answers, >=, 32);
	rl__buffer_stats_get(&bs);
	/* Every chunk was alive at once: a write's buffer is freed in its callback, which libuv
	 * defers to a later iteration even when the kernel took the bytes at once. */
	ASSERT_CMP(bs.peak_bytes, >=, 128 * 65536);
	ASSERT_EQ(bs.live_bytes, 0);
	rl_release();
}

TEST(drain_callback_writes_on_and_ends_the_response)
{
	drain_mode = 1;
	ASSERT_OK(rl_init(NULL));
	serve();
	ASSERT_EQ(got_len, DRAIN_TOTAL);
	ASSERT_CMP(drain_calls, >=, 2);
	ASSERT_TRUE(ended_in_drain);
	ASSERT_EQ(write_failures, 0);
	rl_release();
}

TEST(client_leaving_while_paused_wakes_the_writer_and_frees_everything)
{
	struct rl__http_stats st;
	struct rl__buffer_stats bs;

	drain_mode = 1;
	leave_early = 1;
	ASSERT_OK(rl_init(NULL));
	serve();
	/* The drain waiter was woken by the close, its next write failed, and it ended the request
	 * (under ASan: without touching anything freed). */
	ASSERT_EQ(got_len, 0);
	ASSERT_CMP(drain_calls, >=, 2);
	ASSERT_EQ(write_failures, 1);
	rl__http_stats_get(&st);
	ASSERT_EQ(st.aborted, 1);
	ASSERT_EQ(st.responses, 1);
	rl__buffer_stats_get(&bs);
	ASSERT_EQ(bs.live_bytes, 0);
	rl_release();
}

TEST_MAIN(TEST_ENTRY(pipe_file_pauses_at_high_water_and_resumes_on_drain),
	  TEST_ENTRY(drain_callback_writes_on_and_ends_the_response),
	  TEST_ENTRY(client_leaving_while_paused_wakes_the_writer_and_frees_everything),
	  TEST_ENTRY(ignoring_backpressure_queues_the_whole_response))
