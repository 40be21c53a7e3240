/*
 * test_stacks_attach.c — whole stacks under `loopscope attach` (as root), with no --stacks
 * option: CPU samples reach their thread's root (_start on a main thread, clone or clone3 on the
 * others) in 95 % of samples or more, through code that keeps no frame pointers (Debian's libc
 * and libuv, OpenSSL's sha512 assembly inside node): Node.js's main thread and a Worker spinning
 * in JS, its pool threads running pbkdf2, refloop's loop thread (hash-on-loop) and pool threads
 * (hash-offload); off-CPU and blocking-call stacks too; and the recording's own count of rooted
 * stacks (report --json's run.stack_roots) agrees. Whole stacks are judged by the function the
 * outermost frame is named after, so a garbage root never passes. The Node.js app:
 * tests/bpf/node_stacks.js.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"
#include "capture_json.h"
#include "attach_run.h"
#include "loops_json.h"
#include "lsc_recording.h"

#include <signal.h>
#include <sys/wait.h>

#define APP	 LSC_SOURCE_DIR "/tests/bpf/node_stacks.js"
#define MAX_TIDS 64

static const char *fn_at(const struct lsc_recording *r, uint64_t addr)
{
	const Loopscope__Symbol *s = lsc_recording_symbol(r, addr);

	return s && s->function ? s->function : "";
}

/* The outermost frame's function (frames are leaf first). */
static const char *root_of(const struct lsc_recording *r, uint32_t stack_id)
{
	const Loopscope__Stack *s = lsc_recording_stack(r, stack_id);

	return s && s->n_frames ? fn_at(r, s->frames[s->n_frames - 1]) : "";
}

static int is_root(const char *fn, int main_thread)
{
	if (main_thread)
		return !strcmp(fn, "_start");
	return !strcmp(fn, "clone") || !strcmp(fn, "__clone") || !strcmp(fn, "clone3") ||
	       !strcmp(fn, "__clone3");
}

/* Whether a frame of the stack is the function named exactly fn, or one whose name has it
 * (sub). */
static int has_fn(const struct lsc_recording *r, uint32_t stack_id, const char *fn, int sub)
{
	const Loopscope__Stack *s = lsc_recording_stack(r, stack_id);
	size_t f;

	for (f = 0; s && f < s->n_frames; f++) {
		const char *name = fn_at(r, s->frames[f]);

		if (sub ? strstr(name, fn) != NULL : !strcmp(name, fn))
			return 1;
	}
	return 0;
}

struct whole {
	double all, rooted, marked;
};

/*
 * The CPU samples of the threads that ran `mark` (a function by exact name; sub: part of a name)
 * at least once, or of the thread main_tid (mark NULL): how many, how many reach the thread's
 * root, and how many pass through `also` (NULL: none counted). A thread is chosen by what it
 * ran, and then every one of its samples counts, so that cut stacks cannot hide.
 */
static struct whole cpu_whole(const struct lsc_recording *r, uint32_t main_tid, const char *mark,
			      int sub, const char *also)
{
	uint32_t tids[MAX_TIDS];
	struct whole w = {0, 0, 0};
	size_t i, k, t, n = 0;

	for (i = 0; mark && i < r->nsamples; i++)
		for (k = 0; r->samples[i]->kind == LOOPSCOPE__SAMPLE_KIND__CPU &&
			    k < r->samples[i]->n_stack_id && n < MAX_TIDS;
		     k++)
			if (has_fn(r, r->samples[i]->stack_id[k], mark, sub)) {
				for (t = 0; t < n && tids[t] != r->samples[i]->tid[k]; t++)
					;
				if (t == n)
					tids[n++] = r->samples[i]->tid[k];
			}
	if (!mark)
		tids[n++] = main_tid;
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind != LOOPSCOPE__SAMPLE_KIND__CPU)
			continue;
		for (k = 0; k < s->n_stack_id; k++) {
			for (t = 0; t < n && tids[t] != s->tid[k]; t++)
				;
			if (t == n)
				continue;
			w.all += (double)s->value[k];
			if (is_root(root_of(r, s->stack_id[k]), s->tid[k] == main_tid))
				w.rooted += (double)s->value[k];
			if (also && has_fn(r, s->stack_id[k], also, 1))
				w.marked += (double)s->value[k];
		}
	}
	return w;
}

/* The recording's own share of rooted stacks of a kind (report --json's run.stack_roots); -1
 * when it has none. */
