/*
 * test_scenarios.c — every scenario program, end to end: run it with its built-in loopback load
 * for a bounded time, then assert its ground truth from its own --stats. Also the contract a user
 * meets at the command line (bad flags, a taken port, a missing file), the deliberate deaths for
 * post-mortem tests, and the observer API as a preloaded library reaches it.
 */
#include "task.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <time.h>

struct run {
	int status; /* waitpid status */
	char err[8192];
	json_object *stats;
	char stats_path[512];
};

/*
 * Runs examples/<name> with the given NULL-terminated arguments plus --stats and --quiet (through
 * proc_run: killed and failed past limit_s), with LD_PRELOAD=preload when given, and parses the
 * stats file when there is one.
 */
static void run_scenario(struct run *r, const char *name, double limit_s, const char *preload,
			 const char *first, ...)
{
	const char *argv[64], *a;
	char exe[512];
	struct proc p;
	int argc = 0;
	va_list ap;

	memset(r, 0, sizeof(*r));
	snprintf(exe, sizeof(exe), "%s/examples/%s", LSC_BUILD_DIR, name);
	snprintf(r->stats_path, sizeof(r->stats_path), "%s/Testing/%s-%d.stats.json", LSC_BUILD_DIR,
		 name, (int)getpid());
	unlink(r->stats_path);
	argv[argc++] = exe;
	va_start(ap, first);
	for (a = first; a && argc < 56; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc++] = "--stats";
	argv[argc++] = r->stats_path;
	argv[argc++] = "--quiet";
	argv[argc++] = "1";
	argv[argc] = NULL;
	if (preload)
		setenv("LD_PRELOAD", preload,
		       1); /* the child inherits it; this process is loaded */
	proc_run(&p, argv, limit_s, NULL);
	if (preload)
		unsetenv("LD_PRELOAD");
	r->status = p.status;
	snprintf(r->err, sizeof(r->err), "%s", p.err);
	r->stats = json_object_from_file(r->stats_path);
	unlink(r->stats_path);
}

/* A number at a dotted path ("loop.elu"); fails the case when it is missing. */
static double num(const struct run *r, const char *path)
{
	char key[128], *dot, *k = key;
	json_object *o = r->stats, *v;

	if (!o)
		LSC_FAIL("no stats file; stderr: %s", r->err);
	snprintf(key, sizeof(key), "%s", path);
	while ((dot = strchr(k, '.'))) {
		*dot = 0;
		if (!json_object_object_get_ex(o, k, &o))
			LSC_FAIL("no '%s' in stats (looking for %s)", k, path);
		k = dot + 1;
	}
	if (!json_object_object_get_ex(o, k, &v))
		LSC_FAIL("no '%s' in stats", path);
	return json_object_get_double(v);
}

static void expect_clean_exit(const struct run *r)
{
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
		LSC_FAIL("scenario failed (status 0x%x): %s", r->status, r->err);
}

/* One line on stderr, naming the problem; the exit code as given. */
static void expect_error(const struct run *r, int code, const char *needle)
{
	const char *nl = strchr(r->err, '\n');

	ASSERT_TRUE(WIFEXITED(r->status));
	ASSERT_EQ(WEXITSTATUS(r->status), code);
	if (!strstr(r->err, needle))
		LSC_FAIL("stderr lacks \"%s\": %s", needle, r->err);
	if (!nl || nl[1] != 0)
		LSC_FAIL("stderr is not exactly one line: %s", r->err);
	ASSERT_TRUE(r->stats == NULL);
}

TEST(healthy)
{
	struct run r;
	json_object *hist;
	size_t i, n;

	run_scenario(&r, "healthy", 30, NULL, "--duration", "2", "--self-load", "4",
		     "--heap-budget", "262144", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "http.responses"), >=, 100);
	ASSERT_EQ(num(&r, "scenario.db_queries"), num(&r, "http.responses"));
	ASSERT_CMP(num(&r, "pool.submitted"), >=, num(&r, "http.responses"));
	ASSERT_CMP(num(&r, "loop.elu"), <, 0.5);
	/* Flat heap: several collections, and after each only the requests in flight survive. */
	ASSERT_CMP(num(&r, "gc.collections"), >=, 3);
	json_object_object_get_ex(json_object_object_get(r.stats, "gc"), "history", &hist);
	n = json_object_array_length(hist);
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(hist, i);

		ASSERT_CMP(json_object_get_uint64(json_object_object_get(e, "live_after")), <,
			   64 * 1024);
	}
}

