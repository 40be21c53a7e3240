/*
 * test_cli.c — the `loopscope` command as a user meets it. Golden: the checked-in recordings in
 * tests/golden give exactly the checked-in outputs. Bad input: a missing, foreign, corrupt,
 * newer or truncated recording, bad flags, a bad folded file, a recording without the data asked
 * for: each is one line on stderr, the documented exit code, and never a partial output file.
 */
#include "task.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#define GOLDEN LSC_SOURCE_DIR "/tests/golden/"

struct res {
	int code;
	char out[1 << 16];
	char err[4096];
};

static char tmpdir[256];

static void slurp_into(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : 0;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* Runs loopscope with argv (NULL-terminated); stdin from in_path when given. */
static void run(struct res *r, const char *in_path, const char *const *args)
{
	char out[300], err[300], exe[512];
	const char *argv[32];
	int status, i = 0;
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/loopscope", LSC_BUILD_DIR);
	snprintf(out, sizeof(out), "%s/stdout", tmpdir);
	snprintf(err, sizeof(err), "%s/stderr", tmpdir);
	argv[i++] = exe;
	for (; *args && i < 30; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open(in_path ? in_path : "/dev/null", O_RDONLY);

		dup2(o, 1);
		dup2(e, 2);
		dup2(in, 0);
		chdir(tmpdir);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status)); /* never a crash */
	r->code = WEXITSTATUS(status);
	slurp_into(out, r->out, sizeof(r->out));
	slurp_into(err, r->err, sizeof(r->err));
}

#define RUN(r, ...)                                                                                \
	do {                                                                                       \
		const char *const a_[] = {__VA_ARGS__, NULL};                                      \
		run(r, NULL, a_);                                                                  \
	} while (0)

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lsc-cli-%d", (int)getpid());
	mkdir(tmpdir, 0755);
}

/* Only our own files in the directory: no output file, no temporary left behind. */
static int entries(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "stdout") && strcmp(e->d_name, "stderr") &&
		    strncmp(e->d_name, "input", 5))
			n++;
	closedir(d);
	return n;
}

static void expect_error(const struct res *r, int code, const char *needle)
{
	const char *nl = strchr(r->err, '\n');

	if (r->code != code)
		LSC_FAIL("exit %d, wanted %d; stderr: %s", r->code, code, r->err);
	if (!strstr(r->err, needle))
		LSC_FAIL("stderr lacks \"%s\": %s", needle, r->err);
	if (strncmp(r->err, "loopscope: ", 11) || !nl || nl[1])
		LSC_FAIL("stderr is not one 'loopscope: ...' line: %s", r->err);
	ASSERT_STR_EQ(r->out, "");
}

static void expect_golden(const struct res *r, const char *name)
{
	static char want[1 << 16];
	char path[512];
	size_t i, line = 1;

	snprintf(path, sizeof(path), GOLDEN "%s", name);
	slurp_into(path, want, sizeof(want));
	if (r->code != 0)
		LSC_FAIL("exit %d for %s: %s", r->code, name, r->err);
	for (i = 0; want[i] && want[i] == r->out[i]; i++)
		line += want[i] == '\n';
	if (want[i] || r->out[i])
		LSC_FAIL(
			"output differs from %s at line %zu (run tests/golden/regen.sh only if the "
			"change is intended)",
			name, line);
}

TEST(golden_reports_and_folded_stacks)
{
	static const char *shapes[] = {"blocked", "healthy", "leaky", "pool", "node"};
	char rec[512], want[128];
	struct res r;
	size_t i;

	setup();
	for (i = 0; i < 5; i++) {
		snprintf(rec, sizeof(rec), GOLDEN "%s.lsr", shapes[i]);
		RUN(&r, "report", rec);
		snprintf(want, sizeof(want), "%s.report.txt", shapes[i]);
		expect_golden(&r, want);
		RUN(&r, "report", rec, "--json");
		snprintf(want, sizeof(want), "%s.report.json", shapes[i]);
		expect_golden(&r, want);
	}
	RUN(&r, "flame", GOLDEN "blocked.lsr", "--format", "folded");
	expect_golden(&r, "blocked.cpu.folded");
	RUN(&r, "flame", "--kind", "blocking", GOLDEN "blocked.lsr", "--format=folded");
	expect_golden(&r, "blocked.blocking.folded");
	RUN(&r, "flame", GOLDEN "healthy.lsr", "--format", "folded");
	expect_golden(&r, "healthy.cpu.folded");
	RUN(&r, "flame", GOLDEN "node.lsr", "--format", "folded");
	expect_golden(&r, "node.cpu.folded");
	/* Folded in, folded out: the same stacks (and '-' reads stdin). */
	{
		static const char *const a[] = {"flame",    "--folded", "-",
						"--format", "folded",	NULL};

		run(&r, GOLDEN "blocked.cpu.folded", a);
		expect_golden(&r, "blocked.cpu.folded");
	}
}

