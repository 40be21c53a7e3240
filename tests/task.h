/*
 * task.h — loopscope's in-tree test harness (in the spirit of libuv's test/task.h).
 *
 * A test binary declares cases with TEST(name) and lists them in TEST_LIST. Run with a case name,
 * it runs that case alone (this is how ctest runs each case as its own test); run with no
 * arguments, it runs every case, each in a forked child, and ends with "N passed, N failed".
 * A failed check prints the expression and both operands, then ends the case with exit(1).
 * Every case runs under a watchdog (alarm), so a hung loop fails instead of stalling the suite,
 * in a process group of its own, killed when the case ends: what it left running (a case that
 * failed before it could stop its programs) does not load the machine for the cases after it.
 */
#ifndef LSC_TASK_H
#define LSC_TASK_H

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct lsc_test {
	const char *name;
	void (*fn)(void);
};

#define TEST(name) static void test_##name(void)
#define TEST_ENTRY(name)                                                                           \
	{                                                                                          \
#name, test_##name                                                                 \
	}

#define LSC_FAIL(...)                                                                              \
	do {                                                                                       \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		exit(1);                                                                           \
	} while (0)

/* Integer comparison, both sides shown: ASSERT_CMP(got, >=, 28). */
#define ASSERT_CMP(a, op, b)                                                                       \
	do {                                                                                       \
		long double lsc_a_ = (long double)(a), lsc_b_ = (long double)(b);                  \
		if (!(lsc_a_ op lsc_b_))                                                           \
			LSC_FAIL("ASSERT_CMP(%s %s %s) failed: %.6Lg %s %.6Lg", #a, #op, #b,       \
				 lsc_a_, #op, lsc_b_);                                             \
	} while (0)
#define ASSERT_EQ(a, b) ASSERT_CMP(a, ==, b)
#define ASSERT_TRUE(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			LSC_FAIL("ASSERT_TRUE(%s) failed", #c);                                    \
	} while (0)
#define ASSERT_OK(e)                                                                               \
	do {                                                                                       \
		long lsc_e_ = (long)(e);                                                           \
		if (lsc_e_ != 0)                                                                   \
			LSC_FAIL("ASSERT_OK(%s) failed: %ld (%s)", #e, lsc_e_,                     \
				 lsc_e_ < 0 ? strerror((int)-lsc_e_) : "not an errno");            \
	} while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *lsc_a_ = (a), *lsc_b_ = (b);                                           \
		if (!lsc_a_ || !lsc_b_ || strcmp(lsc_a_, lsc_b_))                                  \
			LSC_FAIL("ASSERT_STR_EQ(%s, %s) failed: \"%s\" vs \"%s\"", #a, #b,         \
				 lsc_a_ ? lsc_a_ : "(null)", lsc_b_ ? lsc_b_ : "(null)");          \
	} while (0)

#ifndef LSC_TEST_TIMEOUT
#define LSC_TEST_TIMEOUT 60
#endif

static int lsc_run_one(const struct lsc_test *t)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		alarm(LSC_TEST_TIMEOUT);
		t->fn();
		fflush(NULL);
		_exit(0);
	}
	if (pid < 0)
		return 0;
	setpgid(pid, pid); /* whichever runs first */
	if (waitpid(pid, &status, 0) < 0)
		return 0;
	/* what the case started and left behind (it failed, or its watchdog fired, before it
	 * could stop them): a spinning app would slow every case after it */
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: killed by signal %d%s\n", t->name, WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? " (watchdog: the case hung)" : "");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int lsc_test_main(int argc, char **argv, const struct lsc_test *tests, size_t n)
{
	size_t i, passed = 0, failed = 0;

	for (i = 0; i < n; i++) {
		int ok;

		if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		ok = lsc_run_one(&tests[i]);
		printf("%s %s\n", ok ? "ok" : "not ok", tests[i].name);
		ok ? passed++ : failed++;
	}
	if (passed + failed == 0) {
		fprintf(stderr, "%s: no test case named '%s'\n", argv[0], argc > 1 ? argv[1] : "");
		return 2;
	}
	printf("%zu passed, %zu failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                                             \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		static const struct lsc_test lsc_tests_[] = {__VA_ARGS__};                         \
		return lsc_test_main(argc, argv, lsc_tests_,                                       \
				     sizeof(lsc_tests_) / sizeof(lsc_tests_[0]));                  \
	}

#endif