TEST(sync_read)
{
	struct run r;
	double per_read, busy_per_req;

	run_scenario(&r, "sync-read", 30, NULL, "--duration", "2", "--self-load", "2", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "scenario.sync_reads"), >=, 5);
	ASSERT_EQ(num(&r, "scenario.sync_reads"), num(&r, "http.responses"));
	per_read = num(&r, "scenario.sync_read_ns") / num(&r, "scenario.sync_reads");
	busy_per_req = num(&r, "loop.busy_ns") / num(&r, "http.responses");
	/* The read blocks the loop for milliseconds, and that time is loop-busy time. */
	ASSERT_CMP(per_read, >=, 1e6);
	ASSERT_CMP(busy_per_req, >=, per_read);
	ASSERT_CMP(num(&r, "loop.elu"), >=, 0.8);
}

TEST(stream_file)
{
	struct run r;

	run_scenario(&r, "stream-file", 30, NULL, "--duration", "2", "--self-load", "2", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "http.responses"), >=, 2);
	ASSERT_CMP(num(&r, "http.bytes_out"), >=, 64.0 * 1048576);
	/* Flat memory: whatever the client's speed, native buffers stay within a few chunks. */
	ASSERT_CMP(num(&r, "buffers.peak_bytes"), <, 2.0 * 1048576);
}

TEST(hash_on_loop)
{
	struct run r;

	run_scenario(&r, "hash-on-loop", 30, NULL, "--duration", "2", "--self-load", "2", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "scenario.hashes"), >=, 5);
	ASSERT_CMP(num(&r, "loop.busy_ns"), >=, num(&r, "scenario.hash_ns"));
	ASSERT_CMP(num(&r, "loop.elu"), >=, 0.8);
	ASSERT_EQ(num(&r, "pool.submitted"), 0);
}

TEST(hash_offload)
{
	struct run r;

	run_scenario(&r, "hash-offload", 30, NULL, "--duration", "2", "--self-load", "2", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "scenario.hashes"), >=, 5);
	ASSERT_CMP(num(&r, "pool.submitted"), >=, num(&r, "scenario.hashes"));
	ASSERT_CMP(num(&r, "loop.elu"), <, 0.5);
}

TEST(worker_offload)
{
	struct run r;
	double worker_elu;

	run_scenario(&r, "worker-offload", 30, NULL, "--duration", "2", "--self-load", "2", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "scenario.hashes"), >=, 20);
	ASSERT_EQ(num(&r, "pool.submitted"), 0);
	ASSERT_CMP(num(&r, "loop.elu"), <, 0.5);
	worker_elu = 1 - num(&r, "scenario.worker_idle_ns") / num(&r, "scenario.worker_wall_ns");
	ASSERT_CMP(worker_elu, >, 0.8);
}

TEST(nexttick_starvation)
{
	struct run r;

	run_scenario(&r, "nexttick-starvation", 30, NULL, "--duration", "2.2", "--every", "500",
		     "--starve-ms", "200", "--self-load", "1", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "scenario.episodes"), >=, 3);
	ASSERT_CMP(num(&r, "scenario.starved_ns"), >=, num(&r, "scenario.episodes") * 199e6);
	/* The 1 ms heartbeat was starved for a whole chain, and the drain was one long stretch. */
	ASSERT_CMP(num(&r, "scenario.heartbeat_max_late_ns"), >=, 190e6);
	ASSERT_CMP(num(&r, "loop.max_tick_drain_ns"), >=, 199e6);
	ASSERT_CMP(num(&r, "loop.ticks"), >=, num(&r, "scenario.spin_ticks"));
}

TEST(cache_leak)
{
	struct run r;
	json_object *hist, *types, *top;
	uint64_t prev = 0, first, last;
	size_t i, n;

	run_scenario(&r, "cache-leak", 30, NULL, "--duration", "3", "--self-load", "4",
		     "--heap-budget", "1048576", NULL);
	expect_clean_exit(&r);
	json_object_object_get_ex(json_object_object_get(r.stats, "gc"), "history", &hist);
	n = json_object_array_length(hist);
	ASSERT_CMP(n, >=, 4);
	for (i = 0; i < n; i++) {
		uint64_t live = json_object_get_uint64(
			json_object_object_get(json_object_array_get_idx(hist, i), "live_after"));

		ASSERT_CMP(live, >=, prev); /* never shrinks: nothing is ever evicted */
		prev = live;
	}
	first = json_object_get_uint64(
		json_object_object_get(json_object_array_get_idx(hist, 0), "live_after"));
	last = prev;
	ASSERT_CMP(last, >, first + 4 * 1048576.0);
	/* The growth is one type: the cache entries. */
	json_object_object_get_ex(json_object_object_get(r.stats, "gc"), "types_after_last_gc",
				  &types);
	top = json_object_array_get_idx(types, 0);
	ASSERT_STR_EQ(json_object_get_string(json_object_object_get(top, "name")),
		      "SessionCacheEntry");
	ASSERT_CMP(json_object_get_double(json_object_object_get(top, "bytes")), >=, 0.8 * last);
	ASSERT_CMP(json_object_get_double(json_object_object_get(top, "count")), <=,
		   num(&r, "scenario.cache_entries"));
}

