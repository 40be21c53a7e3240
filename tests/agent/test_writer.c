/*
 * test_writer.c — where the agent's writer runs. A program with one thread and no loop keeps
 * glibc's single-threaded malloc: the agent adds no thread, and its one thread writes the
 * recording when it ends. Once the program starts a thread of its own, the writer's thread
 * starts too and writes as the program runs, so a SIGKILL keeps what came before it.
 */
#include "task.h"
#include "proc.h"
#include "capture.h"

static void run_threads_later(struct proc *p, const char *heap, const char *mode, char *out,
			      size_t cap)
{
	const char *argv[] = {
		built("loopscope"),	      "run", "-o", path("later.lsr"), "--heap", heap, "--",
		built("tests/threads_later"), mode,  NULL};

	proc_run(p, argv, 60, path("later.out"));
	slurp(path("later.out"), out, cap);
}

/* Bytes allocated, from the last heap snapshot. */
static double heap_alloc_bytes(const struct lsc_recording *r)
{
	struct lsc_heap_values hv;
	double sum = 0;
	size_t k;

	if (lsc_recording_heap_snapshot(r, LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES, 0, &hv))
		return 0;
	for (k = 0; k < hv.n; k++)
		sum += (double)hv.value[k];
	lsc_heap_values_free(&hv);
	return sum;
}

TEST(a_single_threaded_program_gets_no_thread_of_the_agent)
{
	static const char *heaps[] = {"off", "sampled", "full"};
	struct lsc_recording *r;
	struct proc p;
	char out[256];
	size_t h;

	capture_setup("agent");
	for (h = 0; h < 3; h++) {
		run_threads_later(&p, heaps[h], "alone", out, sizeof(out));
		if (!WIFEXITED(p.status) || WEXITSTATUS(p.status))
			LSC_FAIL("threads_later under --heap %s: status 0x%x: %s", heaps[h],
				 p.status, p.err);
		if (strcmp(out, "single-threaded: yes tasks 1\n"))
			LSC_FAIL("under --heap %s the program saw \"%s\": the agent added a thread",
				 heaps[h], out);
		/* written by the program's own thread at exit: whole, with its footer */
		r = read_rec(path("later.lsr"));
		ASSERT_TRUE(r->footer != NULL);
		ASSERT_CMP(r->nmappings, >, 0);
		if (h == 2) /* full: every byte of the program's 1,000 mallocs, 16 to 1,015 bytes */
			ASSERT_CMP(heap_alloc_bytes(r), >=, 515500);
		lsc_recording_free(r);
	}
}

TEST(a_second_thread_starts_the_writer_and_a_kill_keeps_what_came_before)
{
	struct lsc_recording *r;
	struct proc p;
	char out[256];
	double spin, all;

	capture_setup("agent");
	run_threads_later(&p, "sampled", "spawn-kill", out, sizeof(out));
	ASSERT_EQ(WEXITSTATUS(p.status), 128 + SIGKILL);
	/* main, its idle thread, and the writer */
	ASSERT_STR_EQ(out, "single-threaded: no tasks 3\n");
	r = read_rec(path("later.lsr"));
	ASSERT_TRUE(r->footer == NULL);
	/* 1.5 s of CPU at 99 Hz is about 148 samples; the writer writes at least every 250 ms, so
	 * all but the last quarter second's are in the file. */
	spin = samples_under(r, LOOPSCOPE__SAMPLE_KIND__CPU, "spin_for_a_while", 1, &all);
	printf("# %.0f CPU samples under spin_for_a_while, %.0f in all\n", spin, all);
	ASSERT_CMP(spin, >=, 80);
	lsc_recording_free(r);
}

TEST_MAIN(TEST_ENTRY(a_single_threaded_program_gets_no_thread_of_the_agent),
	  TEST_ENTRY(a_second_thread_starts_the_writer_and_a_kill_keeps_what_came_before))
