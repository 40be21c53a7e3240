/*
 * mkrec.c — writes the synthetic recordings the golden tests read (the .lsr files in tests/golden).
 * Each has a known shape and so a known diagnosis; the expected outputs beside them were checked by
 * hand. Deterministic: same bytes every run. Regenerate with tests/golden/regen.sh.
 *
 *   mkrec blocked FILE   sync reads in a handler: the loop is blocked (like sync-read)
 *   mkrec healthy FILE   a calm service: nothing to report
 *   mkrec leaky FILE     managed heap and handles grow
 *   mkrec pool FILE      a saturated thread pool
 *   mkrec node FILE      JS (JIT) and kernel frames, as from node --perf-basic-prof
 */
#include "../rec_builder.h"

#define S   1000000000ULL
#define MS  1000000ULL
#define TID 4242

/* A tiny program image: function i lives at BASE + i * 0x100. */
#define BASE 0x401000ULL
enum {
	F_MAIN,
	F_UV_RUN,
	F_IO_POLL,
	F_DISPATCH,
	F_HANDLER_TASK,
	F_HANDLE_VIDEO,
	F_READ_SYNC,
	F_UV_FS_READ,
	F_FS_WORK,
	F_HANDLE_USERS,
	F_JSON,
	F_SHA,
	F_PBKDF2,
	F_HANDLE_LOGIN,
	F_N
};
static const struct {
	const char *name, *file;
	unsigned line;
} fn[F_N] = {
	{"main", "/src/app/examples/sync_read.c", 70},
	{"uv_run", "/src/libuv/src/unix/core.c", 391},
	{"uv__io_poll", "/src/libuv/src/unix/epoll.c", 380},
	{"rl__dispatch", "/src/app/runtime/loop.c", 130},
	{"handler_task", "/src/app/runtime/http.c", 420},
	{"handle_video", "/src/app/examples/sync_read.c", 23},
	{"rl_fs_read_file_sync", "/src/app/runtime/fs.c", 72},
	{"uv_fs_read", "/src/libuv/src/unix/fs.c", 1990},
	{"uv__fs_work", "/src/libuv/src/unix/fs.c", 1700},
	{"handle_users", "/src/app/examples/healthy.c", 44},
	{"render_json", "/src/app/examples/healthy.c", 30},
	{"sha256_compress", "/src/app/runtime/crypto.c", 50},
	{"rl_pbkdf2_sha256", "/src/app/runtime/crypto.c", 180},
	{"handle_login", "/src/app/examples/hash_on_loop.c", 17},
};
#define A(i)	  (BASE + (uint64_t)(i)*0x100 + 0x10)
#define LIBC_READ 0x7f0000012340ULL

static void image(struct rb *b, const char *exe)
{
	int i;

	rb_header(b, 4242, exe, "synthetic");
	rb_mapping(b, 1, BASE, BASE + 0x10000, 0x1000, exe);
	rb_mapping(b, 2, 0x7f0000000000ULL, 0x7f0000100000ULL, 0,
		   "/lib/x86_64-linux-gnu/libc.so.6");
	for (i = 0; i < F_N; i++)
		rb_symbol(b, A(i), fn[i].name, fn[i].file, fn[i].line, 0, 0);
	rb_symbol(b, LIBC_READ, "read", NULL, 0, 0, 0);
}

static uint32_t stack_of(struct rb *b, const int *leaf_first, size_t n, uint64_t libc_leaf)
{
	uint64_t frames[32];
	size_t i, k = 0;

	if (libc_leaf)
		frames[k++] = libc_leaf;
	for (i = 0; i < n; i++)
		frames[k++] = A(leaf_first[i]);
	return rb_stack(b, frames, k, 0);
}