static double recorded_share(const char *rec, const char *kind)
{
	json_object *rep = report_json(rec), *v;
	double share = -1;

	v = json_get(json_get(json_get(rep, "run"), "stack_roots"), kind);
	if (v)
		share = json_object_get_double(v);
	json_object_put(rep);
	return share;
}

/* Starts the app (mode, ms; env: NULL or "NAME=value"), attaches with extra options (NULL-
 * terminated), starts the work and waits for both; the target's pid. */
static pid_t run_node(const char *mode, const char *ms, const char *env, const char *rec,
		      const char *const *extra)
{
	const char *argv[] = {"/usr/bin/node", APP, mode, ms, NULL};
	const char *att[16] = {
		LSC_BUILD_DIR "/loopscope", "attach", "-p", NULL, "-o", rec, "--cpu-hz", "499"};
	char pid[16];
	int n = 8;
	pid_t t, a;

	while (extra && *extra && n < 15)
		att[n++] = *extra++;
	att[n] = NULL;
	t = proc_spawn(argv, path("node.out"), path("node.err"), env);
	wait_text(path("node.err"), "waiting", 20);
	snprintf(pid, sizeof(pid), "%d", (int)t);
	att[3] = pid;
	unlink(path("attach.err"));
	a = proc_spawn(att, path("attach.out"), path("attach.err"), NULL);
	wait_text(path("attach.err"), "loopscope: attached to PID", 30);
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
	return t;
}

/* A refloop example under its own self-load, attached with CPU samples at 499 Hz. */
static pid_t run_refloop(const char *name, const char *rec)
{
	const char *argv[] = {NULL, "--wait-signal", "1", "--quiet", "1", "--duration",
			      "3",  "--self-load",   "2", NULL};
	char exe[512];
	pid_t t, a;

	snprintf(exe, sizeof(exe), "%s/examples/%s", LSC_BUILD_DIR, name);
	argv[0] = exe;
	t = proc_spawn(argv, path("ex.out"), path("ex.err"), NULL);
	wait_text(path("ex.err"), "waiting for SIGUSR2", 10);
	a = attach(t, rec, path("ex.attach"), (const char *const[]){"--cpu-hz", "499", NULL});
	kill(t, SIGUSR2);
	ASSERT_EQ(WEXITSTATUS(proc_wait(t, 60)), 0);
	ASSERT_EQ(WEXITSTATUS(proc_wait(a, 30)), 0);
	return t;
}

static void show(const char *what, struct whole w)
{
	printf("# %s: %.0f of %.0f CPU samples reach the root (%.1f %%)\n", what, w.rooted, w.all,
	       w.all ? 100 * w.rooted / w.all : 0);
}

TEST(node_main_thread_and_worker_stacks_reach_start_and_clone)
{
	struct lsc_recording *r;
	struct whole m, wk;
	double off, blk, cpu;
	size_t i, nblk = 0, rooted = 0;
	pid_t t;

	capture_setup("attach-stacks");
	t = run_node("js", "2500", NULL, path("js.lsr"),
		     (const char *const[]){"--offcpu", "--block-threshold", "0", NULL});
	r = read_rec(path("js.lsr"));
	m = cpu_whole(r, (uint32_t)t, NULL, 0, "deep");
	wk = cpu_whole(r, (uint32_t)t, "node::worker::Worker::Run", 1, "deep");
	show("node main thread", m);
	show("node Worker", wk);
	/* the number follows the CPU the machine gives the app; whether a stack is whole does not
	 */
	ASSERT_CMP(m.all, >=, 100);
	ASSERT_CMP(wk.all, >=, 100);
	ASSERT_CMP(m.rooted / m.all, >=, 0.95);
	ASSERT_CMP(wk.rooted / wk.all, >=, 0.95);
	/* through the recursion: the JS frames are there, and still named */
	ASSERT_CMP(m.marked / m.all, >=, 0.5);
	/* blocking calls (every syscall of a busy loop thread here), by their outermost frame */
	for (i = 0; i < r->nevents; i++)
		if (r->events[i]->body_case == LOOPSCOPE__EVENT__BODY_BLOCKING) {
			const Loopscope__BlockingEvent *b = r->events[i]->blocking;

			nblk++;
			rooted += is_root(root_of(r, b->stack_id), b->tid == (uint32_t)t);
		}
	printf("# blocking calls: %zu of %zu reach the root\n", rooted, nblk);
	ASSERT_CMP(nblk, >=, 20);
	ASSERT_CMP((double)rooted / (double)nblk, >=, 0.95);
	/* the recording's own shares, off-CPU time among them */
	cpu = recorded_share(path("js.lsr"), "cpu");
	off = recorded_share(path("js.lsr"), "offcpu");
	blk = recorded_share(path("js.lsr"), "blocking");
	printf("# recorded: CPU %.3f, off-CPU %.3f, blocking %.3f\n", cpu, off, blk);
	ASSERT_CMP(cpu, >=, 0.95);
	ASSERT_CMP(off, >=, 0.95);
	ASSERT_CMP(blk, >=, 0.95);
	lsc_recording_free(r);
}

