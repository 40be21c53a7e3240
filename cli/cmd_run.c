/*
 * cmd_run.c — `loopscope run [options] -- CMD [ARGS...]`: runs CMD with the agent preloaded
 * (no root, no code change), forwards signals to it, waits, finalizes the recording (symbols,
 * the JIT perf map), prints a three-line summary and exits with CMD's status.
 *
 * The agent is configured through LOOPSCOPE_* variables (agent/README.md). LOOPSCOPE_TARGET_PID
 * names the process run started, so that children it forks or execs stay quiet unless
 * --follow-children. JS frames are named by the agent from V8's own objects, read from each
 * frame (agent/node_frames.c, agent/node_names.c): node
 * runs with no flag added (NODE_OPTIONS untouched). A perf map or isolate log
 * that a program writes under run (its own --perf-basic-prof) is removed afterwards, as before,
 * when it belongs to a process the agent listed in LOOPSCOPE_RUN_DIR.
 *
 * Key invariant: run removes nothing it did not create in this run. Its recording is removed only
 * while it is still the inode run created; a device or FIFO given as -o is never touched; a perf
 * map goes only when it is a regular file of the program's user written since the run started.
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
#include <sys/random.h>
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
	char self[PATH_MAX], *dir;
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
	dir = dirname(self); /* (once: it writes into self) */
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(out, cap, "%s/%s", dir, rel[i]);
		if (access(out, R_OK) == 0)
			return 0;
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

/* The program execvp() would run, found as it would find it: a name with a slash as is,
 * otherwise along PATH. Checked before the recording is created, so that a command that does not
 * exist leaves no file behind and no existing file emptied. */
static int command_exists(const char *cmd)
{
	const char *path = getenv("PATH"), *p, *colon;
	char full[PATH_MAX];
	struct stat st;

	if (strchr(cmd, '/'))
		return stat(cmd, &st) == 0;
	if (!*cmd)
		return 0;
	for (p = path && *path ? path : "/bin:/usr/bin"; p; p = colon ? colon + 1 : NULL) {
		size_t n;

		colon = strchr(p, ':');
		n = colon ? (size_t)(colon - p) : strlen(p);
		if (snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? p : ".", cmd) >=
		    (int)sizeof(full))
			continue;
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* Whether path is still the file this run created (same device and inode, a regular file, not
 * a link): the only kind of path run ever removes. */
static int still_ours(const char *path, const struct stat *made)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == made->st_dev &&
	       st.st_ino == made->st_ino;
}

/*
 * The run directory (LOOPSCOPE_RUN_DIR): the agent leaves an empty file named by its decimal PID
 * in it in every process it loads into (the processes of the run). It goes at the end, with
 * whatever is in it (it is ours: mkdtemp, mode 0700).
 */
