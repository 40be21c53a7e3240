/*
 * attach_run.h — running `loopscope attach` from a test (tests/bpf): waiting for a line in a
 * file, and attaching to a target until attach says it is in place. Needs task.h, proc.h,
 * capture.h.
 */
#ifndef LSC_TEST_ATTACH_RUN_H
#define LSC_TEST_ATTACH_RUN_H

#include <signal.h>
#include <time.h>

/* Waits until file contains text (the target or attach says where it is), at most secs. */
static __attribute__((unused)) void wait_text(const char *file, const char *text, double secs)
{
	double deadline = proc_now() + secs;
	char buf[65536];

	for (;;) {
		int fd = open(file, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		if (strstr(buf, text))
			return;
		if (proc_now() > deadline)
			LSC_FAIL("'%s' never appeared in %s: %s", text, file, buf);
		struct timespec step = {0, 20000000};
		nanosleep(&step, NULL);
	}
}

/* Attaches to pid (recording rec, until the target exits); returns attach's pid once in place. */
/* extra: more options for attach, NULL-terminated; NULL for none. */
static __attribute__((unused)) pid_t attach(int target, const char *rec, const char *log,
					    const char *const *extra)
{
	static char pidarg[16];
	const char *argv[16] = {LSC_BUILD_DIR "/loopscope", "attach", "-p", pidarg, "-o", rec};
	int n = 6;
	pid_t a;

	snprintf(pidarg, sizeof(pidarg), "%d", target);
	while (extra && *extra && n < 15)
		argv[n++] = *extra++;
	argv[n] = NULL;
	unlink(log);
	a = proc_spawn(argv, path("attach.out"), log, NULL);
	wait_text(log, "loopscope: attached to PID", 30);
	return a;
}

/* The line of "function NAME(" in the script file (its ground truth for a JS frame's line); 0
 * when it is not there. */
static __attribute__((unused)) int function_line(const char *file, const char *name)
{
	static char buf[65536];
	char want[160];
	const char *p = slurp(file, buf, sizeof(buf)), *at;
	int line = 1;

	snprintf(want, sizeof(want), "function %s(", name);
	at = strstr(p, want);
	if (!at)
		return 0;
	for (; p < at; p++)
		line += *p == '\n';
	return line;
}

#endif