TEST(the_diagnosis_names_what_each_shape_is)
{
	struct res r;

	setup();
	RUN(&r, "report", GOLDEN "blocked.lsr");
	ASSERT_TRUE(strstr(r.out, "the loop is blocked by synchronous calls (read)") != NULL);
	ASSERT_TRUE(strstr(r.out, "100 % under handle_video (sync_read.c:23)") != NULL);
	RUN(&r, "report", GOLDEN "healthy.lsr");
	ASSERT_TRUE(strstr(r.out, "no problem found") != NULL);
	RUN(&r, "report", GOLDEN "leaky.lsr");
	ASSERT_TRUE(strstr(r.out, "most growth in SessionCacheEntry") != NULL);
	ASSERT_TRUE(strstr(r.out, "active handles only grow") != NULL);
	ASSERT_TRUE(strstr(r.out, "incomplete (no footer") != NULL);
	RUN(&r, "report", GOLDEN "pool.lsr");
	ASSERT_TRUE(strstr(r.out, "the thread pool is saturated") != NULL);
}

TEST(help_version_and_usage_errors)
{
	struct res r;

	setup();
	RUN(&r, "--version");
	ASSERT_EQ(r.code, 0);
	ASSERT_TRUE(strncmp(r.out, "loopscope ", 10) == 0);
	RUN(&r, "help");
	ASSERT_EQ(r.code, 0);
	ASSERT_TRUE(strstr(r.out, "report") && strstr(r.out, "flame") &&
		    strstr(r.out, "symbolize"));
	RUN(&r, "help", "flame");
	ASSERT_EQ(r.code, 0);
	ASSERT_TRUE(strstr(r.out, "--minwidth") != NULL);
	RUN(&r, "report", "--help");
	ASSERT_EQ(r.code, 0);
	RUN(&r, "frobnicate");
	expect_error(&r, 2, "no command 'frobnicate'");
	RUN(&r, "report");
	expect_error(&r, 2, "no recording given; see 'loopscope help report'");
	RUN(&r, "report", "--bogus", GOLDEN "blocked.lsr");
	expect_error(&r, 2, "unknown or incomplete option '--bogus'");
	RUN(&r, "flame", GOLDEN "blocked.lsr", "--kind", "heat");
	expect_error(&r, 2, "unknown kind 'heat'");
	RUN(&r, "flame", GOLDEN "blocked.lsr", "--format", "png");
	expect_error(&r, 2, "unknown format 'png'");
	RUN(&r, "flame", GOLDEN "blocked.lsr", "--width", "-3");
	expect_error(&r, 2, "'-3' is not a number for --width (100 to 100000 px)");
	RUN(&r, "flame", "--folded", "x", GOLDEN "blocked.lsr");
	expect_error(&r, 2, "--folded takes no recording");
}

