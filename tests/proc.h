/*
 * proc.h — running a program from a test: argv in, exit status and stderr out, killed (and the
 * case failed) when it outlives its time limit. Stdout goes to a file the caller may read. Or in
 * the background (proc_spawn), waited for later (proc_wait).
 */
#ifndef LSC_PROC_H
#define LSC_PROC_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

struct proc {
	int status;
	char err[8192];
};

static double proc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void proc_run(struct proc *p, const char *const *argv, double limit_s, const char *out_path)
{
	double deadline = proc_now() + limit_s;
	size_t len = 0;
	int errp[2];
	pid_t pid;

	memset(p, 0, sizeof(*p));
	ASSERT_OK(pipe2(errp, O_CLOEXEC));
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(o, 1);
		dup2(errp[1], 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(errp[1]);
	for (;;) {
		struct pollfd pf = {errp[0], POLLIN, 0};
		int left = (int)((deadline - proc_now()) * 1000);
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &p->status, 0);
			LSC_FAIL("%s did not finish within %.0f s", argv[0], limit_s);
		}
		if (poll(&pf, 1, left) <= 0)
			continue;
		n = read(errp[0], p->err + len, sizeof(p->err) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(errp[0]);
	p->err[len] = 0;
	while (waitpid(pid, &p->status, 0) < 0 && errno == EINTR)
		;
}
/* Starts argv in the background, stdout and stderr to files, env (NAME=value) added; its pid. */
static __attribute__((unused)) pid_t proc_spawn(const char *const *argv, const char *out,
						const char *err, const char *env)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(o, 1);
		dup2(e, 2);
		if (env)
			putenv((char *)env);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Its exit status; killed (and the case failed) when it outlives secs. */
static __attribute__((unused)) int proc_wait(pid_t pid, double secs)
{
	double deadline = proc_now() + secs;
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		struct timespec step = {0, 20000000};

		if (proc_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			LSC_FAIL("process %d outlived %.0f s", (int)pid, secs);
		}
		nanosleep(&step, NULL);
	}
	return status;
}

#endif
