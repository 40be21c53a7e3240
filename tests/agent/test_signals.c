/*
 * test_signals.c — the agent keeps a program's signals and exec exactly as they are without it.
 *
 * Each case runs the same program twice, alone and under `loopscope run`, and requires the same
 * exit status and output; where a signal ends the program, the same time from the kill to the
 * program's exit (±200 ms, measured on the program's own process through a pidfd, not on
 * loopscope's finalize), and a recording that is complete: readable, with its last window
 * reaching the moment of the kill.
 */
/* fifty exec chains in --heap full take a minute on a busy 2-core machine */
#define LSC_TEST_TIMEOUT 280
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "lsc_recording.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* `loopscope run`'s child: the program. */
static pid_t child_of(pid_t parent, double limit_s)
{
	double deadline = proc_now() + limit_s;
	char f[64], buf[64];

	snprintf(f, sizeof(f), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	while (proc_now() < deadline) {
		FILE *in = fopen(f, "r");
		int pid = 0;

		if (in) {
			if (fgets(buf, sizeof(buf), in))
				pid = atoi(buf);
			fclose(in);
		}
		if (pid > 0)
			return pid;
		usleep(5000);
	}
	LSC_FAIL("no child of %d within %.0f s", (int)parent, limit_s);
}

/* Ready: the main thread waits in epoll (the loop is up and idle). */
static void wait_in_epoll(pid_t pid, double limit_s)
{
	double deadline = proc_now() + limit_s;
	char f[64], buf[64];

	snprintf(f, sizeof(f), "/proc/%d/wchan", (int)pid);
	while (proc_now() < deadline) {
		FILE *in = fopen(f, "r");
		int ok = 0;

		if (in) {
			ok = fgets(buf, sizeof(buf), in) && strstr(buf, "epoll");
			fclose(in);
		}
		if (ok)
			return;
		usleep(5000);
	}
	LSC_FAIL("%d did not wait in epoll within %.0f s", (int)pid, limit_s);
}

static int also_run; /* the signal goes to `loopscope run` too (pkill -f, a process group) */

struct outcome {
	int status;	/* as a shell reports it: the exit code, or 128 + the signal */
	double exit_ms; /* from the kill to the program's exit */
	uint64_t kill_ns;
	char out[4096];
};

/*
 * Runs argv (alone, or under `loopscope run -o rec --window 200`), waits until the program's main
 * thread waits in epoll (after ready_ms more, if given), sends sig (0: none) and measures when the
 * program itself exits.
 */
static void run_once(const char *const *argv, const char *rec, int sig, int ready_ms,
		     struct outcome *o)
{
	const char *full[32] = {built("loopscope"), "run", "-o", rec, "--window", "200", "--"};
	const char *const *use = argv;
	char outf[512];
	int n = 7, i, st, pidfd = -1;
	pid_t top, target = 0;

	memset(o, 0, sizeof(*o));
	if (rec) {
		for (i = 0; argv[i] && n < 31; i++)
			full[n++] = argv[i];
		full[n] = NULL;
		use = full;
		unlink(rec);
	}
	snprintf(outf, sizeof(outf), "%s.out", rec ? rec : path("plain"));
	fflush(NULL);
	top = fork();
	if (top == 0) {
		int fd = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		execvp(use[0], (char *const *)use);
		_exit(127);
	}
	if (sig) {
		target = rec ? child_of(top, 10) : top;
		pidfd = (int)syscall(SYS_pidfd_open, target, 0);
		ASSERT_CMP(pidfd, >=, 0);
		wait_in_epoll(target, 20);
		if (ready_ms)
			usleep((useconds_t)ready_ms * 1000);
		o->kill_ns = now_ns();
		ASSERT_OK(kill(target, sig));
		if (also_run && rec) /* run forwards it: the program gets it twice, at once */
			ASSERT_OK(kill(top, sig));
		{
			struct pollfd p = {pidfd, POLLIN, 0};

			if (poll(&p, 1, 10000) != 1) {
				kill(target, SIGKILL);
				LSC_FAIL("%s did not exit within 10 s of signal %d%s", argv[0], sig,
					 rec ? " under the agent" : "");
			}
		}
		o->exit_ms = (double)(now_ns() - o->kill_ns) / 1e6;
		close(pidfd);
	}
	while (waitpid(top, &st, 0) < 0 && errno == EINTR)
		;
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(outf, o->out, sizeof(o->out));
}

/* The recording is whole: readable to its end, and its main loop's last window reaches the kill
 * (a window is 200 ms; the one cut by the signal ends where the loop last returned). */
static void recording_complete(const char *rec, const struct outcome *o, int loop)
{
	struct lsc_recording *r = read_rec(rec);
	uint32_t main_tid = lsc_recording_main_loop(r);
	uint64_t last_end = 0;
	size_t i;

	ASSERT_EQ(r->info.truncated, 0);
	ASSERT_TRUE(r->header != NULL);
	if (!loop) { /* not a libuv program: readable is all there is to ask */
		lsc_recording_free(r);
		return;
	}
	for (i = 0; i < r->nwindows; i++)
		if (r->windows[i]->loop_tid == main_tid &&
		    r->windows[i]->start_ns + r->windows[i]->length_ns > last_end)
			last_end = r->windows[i]->start_ns + r->windows[i]->length_ns;
	ASSERT_CMP(r->nwindows, >, 0);
	if (o->kill_ns) {
		double gap_ms =
			((double)o->kill_ns - (double)(r->header->start_mono_ns + last_end)) / 1e6;

		ASSERT_CMP(gap_ms, <, 400);
	}
	if (o->kill_ns) /* the signal ended it: the agent wrote its footer first */
		ASSERT_TRUE(r->footer != NULL);
	lsc_recording_free(r);
}

static void read_rec_free(const char *rec)
{
	lsc_recording_free(read_rec(rec));
}

/* Alone, then under the agent: same status, same output, same time to exit. */
static void same_both_ways(const char *const *argv, int sig, int ready_ms, int expect_status,
			   const char *rec_name, int loop)
{
	struct outcome plain, agent;

	run_once(argv, NULL, sig, ready_ms, &plain);
	run_once(argv, path(rec_name), sig, ready_ms, &agent);
	fprintf(stderr, "%s: status %d / %d, exit %.0f / %.0f ms (alone / agent)\n", rec_name,
		plain.status, agent.status, plain.exit_ms, agent.exit_ms);
	ASSERT_EQ(plain.status, expect_status);
	ASSERT_EQ(agent.status, plain.status);
	ASSERT_STR_EQ(agent.out, plain.out);
	if (sig) {
		ASSERT_CMP(agent.exit_ms, <=, plain.exit_ms + 200);
		ASSERT_CMP(agent.exit_ms, >=, plain.exit_ms - 200);
	}
	recording_complete(path(rec_name), &agent, loop);
}

static void need_node(void)
{
	if (access("/usr/bin/node", X_OK))
		LSC_FAIL("/usr/bin/node is missing: Node.js 20 is the real-world target");
}

#define NODE(js) ((const char *const[]){"/usr/bin/node", "-e", js, NULL})

TEST(node_sigterm_without_a_handler_ends_it_at_once)
{
	capture_setup("signals");
	need_node();
	same_both_ways(NODE("setInterval(() => {}, 1000)"), SIGTERM, 300, 128 + SIGTERM, "term.lsr",
		       1);
}

TEST(node_sigterm_handler_with_async_cleanup_then_exit)
{
	capture_setup("signals");
	need_node();
	same_both_ways(NODE("setInterval(() => {}, 1000);"
			    "process.on('SIGTERM', () => setTimeout(() => {"
			    "  console.log('cleaned up'); process.exit(7); }, 100));"),
		       SIGTERM, 300, 7, "cleanup.lsr", 1);
}

TEST(node_sigterm_handler_that_reraises)
{
	capture_setup("signals");
	need_node();
	same_both_ways(
		NODE("setInterval(() => {}, 1000);"
		     "process.once('SIGTERM', () => setTimeout(() => {"
		     "  console.log('again'); process.kill(process.pid, 'SIGTERM'); }, 50));"),
		SIGTERM, 300, 128 + SIGTERM, "reraise.lsr", 1);
}

/* SIGTERM to the program and to `loopscope run` at once (`pkill -f 'node app.js'` matches both;
 * so does a signal to the process group): the program gets it twice, on two threads maybe. The
 * second must not end the process before the first has written the recording's footer. The
 * program is busy (JSON in a 5 ms interval) so that the writer has work when the signals land. */
TEST(node_sigterm_twice_at_once_keeps_the_footer)
{
	int k;

	capture_setup("signals");
	need_node();
	also_run = 1;
	/* busy about half the time, so that its loop waits in epoll (the moment the signal is sent)
	 * on a loaded machine too; the signal still finds JS running half the time */
	for (k = 0; k < 3; k++)
		same_both_ways(NODE("setInterval(() => { for (let i = 0; i < 20000; i++) "
				    "JSON.stringify({ i, s: 'x'.repeat(i % 50) }); }, 20)"),
			       SIGTERM, 600, 128 + SIGTERM, "twice.lsr", 1);
	also_run = 0;
}

TEST(node_sigint_and_sighup_without_handlers)
{
	capture_setup("signals");
	need_node();
	same_both_ways(NODE("setInterval(() => {}, 1000)"), SIGINT, 300, 128 + SIGINT, "int.lsr",
		       1);
	same_both_ways(NODE("setInterval(() => {}, 1000)"), SIGHUP, 300, 128 + SIGHUP, "hup.lsr",
		       1);
}

/* A cluster worker told to stop with worker.kill() (SIGTERM) ends as fast as without the agent,
 * its own recording (--follow-children) complete. The primary reports how the worker ended. */
TEST(cluster_worker_kill_ends_the_worker)
{
	static const char js[] =
		"const cluster = require('cluster'), http = require('http');"
		"if (cluster.isPrimary) {"
		"  const w = cluster.fork();"
		"  w.on('listening', () => setTimeout(() => { w.t = process.hrtime.bigint();"
		"    w.kill(); }, 300));"
		"  w.on('exit', (code, sig) => {"
		"    const ms = Number(process.hrtime.bigint() - w.t) / 1e6;"
		"    console.log(`worker ${code} ${sig}`);"
		"    console.error(`worker exit ms ${ms}`);"
		"    require('fs').writeFileSync(process.argv[1], String(ms)); });"
		"} else { http.createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1'); }";
	char ms_plain[64], ms_agent[64], rec[512], ms_file[512], rec_file[512];
	const char *argv[] = {"/usr/bin/node", "-e", js, ms_file, NULL};
	const char *full[] = {built("loopscope"),
			      "run",
			      "-o",
			      rec_file,
			      "--window",
			      "200",
			      "--follow-children",
			      "--",
			      "/usr/bin/node",
			      "-e",
			      js,
			      ms_file,
			      NULL};
	struct proc p;
	struct dirent *d;
	DIR *dir;
	int found = 0;

	capture_setup("signals");
	need_node();
	snprintf(ms_file, sizeof(ms_file), "%s", path("ms.txt"));
	snprintf(rec_file, sizeof(rec_file), "%s", path("cluster.lsr"));
	proc_run(&p, argv, 30, path("plain.out"));
	ASSERT_EQ(p.status, 0);
	slurp(path("ms.txt"), ms_plain, sizeof(ms_plain));
	slurp(path("plain.out"), rec, sizeof(rec));
	ASSERT_STR_EQ(rec, "worker null SIGTERM\n");
	proc_run(&p, full, 30, path("agent.out"));
	ASSERT_EQ(p.status, 0);
	slurp(path("ms.txt"), ms_agent, sizeof(ms_agent));
	slurp(path("agent.out"), rec, sizeof(rec));
	ASSERT_STR_EQ(rec, "worker null SIGTERM\n");
	fprintf(stderr, "worker exit %s / %s ms (alone / agent)\n", ms_plain, ms_agent);
	ASSERT_CMP(atof(ms_agent), <=, atof(ms_plain) + 200);
	/* the worker's recording: cluster.lsr.PID, readable, with a footer (it ended by SIGTERM) */
	dir = opendir(capture_dir);
	ASSERT_TRUE(dir != NULL);
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, "cluster.lsr.", 12)) {
			struct lsc_recording *r = read_rec(path(d->d_name));

			ASSERT_EQ(r->info.truncated, 0);
			ASSERT_CMP(r->nwindows, >, 0);
			ASSERT_TRUE(r->footer != NULL);
			lsc_recording_free(r);
			found++;
		}
	closedir(dir);
	ASSERT_EQ(found, 1);
}