TEST(bad_recordings_are_one_clear_line)
{
	char path[512], buf[1 << 16];
	struct res r;
	int fd;
	ssize_t n;

	setup();
	RUN(&r, "report", "/nonexistent/run.lsr");
	expect_error(&r, 1,
		     "cannot open recording '/nonexistent/run.lsr': No such file or directory");
	RUN(&r, "report", "/etc/hostname");
	expect_error(&r, 1, "cannot read recording '/etc/hostname': not a loopscope recording");
	RUN(&r, "report", "/tmp");
	/* a directory is read as the exporter's rotating recordings: this one has none */
	expect_error(&r, 1, "'/tmp' is a directory without rotating recordings");

	/* Corrupt: the first record's length is not a varint. */
	fd = open(GOLDEN "blocked.lsr", O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	snprintf(path, sizeof(path), "%s/input-corrupt.lsr", tmpdir);
	memset(buf + 8, 0xff, 10);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_EQ(write(fd, buf, n), n);
	close(fd);
	RUN(&r, "report", path);
	expect_error(&r, 1, "corrupt record at byte 8 (after 0 good records); the file is damaged");

	/* Newer major version. */
	buf[4] = 9;
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_EQ(write(fd, buf, 8), 8);
	close(fd);
	RUN(&r, "report", path);
	expect_error(&r, 1, "format 9.0 was written by a newer loopscope");
}

TEST(truncated_recording_is_read_with_a_warning)
{
	char path[512], buf[1 << 16];
	struct res r;
	ssize_t n;
	int fd;

	setup();
	fd = open(GOLDEN "blocked.lsr", O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	snprintf(path, sizeof(path), "%s/input-cut.lsr", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_EQ(write(fd, buf, n * 6 / 10), n * 6 / 10);
	close(fd);
	RUN(&r, "report", path);
	ASSERT_EQ(r.code, 0);
	ASSERT_TRUE(strstr(r.err, "loopscope: warning: recording") != NULL);
	ASSERT_TRUE(strstr(r.err, "is truncated at byte") != NULL);
	ASSERT_TRUE(strstr(r.out, "truncated (the process died") != NULL);
	ASSERT_TRUE(strstr(r.out, "blocked by synchronous calls") != NULL);
}

TEST(missing_data_names_the_capture_option)
{
	struct res r;

	setup();
	RUN(&r, "flame", GOLDEN "leaky.lsr");
	expect_error(&r, 1, "has no cpu samples (capture with --cpu-hz > 0)");
	RUN(&r, "flame", GOLDEN "leaky.lsr", "--kind", "live");
	expect_error(&r, 1, "has no live samples (capture with --heap sampled or full)");
}

TEST(bad_folded_input_names_the_line)
{
	char path[512];
	struct res r;
	FILE *f;

	setup();
	snprintf(path, sizeof(path), "%s/input.folded", tmpdir);
	f = fopen(path, "w");
	fputs("a;b 1\na;b;c 2\nthis is not folded\n", f);
	fclose(f);
	RUN(&r, "flame", "--folded", path);
	expect_error(&r, 1, "line 3 is not 'frame;frame;... count'");
}

TEST(outputs_appear_whole_or_not_at_all)
{
	char out[512], want[1 << 16];
	struct res r;

	setup();
	snprintf(out, sizeof(out), "%s/graph.svg", tmpdir);
	RUN(&r, "flame", GOLDEN "leaky.lsr", "-o", out);
	ASSERT_EQ(r.code, 1);
	ASSERT_EQ(entries(), 0);
	RUN(&r, "report", "/nonexistent.lsr", "-o", out);
	ASSERT_EQ(r.code, 1);
	ASSERT_EQ(entries(), 0);
	RUN(&r, "report", GOLDEN "blocked.lsr", "-o", "/nonexistent-dir/report.txt");
	expect_error(&r, 1,
		     "cannot write '/nonexistent-dir/report.txt': No such file or directory");

	RUN(&r, "report", GOLDEN "blocked.lsr", "--json", "-o", out);
	ASSERT_EQ(r.code, 0);
	ASSERT_STR_EQ(r.out, "");
	ASSERT_EQ(entries(), 1); /* the file, and no temporary beside it */
	slurp_into(out, r.out, sizeof(r.out));
	slurp_into(GOLDEN "blocked.report.json", want, sizeof(want));
	ASSERT_STR_EQ(r.out, want);
	unlink(out);
}

TEST_MAIN(TEST_ENTRY(golden_reports_and_folded_stacks),
	  TEST_ENTRY(the_diagnosis_names_what_each_shape_is),
	  TEST_ENTRY(help_version_and_usage_errors), TEST_ENTRY(bad_recordings_are_one_clear_line),
	  TEST_ENTRY(truncated_recording_is_read_with_a_warning),
	  TEST_ENTRY(missing_data_names_the_capture_option),
	  TEST_ENTRY(bad_folded_input_names_the_line),
	  TEST_ENTRY(outputs_appear_whole_or_not_at_all))
