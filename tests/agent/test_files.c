/*
 * test_files.c — the agent, often root, never writes through a link or into a file that is not
 * its run's: the recording (and a child's OUTPUT.PID, opened by the same rule) is created with
 * O_EXCL|O_NOFOLLOW, and an existing one is appended to only when it is a regular file with one
 * link, owned by this user. Every process the agent loads into names itself in LOOPSCOPE_RUN_DIR.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"

#include <sys/stat.h>

/* /bin/true with the agent preloaded by hand, recording to out; its stderr comes back. */
static void preload_true(const char *out, struct proc *p)
{
	char preload[600], output[600];
	const char *argv[] = {"/usr/bin/env", preload, output, "/bin/true", NULL};

	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", built("libloopscope_agent.so"));
	snprintf(output, sizeof(output), "LOOPSCOPE_OUTPUT=%s", out);
	proc_run(p, argv, 30, NULL);
	ASSERT_EQ(p->status, 0); /* the program itself is never disturbed */
}

static void assert_untouched(const char *file, const char *content)
{
	char buf[256];

	slurp(file, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, content);
}

static void plant(const char *file, const char *content)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

TEST(recording_is_never_written_through_a_link_or_into_a_foreign_file)
{
	struct proc p;
	struct stat st;

	capture_setup("files");
	/* a planted symbolic link: refused, its target untouched */
	plant(path("target"), "precious\n");
	ASSERT_OK(symlink(path("target"), path("link.lsr")));
	preload_true(path("link.lsr"), &p);
	assert_untouched(path("target"), "precious\n");
	ASSERT_TRUE(strstr(p.err, "not this run's") != NULL);
	/* a hard link to someone's file (two links): refused */
	ASSERT_OK(link(path("target"), path("hard.lsr")));
	preload_true(path("hard.lsr"), &p);
	assert_untouched(path("target"), "precious\n");
	ASSERT_TRUE(strstr(p.err, "not this run's") != NULL);
	/* another user's file: refused */
	plant(path("nobody.lsr"), "theirs\n");
	ASSERT_OK(chown(path("nobody.lsr"), 65534, 65534));
	preload_true(path("nobody.lsr"), &p);
	assert_untouched(path("nobody.lsr"), "theirs\n");
	/* a new path: created, a recording */
	preload_true(path("new.lsr"), &p);
	ASSERT_OK(lstat(path("new.lsr"), &st));
	ASSERT_TRUE(S_ISREG(st.st_mode));
	ASSERT_CMP(st.st_size, >, 0);
	lsc_recording_free(read_rec(path("new.lsr")));
}

TEST(every_process_names_itself_in_the_run_dir)
{
	char preload[600], output[600], dir[600], expect[32], cmd[256];
	const char *argv[] = {"/usr/bin/env", preload, output, dir, "/bin/sh", "-c", cmd, NULL};
	struct proc p;
	struct stat st;

	capture_setup("files");
	mkdir(path("run"), 0700);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", built("libloopscope_agent.so"));
	snprintf(output, sizeof(output), "LOOPSCOPE_OUTPUT=%s", path("rec.lsr"));
	snprintf(dir, sizeof(dir), "LOOPSCOPE_RUN_DIR=%s", path("run"));
	/* the shell and a child that prints its own PID */
	snprintf(cmd, sizeof(cmd), "echo $$; /bin/sh -c 'echo $$'");
	proc_run(&p, argv, 30, path("pids"));
	ASSERT_EQ(p.status, 0);
	{
		char pids[64], *second;

		slurp(path("pids"), pids, sizeof(pids));
		second = strchr(pids, '\n');
		ASSERT_TRUE(second != NULL);
		*second++ = 0;
		snprintf(expect, sizeof(expect), "run/%d", atoi(pids));
		ASSERT_OK(stat(path(expect), &st));
		snprintf(expect, sizeof(expect), "run/%d", atoi(second));
		ASSERT_OK(stat(path(expect), &st));
	}
}

TEST_MAIN(TEST_ENTRY(recording_is_never_written_through_a_link_or_into_a_foreign_file),
	  TEST_ENTRY(every_process_names_itself_in_the_run_dir))