TEST(handle_leak)
{
	struct run r;

	run_scenario(&r, "handle-leak", 30, NULL, "--duration", "2", "--self-load", "4", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "http.responses"), >=, 100);
	ASSERT_EQ(num(&r, "scenario.leaked_intervals"), num(&r, "http.responses"));
	ASSERT_CMP(num(&r, "loop.peak_active_handles"), >=, num(&r, "http.responses"));
	ASSERT_CMP(num(&r, "loop.handles.timer.opened"), >=, num(&r, "http.responses"));
}

TEST(backpressure_ignored)
{
	struct run r;

	run_scenario(&r, "backpressure-ignored", 30, NULL, "--duration", "2", "--self-load", "2",
		     NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "scenario.exports"), >=, 2);
	ASSERT_CMP(num(&r, "scenario.ignored_drains"), >=, 100);
	/* Two slow clients, 16 MiB each queued at once: native memory holds nearly all of it. */
	ASSERT_CMP(num(&r, "buffers.peak_bytes"), >=, 24.0 * 1048576);
}

TEST(pool_saturation)
{
	struct run r;

	run_scenario(&r, "pool-saturation", 30, NULL, "--duration", "2.5", "--jobs", "32",
		     "--every", "1000", "--self-load", "1", NULL);
	expect_clean_exit(&r);
	ASSERT_EQ(num(&r, "pool.size"), 4);
	ASSERT_CMP(num(&r, "scenario.bursts"), >=, 2);
	ASSERT_CMP(num(&r, "pool.peak_depth"), >=, 28);
	ASSERT_CMP(num(&r, "pool.wait_max_ns"), >=, 10e6);
}

TEST(native_leak)
{
	struct run r;

	run_scenario(&r, "native-leak", 30, NULL, "--duration", "2", "--self-load", "2", NULL);
	expect_clean_exit(&r);
	ASSERT_CMP(num(&r, "scenario.leaked_allocations"), >=, 100);
	ASSERT_EQ(num(&r, "scenario.leaked_allocations"), num(&r, "http.responses"));
	ASSERT_EQ(num(&r, "scenario.leaked_bytes"), num(&r, "scenario.leaked_allocations") * 24593);
	ASSERT_EQ(num(&r, "gc.used_bytes"), 0);
}

static void expect_death(const char *how, int sig)
{
	struct run r;

	run_scenario(&r, "native-leak", 30, NULL, "--duration", "10", "--self-load", "1",
		     "--die-after", "0.5", "--die-how", how, NULL);
	ASSERT_TRUE(WIFSIGNALED(r.status));
	ASSERT_EQ(WTERMSIG(r.status), sig);
	/* The stats written just before dying are complete JSON. */
	ASSERT_CMP(num(&r, "scenario.leaked_allocations"), >=, 1);
}

TEST(die_how_segv_abort_kill)
{
	expect_death("segv", SIGSEGV);
	expect_death("abort", SIGABRT);
	expect_death("kill", SIGKILL);
}

TEST(bad_flags_are_usage_errors)
{
	struct run r;

	run_scenario(&r, "healthy", 10, NULL, "--no-such-flag", NULL);
	expect_error(&r, 2, "unknown option '--no-such-flag'");
	run_scenario(&r, "healthy", 10, NULL, "--duration", "soon", NULL);
	expect_error(&r, 2, "invalid value 'soon' for --duration");
	run_scenario(&r, "healthy", 10, NULL, "--port", "70000", NULL);
	expect_error(&r, 2, "invalid port 70000");
	run_scenario(&r, "native-leak", 10, NULL, "--die-how", "gently", NULL);
	expect_error(&r, 2, "--die-how");
}

TEST(port_in_use_is_one_clear_error)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	char port[16];
	struct run r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(listen(fd, 1));
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
	run_scenario(&r, "healthy", 10, NULL, "--port", port, "--duration", "1", NULL);
	expect_error(&r, 1, "already in use");
	close(fd);
}

TEST(missing_file_is_one_clear_error)
{
	struct run r;

	run_scenario(&r, "sync-read", 10, NULL, "--file", "/nonexistent/video.mp4", NULL);
	expect_error(&r, 1, "cannot open '/nonexistent/video.mp4': no such file or directory");
	run_scenario(&r, "stream-file", 10, NULL, "--file", "/nonexistent/video.mp4", NULL);
	expect_error(&r, 1, "cannot open '/nonexistent/video.mp4'");
}