TEST(node_pbkdf2_pool_stacks_reach_clone_through_openssl_assembly)
{
	struct lsc_recording *r;
	struct whole p;

	capture_setup("attach-stacks");
	run_node("pbkdf2", "2500", "UV_THREADPOOL_SIZE=2", path("pool.lsr"), NULL);
	r = read_rec(path("pool.lsr"));
	p = cpu_whole(r, 0, "PKCS5_PBKDF2_HMAC", 0, "sha512_block_data_order");
	show("node pool threads (pbkdf2)", p);
	printf("# in OpenSSL's sha512 assembly: %.0f\n", p.marked);
	ASSERT_CMP(p.all, >=, 200);
	/* the hard case is there: the assembly uses rbp as a register */
	ASSERT_CMP(p.marked / p.all, >=, 0.3);
	ASSERT_CMP(p.rooted / p.all, >=, 0.95);
	ASSERT_CMP(recorded_share(path("pool.lsr"), "cpu"), >=, 0.95);
	lsc_recording_free(r);
}

TEST(refloop_loop_and_pool_stacks_reach_start_and_clone)
{
	struct lsc_recording *r;
	struct whole m, p;
	pid_t t;

	capture_setup("attach-stacks");
	/* the loop thread hashing under Debian's libuv (no frame pointers) */
	t = run_refloop("hash-on-loop", path("loop.lsr"));
	r = read_rec(path("loop.lsr"));
	m = cpu_whole(r, (uint32_t)t, NULL, 0, "uv_run");
	show("refloop hash-on-loop, loop thread", m);
	ASSERT_CMP(m.all, >=, 100);
	ASSERT_CMP(m.rooted / m.all, >=, 0.95);
	ASSERT_CMP(m.marked / m.all, >=, 0.9);
	lsc_recording_free(r);
	/* pool threads deriving keys, under libuv's worker and libc's start_thread */
	run_refloop("hash-offload", path("offload.lsr"));
	r = read_rec(path("offload.lsr"));
	p = cpu_whole(r, 0, "worker", 0, "start_thread");
	show("refloop hash-offload, pool threads", p);
	ASSERT_CMP(p.all, >=, 100);
	ASSERT_CMP(p.rooted / p.all, >=, 0.95);
	ASSERT_CMP(recorded_share(path("offload.lsr"), "cpu"), >=, 0.95);
	lsc_recording_free(r);
}

TEST(frame_pointers_only_when_asked_and_counted_as_such)
{
	struct lsc_recording *r;
	struct whole p;

	capture_setup("attach-stacks");
	/* --stacks fp: the walk of before, whose stacks stop in libc (start_thread) or in the
	 * assembly: the count says so, and the names agree with it */
	run_node("pbkdf2", "1500", "UV_THREADPOOL_SIZE=2", path("fp.lsr"),
		 (const char *const[]){"--stacks", "fp", NULL});
	r = read_rec(path("fp.lsr"));
	p = cpu_whole(r, 0, "PKCS5_PBKDF2_HMAC", 0, NULL);
	show("node pool threads, --stacks fp", p);
	ASSERT_CMP(p.all, >=, 100);
	ASSERT_CMP(p.rooted / p.all, <=, 0.05);
	ASSERT_CMP(recorded_share(path("fp.lsr"), "cpu"), <=, 0.05);
	lsc_recording_free(r);
}

TEST_MAIN(TEST_ENTRY(node_main_thread_and_worker_stacks_reach_start_and_clone),
	  TEST_ENTRY(node_pbkdf2_pool_stacks_reach_clone_through_openssl_assembly),
	  TEST_ENTRY(refloop_loop_and_pool_stacks_reach_start_and_clone),
	  TEST_ENTRY(frame_pointers_only_when_asked_and_counted_as_such))
