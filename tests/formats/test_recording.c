/*
 * test_recording.c — the recording file: a round trip; a file cut at every byte offset reads up
 * to its last complete record; random corruption never crashes the reader (this runs under ASan
 * in CI); lengths are never trusted; a newer major version is refused.
 */
#include "task.h"
#include "rec_builder.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

static char path[256];

static void small_recording(void)
{
	uint64_t frames[] = {0x401010, 0x401110, 0x401210};
	uint32_t stacks[3], tids[3] = {7, 7, 8};
	uint64_t values[3] = {1, 2, 3};
	struct rb b;
	struct rb_window w = {.start_ns = 0,
			      .length_ns = 1000000000,
			      .elu = 0.5,
			      .busy_ns = 1000,
			      .busy_n = 10,
			      .lag_ns = 2000000,
			      .lag_n = 10,
			      .handles = 3};

	snprintf(path, sizeof(path), "/tmp/lsc-test-rec-%d.lsr", (int)getpid());
	rb_open(&b, path);
	rb_header(&b, 1, "/bin/true", "synthetic");
	rb_mapping(&b, 1, 0x400000, 0x500000, 0, "/bin/true");
	stacks[0] = stacks[1] = rb_stack(&b, frames, 3, 0);
	stacks[2] = rb_stack(&b, frames + 1, 2, 0);
	rb_symbol(&b, 0x401010, "leaf", "a.c", 3, 0, 0);
	rb_window(&b, &w);
	rb_gc(&b, 5, 100, 2000, 1000, "T", 1000);
	rb_blocking(&b, 9, "read", 5000000, stacks[0], 7);
	rb_samples(&b, LOOPSCOPE__SAMPLE_KIND__CPU, stacks, values, tids, 3);
	rb_footer(&b, 1000000000);
	rb_close(&b);
}