/* refloop stops gracefully on SIGTERM (its own libuv signal handle): exit 0, as fast. */
TEST(refloop_stop_path)
{
	const char *argv[] = {
		built("examples/healthy"), "--duration", "0", "--port", "0", "--quiet", "1", NULL};

	capture_setup("signals");
	same_both_ways(argv, SIGTERM, 300, 0, "refloop.lsr", 1);
}

/* A small C program per sigaction flag combination: the same output and status both ways. The
 * shell in front ignores SIGINT, so the "ignored" mode starts with an inherited SIG_IGN. */
TEST(sigaction_flags_behave_as_without_the_agent)
{
	static const char *const modes[][2] = {
		{"resethand", "143"},
		{"resethand_reraise", "143"},
		{"resethand_nodefer", "143"},
		{"nodefer", "3"},
		{"defer", "3"},
		{"mask", "3"},
		{"restart", "3"},
		{"norestart", "3"},
		{"dfl_in_handler", "143"},
		{"unblock_in_handler", "3"},
		{"siginfo", "3"},
		{"old_value", "3"},
		{"ignored", "0"},
		{"default_term", "143"},
		{"default_segv", "139"},
	};
	size_t m;

	capture_setup("signals");
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		char cmd[1024], rec[64];
		const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

		snprintf(cmd, sizeof(cmd), "trap '' INT; exec %s %s", built("tests/sigflags"),
			 modes[m][0]);
		snprintf(rec, sizeof(rec), "%s.lsr", modes[m][0]);
		fprintf(stderr, "mode %s\n", modes[m][0]);
		same_both_ways(argv, 0, 0, atoi(modes[m][1]), rec, 0);
	}
}