static void calm_windows(struct rb *b, int n, double elu, uint64_t busy, uint64_t lag,
			 uint32_t handles0, uint32_t handles_step, uint64_t native0,
			 uint64_t native_step)
{
	int i;

	for (i = 0; i < n; i++) {
		struct rb_window w = {
			.start_ns = i * S,
			.length_ns = S,
			.elu = elu,
			.iterations = 1000,
			.busy_ns = busy,
			.busy_n = 500,
			.lag_ns = lag,
			.lag_n = 1000,
			.handles = handles0 + i * handles_step,
			.fds = 12 + i * handles_step,
			.rss = 50ULL << 20,
			.native = native0 + i * native_step,
			.requests = 100,
		};

		rb_window(b, &w);
	}
}

static void blocked(struct rb *b)
{
	static const int read_path[] = {F_UV_FS_READ, F_READ_SYNC, F_HANDLE_VIDEO, F_HANDLER_TASK,
					F_DISPATCH,   F_IO_POLL,   F_UV_RUN,	   F_MAIN};
	static const int cpu_path[] = {F_READ_SYNC, F_HANDLE_VIDEO, F_HANDLER_TASK, F_DISPATCH,
				       F_IO_POLL,   F_UV_RUN,	    F_MAIN};
	static const int idle_path[] = {F_IO_POLL, F_UV_RUN, F_MAIN};
	uint32_t rs, cs, is, stacks[100], tids[100];
	uint64_t values[100];
	int i;

	image(b, "/src/app/build/examples/sync-read");
	rs = stack_of(b, read_path, 8, LIBC_READ);
	cs = stack_of(b, cpu_path, 7, 0);
	is = stack_of(b, idle_path, 3, 0);
	for (i = 0; i < 10; i++) {
		struct rb_window w = {.start_ns = i * S,
				      .length_ns = S,
				      .elu = 0.97 + 0.002 * (i % 3),
				      .iterations = 44,
				      .busy_ns = 22 * MS,
				      .busy_n = 44,
				      .lag_ns = 21 * MS,
				      .lag_n = 44,
				      .handles = 4,
				      .fds = 9,
				      .rss = 90ULL << 20,
				      .requests = 44};

		rb_window(b, &w);
	}
	for (i = 0; i < 400; i++)
		rb_blocking(b, (uint64_t)i * 25 * MS, "read", 21 * MS + (i % 7) * 100000, rs, TID);
	for (i = 0; i < 100; i++) {
		stacks[i] = i < 90 ? cs : is;
		values[i] = 1;
		tids[i] = TID;
	}
	rb_samples(b, LOOPSCOPE__SAMPLE_KIND__CPU, stacks, values, tids, 100);
	rb_footer(b, 10 * S);
}

static void healthy(struct rb *b)
{
	static const int users[] = {F_JSON,    F_HANDLE_USERS, F_HANDLER_TASK, F_DISPATCH,
				    F_IO_POLL, F_UV_RUN,       F_MAIN};
	static const int idle[] = {F_IO_POLL, F_UV_RUN, F_MAIN};
	uint32_t us, is, stacks[50];
	uint64_t values[50];
	int i;

	image(b, "/src/app/build/examples/healthy");
	us = stack_of(b, users, 7, 0);
	is = stack_of(b, idle, 3, 0);
	calm_windows(b, 10, 0.12, 80000, 1100000, 7, 0, 4u << 20, 0);
	for (i = 0; i < 5; i++)
		rb_gc(b, (uint64_t)i * 2 * S + S / 2, 2 * MS, 9u << 20, 1u << 20, "RequestContext",
		      1u << 20);
	for (i = 0; i < 50; i++) {
		stacks[i] = i % 5 ? is : us;
		values[i] = 1;
	}
	rb_samples(b, LOOPSCOPE__SAMPLE_KIND__CPU, stacks, values, NULL, 50);
	rb_footer(b, 10 * S);
}

static void leaky(struct rb *b)
{
	int i;

	image(b, "/src/app/build/examples/cache-leak");
	calm_windows(b, 10, 0.3, 200000, 1200000, 10, 25, 8u << 20, 3u << 20);
	for (i = 0; i < 8; i++) {
		uint64_t live = (4ULL << 20) + (uint64_t)i * (6ULL << 20);

		rb_gc(b, (uint64_t)i * S + S / 3, 40 * MS + i * 5 * MS, live + (8ULL << 20), live,
		      "SessionCacheEntry", live - (3ULL << 20));
	}
	/* no footer: the process was killed */
}