static uint8_t *slurp(size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	ASSERT_OK(fstat(fd, &st));
	buf = malloc(st.st_size);
	ASSERT_EQ(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

TEST(round_trip)
{
	struct lsc_recording *r;
	struct lsc_read_info info;
	struct lsc_hist h;

	small_recording();
	ASSERT_OK(lsc_recording_read(path, &r, &info));
	unlink(path);
	ASSERT_EQ(info.records, 10);
	ASSERT_EQ(info.truncated, 0);
	ASSERT_EQ(info.major, LSC_FORMAT_MAJOR);
	ASSERT_STR_EQ(r->header->executable, "/bin/true");
	ASSERT_TRUE(r->footer != NULL);
	ASSERT_EQ(r->nstacks, 2);
	ASSERT_EQ(lsc_recording_stack(r, 1)->n_frames, 3);
	ASSERT_EQ(lsc_recording_stack(r, 2)->frames[0], 0x401110);
	ASSERT_TRUE(lsc_recording_stack(r, 3) == NULL);
	ASSERT_STR_EQ(lsc_recording_symbol(r, 0x401010)->function, "leaf");
	ASSERT_TRUE(lsc_recording_symbol(r, 0x401011) == NULL);
	ASSERT_STR_EQ(lsc_recording_mapping(r, 0x401234)->path, "/bin/true");
	ASSERT_EQ(r->nwindows, 1);
	ASSERT_OK(lsc_hist_from_proto(&h, r->windows[0]->lag));
	ASSERT_EQ(h.total, 10);
	ASSERT_EQ(h.max, 2000000);
	ASSERT_EQ(r->nevents, 2);
	ASSERT_EQ(r->samples[0]->n_value, 3);
	ASSERT_EQ(r->samples[0]->value[2], 3);
	lsc_recording_free(r);
}

TEST(cut_at_every_byte_offset)
{
	uint64_t last_records = 0, boundary = LSC_FILE_HEADER_SIZE;
	size_t len, cut;
	uint8_t *buf;

	small_recording();
	buf = slurp(&len);
	unlink(path);
	for (cut = 0; cut <= len; cut++) {
		struct lsc_recording *r = NULL;
		struct lsc_read_info info;
		uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
		int err;

		memcpy(copy, buf, cut);
		err = lsc_recording_parse(copy, cut, &r, &info);
		if (cut < LSC_FILE_HEADER_SIZE) {
			ASSERT_EQ(err, LSC_ENOTREC);
		} else {
			ASSERT_OK(err);
			if (info.truncated) {
				/* Inside a record: all before it, and where it begins. */
				ASSERT_EQ(info.records, last_records);
				ASSERT_EQ(info.truncated_at, boundary);
			} else {
				/* At a boundary: exactly one more complete record than before. */
				ASSERT_EQ(info.records,
					  cut == LSC_FILE_HEADER_SIZE ? 0 : last_records + 1);
				last_records = info.records;
				boundary = cut;
			}
			ASSERT_EQ(r->footer != NULL, cut == len);
		}
		lsc_recording_free(r);
		free(copy);
	}
	ASSERT_EQ(last_records, 10);
	free(buf);
}

TEST(random_corruption_never_crashes)
{
	size_t len, i;
	uint8_t *buf;
	unsigned seed = 12345;
	int ok = 0, refused = 0;

	small_recording();
	buf = slurp(&len);
	unlink(path);
	for (i = 0; i < 20000; i++) {
		uint8_t *copy = malloc(len);
		struct lsc_recording *r = NULL;
		int flips = 1 + rand_r(&seed) % 8, k, err;

		memcpy(copy, buf, len);
		for (k = 0; k < flips; k++)
			copy[LSC_FILE_HEADER_SIZE + rand_r(&seed) % (len - LSC_FILE_HEADER_SIZE)] ^=
				(uint8_t)(1 + rand_r(&seed) % 255);
		err = lsc_recording_parse(copy, len, &r, NULL);
		if (err == 0) {
			size_t s;

			ok++;
			/* What the reader accepts, analysis may walk: stacks and samples hold. */
			for (s = 0; s < r->nsamples; s++)
				ASSERT_EQ(r->samples[s]->n_stack_id, r->samples[s]->n_value);
		} else {
			ASSERT_TRUE(err == LSC_ECORRUPT || err == LSC_ETOOBIG);
			refused++;
		}
		lsc_recording_free(r);
		free(copy);
	}
	ASSERT_CMP(refused, >, 1000); /* the corruption was noticed, often */
	ASSERT_CMP(ok + refused, ==, 20000);
	free(buf);
}

TEST(lengths_are_never_trusted)
{
	uint8_t huge[] = {'L', 'S', 'C', 'R', 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f};
	uint8_t bad_varint[] = {'L',  'S',  'C',  'R',	1,    0,    0,	  0,	0xff, 0xff,
				0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t short_claim[] = {'L', 'S', 'C', 'R', 1, 0, 0, 0, 0x80, 0x80, 0x04, 1, 2};
	struct lsc_recording *r;
	struct lsc_read_info info;

	ASSERT_EQ(lsc_recording_parse(huge, sizeof(huge), &r, &info), LSC_ETOOBIG);
	ASSERT_EQ(info.error_at, 8);
	ASSERT_EQ(lsc_recording_parse(bad_varint, sizeof(bad_varint), &r, &info), LSC_ECORRUPT);
	/* 64 KiB claimed, 2 bytes present: a cut tail, not an allocation. */
	ASSERT_OK(lsc_recording_parse(short_claim, sizeof(short_claim), &r, &info));
	ASSERT_EQ(info.truncated, 1);
	ASSERT_EQ(info.truncated_at, 8);
	lsc_recording_free(r);
}

TEST(newer_major_version_is_refused)
{
	uint8_t newer[] = {'L', 'S', 'C', 'R', 2, 0, 0, 0};
	uint8_t minor[] = {'L', 'S', 'C', 'R', 1, 0, 9, 0};
	uint8_t junk[] = "GIF89a..";
	struct lsc_recording *r;
	struct lsc_read_info info;

	ASSERT_EQ(lsc_recording_parse(newer, sizeof(newer), &r, &info), LSC_ENEWER);
	ASSERT_EQ(info.major, 2);
	ASSERT_OK(lsc_recording_parse(minor, sizeof(minor), &r, &info)); /* newer minor: fine */
	lsc_recording_free(r);
	ASSERT_EQ(lsc_recording_parse(junk, 8, &r, &info), LSC_ENOTREC);
	ASSERT_STR_EQ(
		lsc_strerror(LSC_ENEWER),
		"written by a newer loopscope (unsupported major version); upgrade loopscope");
	ASSERT_STR_EQ(lsc_err_name(LSC_ECORRUPT), "LSC_ECORRUPT");
}

TEST(append_keeps_the_file_readable)
{
	struct lsc_writer *w;
	struct lsc_recording *r;
	Loopscope__Record rec = LOOPSCOPE__RECORD__INIT;
	Loopscope__Symbol s = LOOPSCOPE__SYMBOL__INIT;

	small_recording();
	ASSERT_OK(lsc_writer_append_to(path, &w));
	s.has_addr = 1;
	s.addr = 0x401110;
	s.function = "caller";
	rec.body_case = LOOPSCOPE__RECORD__BODY_SYMBOL;
	rec.symbol = &s;
	ASSERT_OK(lsc_writer_append(w, &rec));
	ASSERT_OK(lsc_writer_close(w));
	ASSERT_OK(lsc_recording_read(path, &r, NULL));
	ASSERT_STR_EQ(lsc_recording_symbol(r, 0x401110)->function, "caller");
	lsc_recording_free(r);
	ASSERT_EQ(lsc_writer_append_to("/etc/hostname", &w), LSC_ENOTREC);
	unlink(path);
}

static void snapshot_batch(struct rb *b, uint32_t n, int end, const uint32_t *ids,
			   const uint64_t *values, size_t count)
{
	rb_heap_snapshot(b, LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, n, end, n * 1000ULL, ids, values,
			 count);
}

/* A snapshot rebuilt from changes: the last value written for a stack wins, a stack back at 0
 * is gone, an incomplete snapshot does not count, and a stack id as large as 0xffffffff costs
 * one entry (the old reader allocated by the largest id: 48 GiB here, refused by a 1 GiB
 * address-space limit outside ASan builds). */
TEST(heap_snapshot_rebuilt_from_changes)
{
	static const uint32_t ids1[] = {0xffffffffu, 5, 9}, ids2[] = {5, 9}, ids3[] = {5};
	static const uint64_t v1[] = {100, 50, 7}, v2[] = {60, 0}, v3[] = {999};
	struct lsc_heap_values hv;
	struct lsc_recording *r;
	struct rb b;

#ifndef __SANITIZE_ADDRESS__
	struct rlimit lim = {1u << 30, 1u << 30};

	ASSERT_OK(setrlimit(RLIMIT_AS, &lim));
#endif
	snprintf(path, sizeof(path), "/tmp/lsc-test-rec-%d.lsr", (int)getpid());
	rb_open(&b, path);
	snapshot_batch(&b, 1, 1, ids1, v1, 3);
	snapshot_batch(&b, 2, 1, ids2, v2, 2);
	snapshot_batch(&b, 3, 0, ids3, v3, 1); /* never completed */
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(path, &r, NULL));
	unlink(path);
	ASSERT_OK(lsc_recording_heap_snapshot(r, LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, 0, &hv));
	ASSERT_EQ(hv.snapshot, 2);
	ASSERT_EQ(hv.t_ns, 2000);
	ASSERT_EQ(hv.n, 2);
	ASSERT_EQ(hv.stack_id[0], 5);
	ASSERT_EQ(hv.value[0], 60);
	ASSERT_EQ(hv.stack_id[1], 0xffffffffu);
	ASSERT_EQ(hv.value[1], 100);
	lsc_heap_values_free(&hv);
	ASSERT_OK(lsc_recording_heap_snapshot(r, LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, 1, &hv));
	ASSERT_EQ(hv.snapshot, 1);
	ASSERT_EQ(hv.n, 3);
	ASSERT_EQ(hv.value[0], 50);
	ASSERT_EQ(hv.value[1], 7);
	ASSERT_EQ(hv.value[2], 100);
	lsc_heap_values_free(&hv);
	ASSERT_EQ(lsc_recording_heap_snapshot(r, LOOPSCOPE__SAMPLE_KIND__LIVE_COUNT, 0, &hv),
		  LSC_ENODATA);
	lsc_recording_free(r);
}

TEST_MAIN(TEST_ENTRY(round_trip), TEST_ENTRY(cut_at_every_byte_offset),
	  TEST_ENTRY(random_corruption_never_crashes), TEST_ENTRY(lengths_are_never_trusted),
	  TEST_ENTRY(newer_major_version_is_refused), TEST_ENTRY(append_keeps_the_file_readable),
	  TEST_ENTRY(heap_snapshot_rebuilt_from_changes))