TEST(preloaded_observer_sees_gcs_handles_and_callbacks)
{
	char out[512], line[256];
	unsigned long found, gcs, live, opens, closes, begins, ends;
	struct run r;
	FILE *f;

	snprintf(out, sizeof(out), "%s/Testing/observer-%d.txt", LSC_BUILD_DIR, (int)getpid());
	setenv("OBSERVER_PROBE_OUT", out, 1);
	run_scenario(&r, "cache-leak", 30, LSC_OBSERVER_PROBE, "--duration", "1.5", "--self-load",
		     "2", "--heap-budget", "1048576", NULL);
	expect_clean_exit(&r);
	f = fopen(out, "r");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	unlink(out);
	ASSERT_EQ(sscanf(line, "%lu %lu %lu %lu %lu %lu %lu", &found, &gcs, &live, &opens, &closes,
			 &begins, &ends),
		  7);
	ASSERT_EQ(found, 1);
	ASSERT_EQ(gcs, num(&r, "gc.collections"));
	ASSERT_CMP(gcs, >=, 2);
	ASSERT_EQ(live, num(&r, "gc.live_after_gc"));
	/* Every handle refloop opened was reported opened and closed; every callback bracketed. */
	ASSERT_EQ(opens, closes);
	ASSERT_EQ(opens, num(&r, "http.connections") + 1 /* listener */ + 1 /* duration timer */ +
				 6 /* prepare, check, idle, 3 signals */);
	ASSERT_EQ(begins, ends);
	ASSERT_EQ(begins, num(&r, "loop.callbacks"));
}

static int wait_for_file(const char *path, double limit_s)
{
	double deadline = proc_now() + limit_s;
	struct pollfd none = {-1, 0, 0};

	while (access(path, R_OK) != 0) {
		if (proc_now() > deadline)
			return 0;
		poll(&none, 0, 10); /* re-check every 10 ms until the deadline: a bounded wait */
	}
	return 1;
}

TEST(sigusr1_writes_stats_and_sigterm_stops_gracefully)
{
	char exe[512], stats[512], line[256];
	int out[2], status;
	json_object *j;
	FILE *f;
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/examples/handle-leak", LSC_BUILD_DIR);
	snprintf(stats, sizeof(stats), "%s/Testing/usr1-%d.json", LSC_BUILD_DIR, (int)getpid());
	unlink(stats);
	ASSERT_OK(pipe(out));
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execl(exe, exe, "--duration", "0", "--self-load", "2", "--stats", stats,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	/* Serving: the listening line comes first. */
	ASSERT_TRUE(fgets(line, sizeof(line), f) != NULL);
	ASSERT_TRUE(strstr(line, "listening on http://127.0.0.1:") != NULL);
	ASSERT_OK(kill(pid, SIGUSR1));
	ASSERT_TRUE(wait_for_file(stats, 10));
	j = json_object_from_file(stats);
	ASSERT_TRUE(j != NULL); /* complete JSON: it was renamed into place */
	json_object_put(j);
	ASSERT_OK(kill(pid, SIGTERM));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* The summary was printed, and the final stats show every leaked timer closed by the stop.
	 */
	ASSERT_TRUE(fgets(line, sizeof(line), f) != NULL);
	ASSERT_TRUE(strstr(line, "requests in") != NULL);
	fclose(f);
	j = json_object_from_file(stats);
	ASSERT_TRUE(j != NULL);
	{
		struct run r = {.stats = j};

		ASSERT_CMP(num(&r, "scenario.leaked_intervals"), >=, 1);
		ASSERT_EQ(num(&r, "loop.handles.timer.opened"),
			  num(&r, "loop.handles.timer.closed"));
		ASSERT_EQ(num(&r, "loop.active_handles"), 0);
	}
	json_object_put(j);
	unlink(stats);
}

TEST_MAIN(TEST_ENTRY(healthy), TEST_ENTRY(sync_read), TEST_ENTRY(stream_file),
	  TEST_ENTRY(hash_on_loop), TEST_ENTRY(hash_offload), TEST_ENTRY(worker_offload),
	  TEST_ENTRY(nexttick_starvation), TEST_ENTRY(cache_leak), TEST_ENTRY(handle_leak),
	  TEST_ENTRY(backpressure_ignored), TEST_ENTRY(pool_saturation), TEST_ENTRY(native_leak),
	  TEST_ENTRY(die_how_segv_abort_kill), TEST_ENTRY(bad_flags_are_usage_errors),
	  TEST_ENTRY(port_in_use_is_one_clear_error), TEST_ENTRY(missing_file_is_one_clear_error),
	  TEST_ENTRY(preloaded_observer_sees_gcs_handles_and_callbacks),
	  TEST_ENTRY(sigusr1_writes_stats_and_sigterm_stops_gracefully))