/*
 * exec in place at 999 CPU samples a second, in every heap mode: the profiling timer survives
 * execve, the agent's SIGPROF handler does not; the agent must disarm it first. Without that a
 * tick between an exec and the next image's constructor kills it: measured here, 1 run in 10 on
 * a loaded machine with heap tracking off (so 50 runs all pass by luck 0.5 % of the time), 5 in
 * 10 in full mode, most runs on a calm machine. Five execs a run (bash, env x4, python3). Every run
 * must end as it does alone, with the same output. The agent is preloaded by hand (LD_PRELOAD and
 * LOOPSCOPE_*, as agent/README.md shows), without run's finalize (symbols), which would make fifty
 * runs take minutes.
 */
static void exec_chain_runs(const char *const *chain, const char *heap, int runs,
			    const char *expect)
{
	char out[4096], preload[600];
	int i;

	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", built("libloopscope_agent.so"));
	for (i = 0; i < runs; i++) {
		char output[600], heap_env[64];
		/* preloaded by hand: the children that do not exec in place (seq, the shells)
		 * inherit LOOPSCOPE_OUTPUT and must leave the first process's file alone */
		const char *argv[24] = {"/usr/bin/env", preload, output, heap_env,
					"LOOPSCOPE_CPU_HZ=999"};
		struct proc p;
		int n = 5, k;

		snprintf(output, sizeof(output), "LOOPSCOPE_OUTPUT=%s", path("exec.lsr"));
		snprintf(heap_env, sizeof(heap_env), "LOOPSCOPE_HEAP=%s", heap);
		for (k = 0; chain[k]; k++)
			argv[n++] = chain[k];
		unlink(path("exec.lsr"));
		proc_run(&p, argv, 30, path("exec.out"));
		slurp(path("exec.out"), out, sizeof(out));
		if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0 || strcmp(out, expect))
			LSC_FAIL("--heap %s, run %d of %d: status %#x, output '%s' (want '%s'): %s",
				 heap, i + 1, runs, p.status, out, expect, p.err);
		read_rec_free(path("exec.lsr"));
	}
}

