/*
 * test_segments.c — a recording cut to a span of its time (lsc_recording_cut), and segment files
 * read as one recording (lsc_recording_read_segments): which windows, events and sample batches a
 * span keeps, how its times move to the span's start, when the footer stays; segments' repeated
 * stacks and symbols kept once, a segment cut short read to its last whole record, a file that is
 * not a recording named.
 */
#include "task.h"
#include "rec_builder.h"

#include <fcntl.h>
#include <unistd.h>

#define S 1000000000ULL

static char file[4][256];

/* A batch of blocking time (one stack) written at t. */
static void batch_at(struct rb *b, uint32_t stack, uint64_t t)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Samples s = LOOPSCOPE__SAMPLES__INIT;
	uint64_t v = 1000;

	s.has_kind = s.has_t_ns = 1;
	s.kind = LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS;
	s.t_ns = t;
	s.stack_id = &stack;
	s.n_stack_id = 1;
	s.value = &v;
	s.n_value = 1;
	r.body_case = LOOPSCOPE__RECORD__BODY_SAMPLES;
	r.samples = &s;
	rb_put(b, &r);
}

/* Windows [from, to) of one second each, a GC in the middle of each, a blocking batch at each
 * window's end. */
static void seconds(struct rb *b, uint32_t stack, unsigned from, unsigned to)
{
	unsigned i;

	for (i = from; i < to; i++) {
		struct rb_window w = {.start_ns = i * S,
				      .length_ns = S,
				      .elu = 0.5,
				      .busy_ns = 1000,
				      .busy_n = 10,
				      .lag_ns = 2000000,
				      .lag_n = 10};

		rb_window(b, &w);
		rb_gc(b, i * S + S / 2, 100, 2000, 1000, "T", 1000);
		batch_at(b, stack, (i + 1) * S);
	}
}

/* Ten seconds, CPU samples at the end (no time), a footer at 10.2 s. */
static struct lsc_recording *ten_seconds(void)
{
	uint64_t frames[] = {0x401010, 0x401110};
	uint32_t stack, tid = 7;
	uint64_t one = 1;
	struct lsc_recording *r;
	struct rb b;

	snprintf(file[0], sizeof(file[0]), "/tmp/lsc-test-seg-%d.lsr", (int)getpid());
	rb_open(&b, file[0]);
	rb_header(&b, 1, "/bin/true", "synthetic");
	stack = rb_stack(&b, frames, 2, 0);
	seconds(&b, stack, 0, 10);
	rb_samples(&b, LOOPSCOPE__SAMPLE_KIND__CPU, &stack, &one, &tid, 1);
	rb_footer(&b, 10 * S + S / 5);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file[0], &r, NULL));
	unlink(file[0]);
	return r;
}

TEST(a_cut_keeps_its_span_from_its_start)
{
	struct lsc_recording *r = ten_seconds();
	size_t i;

	ASSERT_OK(lsc_recording_cut(r, 3 * S, 6 * S));
	ASSERT_EQ(r->nwindows, 3);
	ASSERT_EQ(r->nevents, 3);
	ASSERT_EQ(r->nsamples, 3); /* the batches at 4, 5 and 6 s; not the CPU samples of the end */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(r->windows[i]->start_ns, i * S);
		ASSERT_EQ(r->events[i]->t_ns, i * S + S / 2);
		ASSERT_EQ(r->samples[i]->t_ns, (i + 1) * S);
	}
	ASSERT_TRUE(r->footer == NULL); /* the run goes on after the span */
	ASSERT_TRUE(r->cut);
	ASSERT_EQ(r->header->start_unix_ns, 1764000000000000000ULL + 3 * S);
	lsc_recording_free(r);
}