static void sweep_run_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (!dir[0])
		return;
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	}
	if (d)
		closedir(d);
	if (rmdir(dir))
		lsc_warn("could not remove the run directory '%s': %s", dir, strerror(errno));
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The ranges the options take: what a user could mean, all inside what agent/config.c accepts. */
static const struct {
	int c;
	const char *name, *unit, *env;
	uint64_t min, max;
} numeric[] = {
	{'S', "--sample-interval", "bytes", "LOOPSCOPE_SAMPLE_INTERVAL", 1, 1ULL << 30},
	{'c', "--cpu-hz", "samples a second", "LOOPSCOPE_CPU_HZ", 0, 10000},
	{'b', "--block-threshold", "ms", "LOOPSCOPE_BLOCK_THRESHOLD_MS", 0, 3600000},
	{'w', "--window", "ms", "LOOPSCOPE_WINDOW_MS", 10, 3600000},
	{'J', "--js-heap-interval", "bytes", "LOOPSCOPE_JS_HEAP_INTERVAL", 0, 1ULL << 30},
};
#define NNUMERIC (sizeof(numeric) / sizeof(numeric[0]))

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"heap", required_argument, NULL, 'H'},
		{"sample-interval", required_argument, NULL, 'S'},
		{"js-heap-interval", required_argument, NULL, 'J'},
		{"cpu-hz", required_argument, NULL, 'c'},
		{"wall", no_argument, NULL, 'W'},
		{"block-threshold", required_argument, NULL, 'b'},
		{"window", required_argument, NULL, 'w'},
		{"follow-children", optional_argument, NULL, 'f'},
		{"no-follow-children", no_argument, NULL, 'F'},
		{"heap-snapshot-on", required_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	char agent[PATH_MAX], output[PATH_MAX], preload[PATH_MAX + 4096], perf[64];
	char rundir[64] = "";
	const char *out_arg = NULL, *heap = NULL, *numval[NNUMERIC] = {0}, *why = NULL, *cmd;
	static struct lsc_run_tree tree;
	static struct lsc_run_snap snap;
	char set_id[40] = "";
	int c, follow = -1, wall = 0, errpipe[2] = {-1, -1}, status = 0, exec_err = 0, fd,
	       created = 0, code;
	size_t i, added;
	enum lsc_out_kind kind;
	struct timespec start;
	struct stat made, st;
	struct sigaction sa;
	uint64_t num;
	pid_t pid = -1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		const char *v = optarg;

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
		case 'J':
			for (i = 0; numeric[i].c != c; i++)
				;
			if (lsc_cli_parse_num("run", numeric[i].name, v, numeric[i].min,
					      numeric[i].max, numeric[i].unit, &num))
				return LSC_EXIT_USAGE;
			numval[i] = v;
			break;
		case 'W':
			wall = 1;
			break;
		case 'f':
			if (v && strcmp(v, "all") && strcmp(v, "node"))
				return lsc_usage_error(
					"run", "--follow-children takes all or node, not '%s'", v);
			follow = v && !strcmp(v, "node") ? 2 : 1;
			break;
		case 'F':
			follow = 0;
			break;
		case 'N':
			if (lsc_run_snap_option(v, &snap))
				return LSC_EXIT_USAGE;
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
	cmd = argv[optind];
	if (find_agent(agent, sizeof(agent)))
		return lsc_fail("cannot find the agent 'libloopscope_agent.so' next to loopscope; "
				"set LOOPSCOPE_AGENT to its path");
	if (out_arg) {
		snprintf(output, sizeof(output), "%s", out_arg);
	} else {
		char name[256], stamp[32];
		time_t now = time(NULL);

		snprintf(name, sizeof(name), "%s", cmd);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&now));
		snprintf(output, sizeof(output), "%s-%s.lsr", basename(name), stamp);
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
	if (!command_exists(cmd))
		return lsc_fail("cannot run '%s': command not found", cmd), 127;
	if (lsc_run_snap_wanted(&snap) && !is_node(cmd))
		return lsc_usage_error("run",
				       "--heap-snapshot-on is for Node.js programs (V8 writes the "
				       "snapshots), and '%s' is not node",
				       cmd);
	/*
	 * The recording. A new path is created here with O_EXCL | O_NOFOLLOW: it is then this run's
	 * own, the only kind of path run removes on failure (and in a sticky /tmp no other user can
	 * swap it before the agent opens it). An existing regular file is emptied, not replaced
	 * (the agent appends to it). A device or FIFO (/dev/null) is the agent's to write: never
	 * created, truncated, read back or removed. Links are refused as lsc__out_classify says.
	 */
	c = lsc__out_classify(output, &kind, &why);
	if (c)
		return lsc_fail("cannot create recording '%s': %s", output,
				why ? why : strerror(-c));
	/* A Node program's Node children (cluster workers, child_process.fork) are followed by
	 * default; into REC.PID files beside a regular file only. */
	if (follow < 0)
		follow = is_node(cmd) && kind != LSC_OUT_INPLACE ? 2 : 0;
	if (kind == LSC_OUT_INPLACE && follow)
		return lsc_usage_error(
			"run",
			"--follow-children needs a file for -o, not the device or FIFO "
			"'%s' (each child records to REC.PID beside it)",
			output);
	if (kind == LSC_OUT_NEW) {
		fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		created = fd >= 0;
	} else if (kind == LSC_OUT_REGULAR) {
		fd = open(output, O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	} else {
		fd = -2;
	}
	if (fd == -1)
		return lsc_fail("cannot create recording '%s': %s", output, strerror(errno));
	if (fd >= 0) {
		if (fstat(fd, &made) || !S_ISREG(made.st_mode) ||
		    (kind == LSC_OUT_REGULAR && ftruncate(fd, 0))) {
			int e = errno ? errno : EPERM;

			close(fd);
			if (created && still_ours(output, &made))
				unlink(output);
			return lsc_fail("cannot create recording '%s': %s", output, strerror(e));
		}
		close(fd);
	}
	/* The run directory: private (0700), in /tmp; its mtime is the run's start (a perf map the
	 * program writes itself, with its own --perf-basic-prof, is used for names only when it was
	 * written since). */
	snprintf(rundir, sizeof(rundir), "/tmp/loopscope-run-XXXXXX");
	if (!mkdtemp(rundir) || lstat(rundir, &st)) {
		int e = errno;

		rundir[0] = 0;
		if (created && still_ours(output, &made))
			unlink(output);
		return lsc_fail("cannot create the run directory in '/tmp': %s", strerror(e));
	}
	start = st.st_mtim;
	if (kind == LSC_OUT_INPLACE && lsc_run_snap_wanted(&snap)) {
		code = lsc_usage_error("run",
				       "--heap-snapshot-on writes beside the recording: it needs a "
				       "file for -o, not '%s'",
				       output);
		goto fail;
	}
	if (lsc_run_snap_prepare(&snap, output, rundir)) {
		code = LSC_EXIT_FAIL;
		goto fail;
	}
	if (pipe2(errpipe, O_CLOEXEC)) {
		code = lsc_fail("cannot start '%s': %s", cmd, strerror(errno));
		goto fail;
	}

	if (follow) { /* the set's id: the followers' recordings carry it (docs/format.md) */
		uint64_t r[2] = {0, 0};
		struct timespec now;

		if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
			clock_gettime(CLOCK_REALTIME, &now);
			r[0] = (uint64_t)now.tv_nsec ^ ((uint64_t)getpid() << 32);
		}
		snprintf(set_id, sizeof(set_id), "%016llx%016llx", (unsigned long long)r[0],
			 (unsigned long long)r[1]);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		code = lsc_fail("cannot start '%s': %s", cmd, strerror(errno));
		pid = -1;
		goto fail;
	}
	if (pid == 0) {
		const char *old = getenv("LD_PRELOAD");
		char mypid[32], noheap[PATH_MAX];

		close(errpipe[0]);
		snprintf(preload, sizeof(preload), "%s%s%.4000s",
			 agent_for(agent, heap, noheap, sizeof(noheap)), old ? ":" : "",
			 old ? old : "");
		setenv("LD_PRELOAD", preload, 1);
		setenv("LOOPSCOPE_OUTPUT", output, 1);
		setenv("LOOPSCOPE_RUN_DIR", rundir, 1);
		snprintf(mypid, sizeof(mypid), "%d", (int)getpid());
		setenv("LOOPSCOPE_TARGET_PID", mypid, 1);
		if (heap)
			setenv("LOOPSCOPE_HEAP", heap, 1);
		for (i = 0; i < NNUMERIC; i++)
			if (numval[i])
				setenv(numeric[i].env, numval[i], 1);
		if (follow)
			setenv("LOOPSCOPE_FOLLOW_CHILDREN", follow == 2 ? "node" : "1", 1);
		if (set_id[0])
			setenv("LOOPSCOPE_SET_ID", set_id, 1);
		if (wall)
			setenv("LOOPSCOPE_WALL", "1", 1);
		lsc_run_snap_env(&snap);
		execvp(cmd, argv + optind);
		exec_err = errno;
		if (write(errpipe[1], &exec_err, sizeof(exec_err)) < 0) {
			/* the parent then sees exit status 127 */
		}
		_exit(127);
	}
	child = pid;
	close(errpipe[1]);
	errpipe[1] = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 6; i++)
		sigaction((int[]){SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}[i], &sa,
			  NULL);
	if (read(errpipe[0], &exec_err, sizeof(exec_err)) == sizeof(exec_err)) {
		waitpid(pid, &status, 0);
		child = -1;
		code = exec_err == ENOENT
			       ? (lsc_fail("cannot run '%s': command not found", cmd), 127)
			       : (lsc_fail("cannot run '%s': %s", cmd, strerror(exec_err)), 126);
		goto fail;
	}
	close(errpipe[0]);
	errpipe[0] = -1;
	if (follow)
		lsc_run_wait(pid, &status, &tree);
	else
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	child = -1;
	code = exit_code(status);

	if (kind == LSC_OUT_INPLACE) {
		/* Written where it is; nothing to read back, symbolize or remove. */
		sweep_run_dir(rundir);
		fprintf(stderr,
			"loopscope: '%s' %s; the recording went to '%s' (not a regular "
			"file: not symbolized, no summary)\n",
			cmd, WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited", output);
		return code;
	}
	if (lstat(output, &st) || st.st_size == 0) {
		lsc_fail("'%s' ran, but the agent recorded nothing (a static or setuid program "
			 "ignores LD_PRELOAD)",
			 cmd);
		goto fail;
	}
	/* Finalize: name the frames while the binaries (and node's perf map) are still here. */
	if (lsc_recording_symbolize(output,
				    lsc_cli_perf_map((unsigned)pid, geteuid(),
						     (uint64_t)start.tv_sec * 1000000000ULL +
							     (uint64_t)start.tv_nsec,
						     perf, sizeof(perf))
					    ? perf
					    : NULL,
				    NULL, &added))
		lsc_warn("could not add symbols to '%s'; 'loopscope symbolize' can retry", output);
	if (follow) {
		size_t n;

		lsc_run_wait_descendants(&tree, 5);
		n = lsc_run_finish_set(output, set_id, follow, &tree);
		if (n)
			fprintf(stderr,
				"loopscope: %zu child process%s recorded too (%s.PID beside it: "
				"'loopscope report %s' reads them together)\n",
				n, n == 1 ? "" : "es", output, output);
	}
	lsc_run_snap_finish(&snap, output, rundir, &start);
	sweep_run_dir(rundir);

	lsc_cli_summary(output, cmd, "ran",
			WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
	return code;
fail:
	/* Only what this run created goes: never a path that was there before (/dev/null). */
	if (errpipe[0] >= 0)
		close(errpipe[0]);
	if (errpipe[1] >= 0)
		close(errpipe[1]);
	if (created && still_ours(output, &made))
		unlink(output);
	sweep_run_dir(rundir);
	return code;
}