static const char *const bash_chain[] = {
	"/bin/bash", "-c",
	"s=0; for i in $(seq 300); do s=$((s+i)); done; exec env env env env /usr/bin/python3 -S -c "
	"'import sys; print(sum(range(300000)), sys.argv[1])' $s",
	NULL};

static void bash_chain_in(const char *heap)
{
	struct proc p;
	char expect[256];

	capture_setup("signals");
	if (access("/usr/bin/python3", X_OK))
		LSC_FAIL("python3 is missing (scripts/deps.sh installs it)");
	proc_run(&p, bash_chain, 30, path("alone.out"));
	ASSERT_EQ(p.status, 0);
	slurp(path("alone.out"), expect, sizeof(expect));
	ASSERT_STR_EQ(expect, "44999850000 45150\n");
	exec_chain_runs(bash_chain, heap, 50, expect);
}

TEST(exec_in_place_survives_the_profiling_timer_heap_off)
{
	bash_chain_in("off");
}

TEST(exec_in_place_survives_the_profiling_timer_heap_sampled)
{
	bash_chain_in("sampled");
}

TEST(exec_in_place_survives_the_profiling_timer_heap_full)
{
	bash_chain_in("full");
}

TEST(node_execfilesync_children_survive_the_profiling_timer)
{
	static const char *const chain[] = {
		"/usr/bin/node", "-e",
		"const cp = require('child_process'); let s = 0;"
		"for (let i = 0; i < 3; i++) s += Number(cp.execFileSync('/bin/sh',"
		"  ['-c', 'exec env /usr/bin/python3 -S -c \"print(sum(range(200000)))\"']));"
		"console.log(s);",
		NULL};

	capture_setup("signals");
	need_node();
	exec_chain_runs(chain, "off", 10, "59999700000\n");
	exec_chain_runs(chain, "sampled", 10, "59999700000\n");
	exec_chain_runs(chain, "full", 5, "59999700000\n");
}

TEST_MAIN(TEST_ENTRY(node_sigterm_without_a_handler_ends_it_at_once),
	  TEST_ENTRY(node_sigterm_twice_at_once_keeps_the_footer),
	  TEST_ENTRY(node_sigterm_handler_with_async_cleanup_then_exit),
	  TEST_ENTRY(node_sigterm_handler_that_reraises),
	  TEST_ENTRY(node_sigint_and_sighup_without_handlers),
	  TEST_ENTRY(cluster_worker_kill_ends_the_worker), TEST_ENTRY(refloop_stop_path),
	  TEST_ENTRY(sigaction_flags_behave_as_without_the_agent),
	  TEST_ENTRY(exec_in_place_survives_the_profiling_timer_heap_off),
	  TEST_ENTRY(exec_in_place_survives_the_profiling_timer_heap_sampled),
	  TEST_ENTRY(exec_in_place_survives_the_profiling_timer_heap_full),
	  TEST_ENTRY(node_execfilesync_children_survive_the_profiling_timer))