TEST(a_span_that_reaches_the_end_keeps_the_footer_and_what_was_written_at_it)
{
	struct lsc_recording *r = ten_seconds();

	ASSERT_OK(lsc_recording_cut(r, 8 * S, UINT64_MAX));
	ASSERT_EQ(r->nwindows, 2);
	ASSERT_EQ(r->nevents, 2);
	ASSERT_EQ(r->nsamples, 3); /* two batches and the CPU samples */
	ASSERT_TRUE(r->footer != NULL);
	ASSERT_EQ(r->footer->end_ns, 2 * S + S / 5);
	ASSERT_TRUE(r->cut); /* not from the start */
	lsc_recording_free(r);
	/* a window begun before the span is not in it; one begun in it is, whole */
	r = ten_seconds();
	ASSERT_OK(lsc_recording_cut(r, 2 * S + 1, 4 * S + 1));
	ASSERT_EQ(r->nwindows, 2); /* 3 s and 4 s */
	ASSERT_EQ(r->nevents, 3);  /* 2.5 s (in the span), 3.5, and 4.5 s (to that window's end) */
	ASSERT_EQ(r->nsamples, 3); /* written at 3, 4 and 5 s: after the span began */
	lsc_recording_free(r);
}

TEST(a_span_with_nothing_in_it_says_so)
{
	struct lsc_recording *r = ten_seconds();

	ASSERT_EQ(lsc_recording_cut(r, 20 * S, 30 * S), LSC_ENODATA);
	lsc_recording_free(r);
	r = ten_seconds();
	ASSERT_EQ(lsc_recording_cut(r, 5 * S, 5 * S), LSC_ENODATA);
	lsc_recording_free(r);
}

/* Segment k of three: the header again, the stack and its symbol again, its seconds. */
static void segment(int k, int cut_short, int footer)
{
	uint64_t frames[] = {0x401010, 0x401110};
	uint32_t stack;
	struct rb b;

	snprintf(file[k], sizeof(file[k]), "/tmp/lsc-test-seg-%d.%d.lsr", (int)getpid(), k);
	rb_open(&b, file[k]);
	rb_header(&b, 1, "/bin/true", "synthetic");
	b.next_stack = 41; /* the session's id for it */
	stack = rb_stack(&b, frames, 2, 0);
	rb_symbol(&b, 0x401010, "leaf", "a.c", 3, 0, 0);
	seconds(&b, stack, 3 * (unsigned)k, 3 * (unsigned)k + 3);
	if (footer)
		rb_footer(&b, 9 * S);
	rb_close(&b);
	if (cut_short) { /* a writer killed in the middle of a record */
		int fd = open(file[k], O_WRONLY | O_APPEND);

		ASSERT_EQ(write(fd, "\x40\x0a\x01", 3), 3);
		close(fd);
	}
}

TEST(segments_read_as_one_recording)
{
	const char *paths[3] = {file[0], file[1], file[2]};
	struct lsc_recording *r;
	struct lsc_read_info info;
	size_t bad = 99, i;

	segment(0, 0, 0);
	segment(1, 1, 0);
	segment(2, 0, 1);
	ASSERT_OK(lsc_recording_read_segments(paths, 3, &r, &info, &bad));
	ASSERT_EQ(r->nwindows, 9);
	for (i = 0; i < 9; i++)
		ASSERT_EQ(r->windows[i]->start_ns, i * S);
	ASSERT_EQ(r->nevents, 9);
	ASSERT_EQ(r->nstacks, 1); /* written in each, kept once */
	ASSERT_EQ(r->nsymbols, 1);
	ASSERT_TRUE(r->footer != NULL);
	ASSERT_TRUE(!info.truncated); /* only the last one's tail would be */
	lsc_recording_free(r);
	/* the last one cut short: read, and said */
	segment(2, 1, 0);
	ASSERT_OK(lsc_recording_read_segments(paths, 3, &r, &info, &bad));
	ASSERT_EQ(r->nwindows, 9);
	ASSERT_TRUE(info.truncated);
	lsc_recording_free(r);
	/* a file that is not a recording is named */
	ASSERT_EQ(truncate(file[1], 0), 0);
	ASSERT_EQ(lsc_recording_read_segments(paths, 3, &r, &info, &bad), LSC_ENOTREC);
	ASSERT_EQ(bad, 1);
	ASSERT_TRUE(r == NULL);
	ASSERT_EQ(lsc_recording_read_segments(paths, 0, &r, &info, &bad), LSC_ENODATA);
	for (i = 0; i < 3; i++)
		unlink(file[i]);
}

TEST_MAIN(TEST_ENTRY(a_cut_keeps_its_span_from_its_start),
	  TEST_ENTRY(a_span_that_reaches_the_end_keeps_the_footer_and_what_was_written_at_it),
	  TEST_ENTRY(a_span_with_nothing_in_it_says_so), TEST_ENTRY(segments_read_as_one_recording))
