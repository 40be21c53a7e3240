/*
 * test_report_rules.c — the report's rules on recordings built with the real writer
 * (tests/rec_builder.h): the drain after a stop request stays out of the loop's figures.
 */
#include "task.h"
#include "rec_builder.h"
#include "lsc_report.h"

#include <math.h>
#include <unistd.h>

static char file[256];

/* Five idle windows, then two of a busy drain after a SIGTERM the program handles: the loop's
 * ELU and lag are the idle ones', the drain is counted apart, and no saturation is found. */
TEST(the_drain_after_a_stop_request_is_apart)
{
	struct lsc_report rep;
	struct lsc_recording *r;
	struct rb b;
	int i;

	snprintf(file, sizeof(file), "/tmp/lsc-rules-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "agent");
	for (i = 0; i < 7; i++) {
		struct rb_window w = {0};

		w.start_ns = (uint64_t)i * 1000000000ULL;
		w.length_ns = 1000000000ULL;
		w.elu = i < 5 ? 0.05 : 1.0;
		w.iterations = i < 5 ? 100 : 1;
		w.busy_ns = i < 5 ? 500000 : 900000000;
		w.busy_n = 1;
		w.lag_ns = i < 5 ? 1000000 : 900000000;
		w.lag_n = 100;
		w.shutdown = i >= 5;
		rb_window(&b, &w);
	}
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	ASSERT_OK(lsc_report_build(r, NULL, &rep));
	ASSERT_CMP(fabs(rep.elu_mean - 0.05), <, 1e-9);
	ASSERT_CMP(rep.elu_max, <, 0.1);
	ASSERT_CMP(rep.lag_max, <, 10000000ULL);
	ASSERT_EQ(rep.shutdown_windows, 2);
	ASSERT_EQ(rep.shutdown_ns, 2000000000ULL);
	ASSERT_CMP(fabs(rep.shutdown_elu - 1.0), <, 1e-9);
	for (i = 0; i < (int)rep.nfindings; i++)
		ASSERT_TRUE(strcmp(rep.findings[i].id, "loop-saturated") &&
			    strcmp(rep.findings[i].id, "loop-delay"));
	lsc_recording_free(r);
}

TEST_MAIN(TEST_ENTRY(the_drain_after_a_stop_request_is_apart))
