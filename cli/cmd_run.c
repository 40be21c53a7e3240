/*
 * cmd_run.c — `loopscope run [options] -- CMD [ARGS...]`: runs CMD with the agent preloaded
 * (no root, no code change), forwards signals to it, waits, finalizes the recording (symbols,
 * the JIT perf map), prints a three-line summary and exits with CMD's status.
 *
 * The agent is configured through LOOPSCOPE_* variables (agent/README.md). LOOPSCOPE_TARGET_PID
 * names the process run started, so that children it forks or execs stay quiet unless
 * --follow-children. When CMD is node, --perf-basic-prof --interpreted-frames-native-stack go into
 * NODE_OPTIONS so JS frames have names; the perf map and isolate logs that causes are removed
 * afterwards.
 */
#include "cli.h"
#include "lsc_render.h"
#include "lsc_report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child = -1;

static void forward(int sig, siginfo_t *si, void *uc)
{
	/* A terminal's Ctrl-C or Ctrl-\ already reached the whole process group. */
	if ((sig == SIGINT || sig == SIGQUIT) && si && si->si_code == SI_KERNEL)
		return;
	if (child > 0)
		kill(child, sig);
}

static int find_agent(char *out, size_t cap)
{
	const char *env = getenv("LOOPSCOPE_AGENT");
	static const char *rel[] = {"libloopscope_agent.so",
				    "../lib/loopscope/libloopscope_agent.so"};
	char self[PATH_MAX];
	ssize_t n;
	size_t i;

	if (env) {
		snprintf(out, cap, "%s", env);
		return access(out, R_OK) == 0 ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = 0;
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(out, cap, "%s/%s", dirname(self), rel[i]);
		if (access(out, R_OK) == 0)
			return 0;
		self[n] = 0; /* dirname() wrote into it */
	}
	return -ENOENT;
}

/* --heap off preloads the agent built without the malloc family (AGENT_noheap.so), when it is
 * there: the program's malloc and free are then glibc's own, untouched. */
static const char *agent_for(const char *agent, const char *heap, char *buf, size_t cap)
{
	const char *mode = heap ? heap : getenv("LOOPSCOPE_HEAP");
	size_t n = strlen(agent);

	if (!mode || strcmp(mode, "off") || n < 3 || strcmp(agent + n - 3, ".so") ||
	    snprintf(buf, cap, "%.*s_noheap.so", (int)(n - 3), agent) >= (int)cap ||
	    access(buf, R_OK))
		return agent;
	return buf;
}

static int is_node(const char *cmd)
{
	const char *b = strrchr(cmd, '/');

	b = b ? b + 1 : cmd;
	return strncmp(b, "node", 4) == 0 &&
	       (b[4] == 0 || b[4] == '.' || (b[4] >= '0' && b[4] <= '9'));
}