static void pool(struct rb *b)
{
	int i;

	image(b, "/src/app/build/examples/pool-saturation");
	for (i = 0; i < 6; i++) {
		struct rb_window w = {.start_ns = i * S,
				      .length_ns = S,
				      .elu = 0.05,
				      .iterations = 300,
				      .busy_ns = 50000,
				      .busy_n = 300,
				      .lag_ns = 1050000,
				      .lag_n = 900,
				      .pool_threads = 4,
				      .pool_depth = 28,
				      .pool_wait_ns = 180 * MS,
				      .pool_wait_n = 40,
				      .handles = 6,
				      .fds = 10};

		rb_window(b, &w);
	}
	rb_footer(b, 6 * S);
}

static void node(struct rb *b)
{
	/* JIT frames sit outside every file mapping, named by the perf map copied at finalize. */
	static const uint64_t jit_fib = 0x3e5a00001000ULL, jit_main = 0x3e5a00002000ULL;
	static const uint64_t k_write = 0xffffffff81a00010ULL, k_entry = 0xffffffff81c00020ULL;
	uint64_t f1[] = {jit_fib, jit_fib + 8, jit_main, A(F_UV_RUN), A(F_MAIN)};
	uint64_t f2[] = {k_write, k_entry, LIBC_READ, jit_main, A(F_UV_RUN), A(F_MAIN)};
	uint32_t s1, s2, stacks[30];
	uint64_t values[30];
	int i;

	rb_header(b, 777, "/usr/bin/node", "synthetic");
	rb_mapping(b, 1, BASE, BASE + 0x10000, 0x1000, "/usr/bin/node");
	rb_mapping(b, 2, 0x7f0000000000ULL, 0x7f0000100000ULL, 0,
		   "/lib/x86_64-linux-gnu/libc.so.6");
	rb_symbol(b, A(F_UV_RUN), "uv_run", NULL, 0, 0, 0);
	rb_symbol(b, A(F_MAIN), "main", NULL, 0, 0, 0);
	rb_symbol(b, LIBC_READ, "read", NULL, 0, 0, 0);
	rb_symbol(b, jit_fib, "JS:*fib /app/cpu.js:2:13", NULL, 0, 1, 0);
	rb_symbol(b, jit_fib + 8, "JS:*fib /app/cpu.js:2:13", NULL, 0, 1, 0);
	rb_symbol(b, jit_main, "JS:~main /app/cpu.js:9:1", NULL, 0, 1, 0);
	rb_symbol(b, k_write, "ksys_write", NULL, 0, 0, 1);
	rb_symbol(b, k_entry, "entry_SYSCALL_64_after_hwframe", NULL, 0, 0, 1);
	s1 = rb_stack(b, f1, 5, 0);
	s2 = rb_stack(b, f2, 6, 2);
	for (i = 0; i < 30; i++) {
		stacks[i] = i < 24 ? s1 : s2;
		values[i] = 1;
	}
	rb_samples(b, LOOPSCOPE__SAMPLE_KIND__CPU, stacks, values, NULL, 30);
	rb_footer(b, 3 * S);
}

int main(int argc, char **argv)
{
	struct rb b;

	if (argc != 3) {
		fprintf(stderr, "usage: mkrec blocked|healthy|leaky|pool|node FILE\n");
		return 2;
	}
	rb_open(&b, argv[2]);
	if (!strcmp(argv[1], "blocked"))
		blocked(&b);
	else if (!strcmp(argv[1], "healthy"))
		healthy(&b);
	else if (!strcmp(argv[1], "leaky"))
		leaky(&b);
	else if (!strcmp(argv[1], "pool"))
		pool(&b);
	else if (!strcmp(argv[1], "node"))
		node(&b);
	else {
		fprintf(stderr, "mkrec: unknown shape '%s'\n", argv[1]);
		return 2;
	}
	rb_close(&b);
	return 0;
}
