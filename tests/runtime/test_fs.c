/* test_fs.c — whole-file read, write and stat, synchronous and on the thread pool. */
#include "task.h"
#include "rl_internal.h"

static char path[256];
static char content[300000];
static int step;

static void on_stat(void *arg, int err, uint64_t size)
{
	ASSERT_OK(err);
	ASSERT_EQ(size, sizeof(content));
	step++;
}

static void on_missing(void *arg, int err, char *data, size_t len)
{
	ASSERT_EQ(err, UV_ENOENT);
	ASSERT_TRUE(data == NULL);
	step++;
}

static void on_read(void *arg, int err, char *data, size_t len)
{
	ASSERT_OK(err);
	ASSERT_EQ(len, sizeof(content));
	ASSERT_EQ(memcmp(data, content, len), 0);
	rl_buffer_free(data);
	step++;
	ASSERT_OK(rl_fs_stat(path, on_stat, NULL));
	ASSERT_OK(rl_fs_read_file("/nonexistent/refloop", on_missing, NULL));
}

static void on_write(void *arg, int err)
{
	ASSERT_OK(err);
	step++;
	ASSERT_OK(rl_fs_read_file(path, on_read, NULL));
}

TEST(async_write_read_stat)
{
	size_t i;

	for (i = 0; i < sizeof(content); i++)
		content[i] = (char)(i * 31 + 7);
	snprintf(path, sizeof(path), "/tmp/refloop-test-fs-%d", (int)getpid());
	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_fs_write_file(path, content, sizeof(content), on_write, NULL));
	ASSERT_OK(rl_run());
	ASSERT_EQ(step, 4);
	unlink(path);
	rl_release();
}

TEST(sync_write_read_stat_and_errors)
{
	struct rl__buffer_stats bs;
	uint64_t size;
	char *data;
	size_t len;

	snprintf(path, sizeof(path), "/tmp/refloop-test-fs-%d", (int)getpid());
	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_fs_write_file_sync(path, "hello", 5));
	ASSERT_OK(rl_fs_stat_sync(path, &size));
	ASSERT_EQ(size, 5);
	ASSERT_OK(rl_fs_read_file_sync(path, &data, &len));
	ASSERT_EQ(len, 5);
	ASSERT_EQ(memcmp(data, "hello", 5), 0);
	rl__buffer_stats_get(&bs);
	ASSERT_EQ(bs.live_bytes, 5);
	rl_buffer_free(data);
	rl__buffer_stats_get(&bs);
	ASSERT_EQ(bs.live_bytes, 0);
	ASSERT_EQ(rl_fs_read_file_sync("/nonexistent/refloop", &data, &len), UV_ENOENT);
	ASSERT_EQ(rl_fs_read_file_sync("/", &data, &len), UV_EISDIR);
	unlink(path);
	rl_release();
}

TEST_MAIN(TEST_ENTRY(async_write_read_stat), TEST_ENTRY(sync_write_read_stat_and_errors))