/* isolate-*.log files in the working directory, to remove the ones the run created. */
static size_t list_isolate_logs(char names[][256], size_t cap)
{
	DIR *d = opendir(".");
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)) && n < cap)
		if (!strncmp(e->d_name, "isolate-", 8) && strstr(e->d_name, ".log"))
			snprintf(names[n++], 256, "%s", e->d_name);
	if (d)
		closedir(d);
	return n;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"heap", required_argument, NULL, 'H'},
		{"sample-interval", required_argument, NULL, 'S'},
		{"cpu-hz", required_argument, NULL, 'c'},
		{"wall", no_argument, NULL, 'W'},
		{"block-threshold", required_argument, NULL, 'b'},
		{"window", required_argument, NULL, 'w'},
		{"follow-children", no_argument, NULL, 'f'},
		{"no-js-symbols", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static char isolate_before[256][256], isolate_after[256][256];
	char agent[PATH_MAX], output[PATH_MAX], preload[PATH_MAX + 4096], perf[64], nodeopts[8192];
	const char *out_arg = NULL, *heap = NULL, *interval = NULL, *hz = NULL, *thr = NULL,
		   *win = NULL;
	int c, follow = 0, wall = 0, js = 1, errpipe[2], status = 0, exec_err = 0, fd;
	size_t nbefore = 0, nafter, i, k, added;
	struct sigaction sa;
	pid_t pid;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		const char *v = optarg;
		char *end;

		switch (c) {
		case 'o':
			out_arg = v;
			break;
		case 'H':
			if (strcmp(v, "off") && strcmp(v, "sampled") && strcmp(v, "full"))
				return lsc_usage_error(
					"run", "--heap takes off, sampled or full, not '%s'", v);
			heap = v;
			break;
		case 'S':
		case 'c':
		case 'b':
		case 'w':
			if (!*v || *v == '-' || (strtoull(v, &end, 10), *end))
				return lsc_usage_error("run", "'%s' is not a number for --%s", v,
						       c == 'S'	  ? "sample-interval"
						       : c == 'c' ? "cpu-hz"
						       : c == 'b' ? "block-threshold"
								  : "window");
			*(c == 'S' ? &interval : c == 'c' ? &hz : c == 'b' ? &thr : &win) = v;
			break;
		case 'W':
			wall = 1;
			break;
		case 'f':
			follow = 1;
			break;
		case 'n':
			js = 0;
			break;
		case 'h':
			return lsc_help("run");
		default:
			return lsc_usage_error("run", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return lsc_usage_error("run",
				       "no command given (loopscope run [options] -- CMD ...)");
	if (find_agent(agent, sizeof(agent)))
		return lsc_fail("cannot find the agent 'libloopscope_agent.so' next to loopscope; "
				"set LOOPSCOPE_AGENT to its path");
	if (out_arg) {
		snprintf(output, sizeof(output), "%s", out_arg);
	} else {
		char cmd[256], stamp[32];
		time_t now = time(NULL);

		snprintf(cmd, sizeof(cmd), "%s", argv[optind]);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&now));
		snprintf(output, sizeof(output), "%s-%s.lsr", basename(cmd), stamp);
	}
	/* An absolute path: the program may chdir. Created here, so a failure is ours to say. */
	if (output[0] != '/') {
		char cwd[PATH_MAX], tmp[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return lsc_fail("cannot find the working directory: %s", strerror(errno));
		snprintf(tmp, sizeof(tmp), "%s", output);
		if (snprintf(output, sizeof(output), "%s/%s", cwd, tmp) >= (int)sizeof(output))
			return lsc_fail("cannot create recording '%s': the path is too long", tmp);
	}
	fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return lsc_fail("cannot create recording '%s': %s", output, strerror(errno));
	close(fd);
	if (js && is_node(argv[optind]))
		nbefore = list_isolate_logs(isolate_before, 256);
	if (pipe2(errpipe, O_CLOEXEC))
		return lsc_fail("cannot start '%s': %s", argv[optind], strerror(errno));

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return lsc_fail("cannot start '%s': %s", argv[optind], strerror(errno));
	if (pid == 0) {
		const char *old = getenv("LD_PRELOAD"), *nopt = getenv("NODE_OPTIONS");
		char mypid[32], noheap[PATH_MAX];

		close(errpipe[0]);
		snprintf(preload, sizeof(preload), "%s%s%.4000s",
			 agent_for(agent, heap, noheap, sizeof(noheap)), old ? ":" : "",
			 old ? old : "");
		setenv("LD_PRELOAD", preload, 1);
		setenv("LOOPSCOPE_OUTPUT", output, 1);
		snprintf(mypid, sizeof(mypid), "%d", (int)getpid());
		setenv("LOOPSCOPE_TARGET_PID", mypid, 1);
		if (heap)
			setenv("LOOPSCOPE_HEAP", heap, 1);
		if (interval)
			setenv("LOOPSCOPE_SAMPLE_INTERVAL", interval, 1);
		if (hz)
			setenv("LOOPSCOPE_CPU_HZ", hz, 1);
		if (thr)
			setenv("LOOPSCOPE_BLOCK_THRESHOLD_MS", thr, 1);
		if (win)
			setenv("LOOPSCOPE_WINDOW_MS", win, 1);
		if (follow)
			setenv("LOOPSCOPE_FOLLOW_CHILDREN", "1", 1);
		if (wall)
			setenv("LOOPSCOPE_WALL", "1", 1);
		if (js && is_node(argv[optind])) {
			snprintf(nodeopts, sizeof(nodeopts),
				 "%.4000s%s--perf-basic-prof --interpreted-frames-native-stack",
				 nopt ? nopt : "", nopt ? " " : "");
			setenv("NODE_OPTIONS", nodeopts, 1);
		}
		execvp(argv[optind], argv + optind);
		exec_err = errno;
		if (write(errpipe[1], &exec_err, sizeof(exec_err)) < 0) {
			/* the parent then sees exit status 127 */
		}
		_exit(127);
	}
	child = pid;
	close(errpipe[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 6; i++)
		sigaction((int[]){SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}[i], &sa,
			  NULL);
	if (read(errpipe[0], &exec_err, sizeof(exec_err)) == sizeof(exec_err)) {
		waitpid(pid, &status, 0);
		unlink(output);
		return exec_err == ENOENT
			       ? (lsc_fail("cannot run '%s': command not found", argv[optind]), 127)
			       : (lsc_fail("cannot run '%s': %s", argv[optind], strerror(exec_err)),
				  126);
	}
	close(errpipe[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child = -1;

	/* Finalize: name the frames while the binaries (and node's perf map) are still here. */
	snprintf(perf, sizeof(perf), "/tmp/perf-%d.map", (int)pid);
	{
		struct stat st;

		if (stat(output, &st) || st.st_size == 0) {
			unlink(output);
			lsc_fail("'%s' ran, but the agent recorded nothing (a static or setuid "
				 "program ignores LD_PRELOAD)",
				 argv[optind]);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
	}
	if (lsc_recording_symbolize(output, access(perf, R_OK) == 0 ? perf : NULL, NULL, &added))
		lsc_warn("could not add symbols to '%s'; 'loopscope symbolize' can retry", output);
	if (js && is_node(argv[optind])) {
		unlink(perf);
		nafter = list_isolate_logs(isolate_after, 256);
		for (i = 0; i < nafter; i++) {
			for (k = 0; k < nbefore && strcmp(isolate_before[k], isolate_after[i]); k++)
				;
			if (k == nbefore)
				unlink(isolate_after[i]);
		}
	}
	lsc_cli_summary(output, argv[optind], "ran",
			WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
