/* test_flame.c — the call tree: folded input (merging, kinds, bad lines), recordings, rendering. */
#include "task.h"
#include "rec_builder.h"
#include "lsc_flame.h"
#include "lsc_render.h"

static char path[256];

static void write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/lsc-flame-%d.folded", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static char *render(const struct lsc_flame *f, int svg, double minwidth)
{
	static char buf[1 << 20];
	FILE *m = fmemopen(buf, sizeof(buf), "w");
	struct lsc_svg_opts o = {.width = 1200, .minwidth = minwidth, .title = "t"};

	ASSERT_OK(svg ? lsc_render_svg(m, f, &o) : lsc_render_folded(m, f));
	fclose(m);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

TEST(folded_lines_merge_into_one_tree)
{
	struct lsc_flame *f;
	uint64_t bad;

	write_file("# a comment\n"
		   "a;b;c 3\n"
		   "x 1\n"
		   "a;b 2\r\n"
		   "\n"
		   "a;b;c 4\n"
		   "JS:*fib /app/cpu.js:2:13;leaf with spaces 5"); /* no final newline */
	ASSERT_OK(lsc_flame_from_folded(path, &f, &bad));
	unlink(path);
	ASSERT_EQ(lsc_flame_total(f), 15);
	/* Children in name order; equal stacks merged. */
	ASSERT_STR_EQ(render(f, 0, 0), "JS:*fib /app/cpu.js:2:13;leaf with spaces 5\n"
				       "a;b 2\n"
				       "a;b;c 7\n"
				       "x 1\n");
	lsc_flame_free(f);
}

TEST(bad_lines_are_named)
{
	struct lsc_flame *f;
	uint64_t bad;

	write_file("a;b 1\na;b;c 2\na;b twelve\n");
	ASSERT_EQ(lsc_flame_from_folded(path, &f, &bad), LSC_EBADFOLDED);
	ASSERT_EQ(bad, 3);
	write_file("");
	ASSERT_EQ(lsc_flame_from_folded(path, &f, &bad), LSC_EBADFOLDED);
	write_file("nocount\n");
	ASSERT_EQ(lsc_flame_from_folded(path, &f, &bad), LSC_EBADFOLDED);
	ASSERT_EQ(bad, 1);
	unlink(path);
	ASSERT_EQ(lsc_flame_from_folded("/nonexistent/x.folded", &f, &bad), -ENOENT);
}

TEST(a_line_longer_than_the_read_buffer)
{
	size_t n = 5u << 20;
	char *big = malloc(n + 16);
	struct lsc_flame *f;
	uint64_t bad;

	memset(big, 'x', n);
	strcpy(big + n, ";y 7\nz 1\n");
	write_file(big);
	free(big);
	ASSERT_OK(lsc_flame_from_folded(path, &f, &bad));
	unlink(path);
	ASSERT_EQ(lsc_flame_total(f), 8);
	ASSERT_EQ(lsc_flame_nnames(f), 4); /* x...x, y, z, and the unused 0 */
	lsc_flame_free(f);
}

TEST(kinds_from_names_and_annotations)
{
	const char *names[] = {"do_syscall_64_[k]", "JS:*fib",	    "uv__io_poll", "handle_video",
			       "LazyCompile:~main", "schedule_[k]", "foo_[j]"};
	int want[] = {LSC_CODE_KERNEL, LSC_CODE_JIT,	LSC_CODE_RUNTIME, LSC_CODE_NATIVE,
		      LSC_CODE_JIT,    LSC_CODE_KERNEL, LSC_CODE_JIT};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len = strlen(names[i]);

		ASSERT_EQ(lsc_flame_guess_kind(names[i], &len), want[i]);
		if (strstr(names[i], "_["))
			ASSERT_EQ(len, strlen(names[i]) - 4); /* the annotation is not the name */
	}
}

TEST(recording_samples_by_kind_and_thread)
{
	uint64_t s1[] = {0x1010, 0x1110}, s2[] = {0x1210, 0x1110}, s3[] = {0x7f0000001234, 0x1110};
	uint32_t stacks[3], tids[3] = {1, 1, 2};
	uint64_t values[3] = {10, 20, 30};
	struct lsc_recording *r;
	struct lsc_flame *f;
	struct rb b;

	snprintf(path, sizeof(path), "/tmp/lsc-flame-%d.lsr", (int)getpid());
	rb_open(&b, path);
	rb_header(&b, 1, "app", "synthetic");
	stacks[0] = stacks[1] = rb_stack(&b, s1, 2, 0);
	stacks[2] = rb_stack(&b, s2, 2, 0);
	rb_symbol(&b, 0x1010, "leaf_a", NULL, 0, 0, 0);
	rb_symbol(&b, 0x1210, "leaf_b", NULL, 0, 0, 0);
	rb_symbol(&b, 0x1110, "caller", NULL, 0, 0, 0);
	rb_mapping(&b, 2, 0x7f0000000000, 0x7f0000100000, 0x2000,
		   "/lib/x86_64-linux-gnu/libfoo.so.1");
	rb_samples(&b, LOOPSCOPE__SAMPLE_KIND__CPU, (uint32_t[]){rb_stack(&b, s3, 2, 0)},
		   (uint64_t[]){4}, NULL, 1);
	rb_samples(&b, LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES, stacks, values, tids, 3);
	rb_blocking(&b, 1, "read", 500, stacks[2], 2);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(path, &r, NULL));
	unlink(path);

	ASSERT_OK(lsc_flame_from_recording(r, LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES, 0, NULL, &f));
	ASSERT_STR_EQ(render(f, 0, 0), "caller;leaf_a 30\ncaller;leaf_b 30\n");
	lsc_flame_free(f);
	ASSERT_OK(lsc_flame_from_recording(r, LOOPSCOPE__SAMPLE_KIND__ALLOC_BYTES, 2, NULL, &f));
	ASSERT_STR_EQ(render(f, 0, 0), "caller;leaf_b 30\n");
	lsc_flame_free(f);
	/* No blocking samples: the blocking events, weighted by duration. */
	ASSERT_OK(lsc_flame_from_recording(r, LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, 0, NULL, &f));
	ASSERT_STR_EQ(render(f, 0, 0), "caller;leaf_b 500\n");
	lsc_flame_free(f);
	/* A frame nobody can name keeps its module and offset (file offset 0x2000 + 0x1234). */
	ASSERT_OK(lsc_flame_from_recording(r, LOOPSCOPE__SAMPLE_KIND__CPU, 0, NULL, &f));
	ASSERT_STR_EQ(render(f, 0, 0), "caller;libfoo.so.1+0x3234 4\n");
	lsc_flame_free(f);
	ASSERT_EQ(lsc_flame_from_recording(r, LOOPSCOPE__SAMPLE_KIND__OFFCPU, 0, NULL, &f),
		  LSC_ENODATA);
	lsc_recording_free(r);
}

TEST(svg_leaves_out_frames_narrower_than_minwidth)
{
	struct lsc_flame *f;
	uint64_t bad;
	char *text = malloc(1 << 20), *p = text, *svg;
	int i;

	p += sprintf(p, "main;big 1000000\n");
	for (i = 0; i < 1000; i++)
		p += sprintf(p, "main;tiny%d 1\n", i);
	write_file(text);
	free(text);
	ASSERT_OK(lsc_flame_from_folded(path, &f, &bad));
	unlink(path);
	svg = render(f, 1, 0.1);
	/* all, main, big: each tiny frame is 0.001 px wide at 1200 px */
	ASSERT_EQ(count(svg, "<g class=\"f\""), 3);
	ASSERT_TRUE(strstr(svg, "big (1000000 samples, 99.90%)") != NULL);
	svg = render(f, 1, 0);
	ASSERT_EQ(count(svg, "<g class=\"f\""), 1003);
	/* Names are escaped. */
	lsc_flame_free(f);
	write_file("a<b>&\"c' 3\n");
	ASSERT_OK(lsc_flame_from_folded(path, &f, &bad));
	unlink(path);
	svg = render(f, 1, 0.1);
	ASSERT_TRUE(strstr(svg, "a&lt;b&gt;&amp;&quot;c&apos; (3 samples") != NULL);
	lsc_flame_free(f);
}

/* Weights are 64-bit: a count that does not fit, or one that takes the total past 2^64 - 1, is a
 * bad line, and a recording whose values add up past it is refused, so that no total wraps and
 * no frame is drawn wider than its parent (fuzz_folded found a frame 10^20 pixels wide, its
 * label length cast from a double out of range). Up to 2^64 - 1 every frame still fits. */
TEST(weights_past_64_bits)
{
	static const uint64_t frames[] = {0x401000};
	static const uint32_t ids[] = {1, 1};
	static const uint64_t values[] = {10000000000000000000ULL, 10000000000000000000ULL};
	struct lsc_recording *r;
	struct lsc_flame *f;
	const struct lsc_flame_node *nodes;
	char *svg, *p;
	uint64_t bad;
	size_t n, i, drawn = 0;
	struct rb b;

	write_file("a;b 1\na 18446744073709551616\n"); /* 2^64 */
	ASSERT_EQ(lsc_flame_from_folded(path, &f, &bad), LSC_EBADFOLDED);
	ASSERT_EQ(bad, 2);
	write_file("main;read 10000000000000000000\n"
		   "main;poll 8446744073709551615\n"
		   "other 1\n");
	ASSERT_EQ(lsc_flame_from_folded(path, &f, &bad), LSC_EBADFOLDED);
	ASSERT_EQ(bad, 3);
	write_file("main;read 10000000000000000000\n"
		   "main;poll 8446744073709551614\n"
		   "other 1\n");
	ASSERT_OK(lsc_flame_from_folded(path, &f, &bad));
	unlink(path);
	nodes = lsc_flame_nodes(f, &n);
	ASSERT_EQ(lsc_flame_total(f), UINT64_MAX);
	for (i = 1; i < n; i++)
		ASSERT_CMP(nodes[i].total, <=, nodes[nodes[i].parent].total);
	svg = render(f, 1, 0.1);
	/* every frame fits in the 1200-pixel graph (1180 between the paddings) */
	for (p = svg; (p = strstr(p, "<rect x=\"")); p++) {
		double x, w;

		if (sscanf(p, "<rect x=\"%lf\" y=\"%*f\" width=\"%lf\"", &x, &w) != 2)
			continue;
		ASSERT_CMP(x + w, <=, 1190.05);
		drawn++;
	}
	ASSERT_CMP(drawn, >=, 4); /* all, main, read, poll */
	lsc_flame_free(f);
	/* the same sum from a recording's samples */
	rb_open(&b, path);
	rb_stack(&b, frames, 1, 0);
	rb_samples(&b, LOOPSCOPE__SAMPLE_KIND__CPU, ids, values, NULL, 2);
	rb_close(&b);
	ASSERT_OK(lsc_recording_read(path, &r, NULL));
	unlink(path);
	ASSERT_EQ(lsc_flame_from_recording(r, LOOPSCOPE__SAMPLE_KIND__CPU, 0, NULL, &f), -ERANGE);
	lsc_recording_free(r);
}

TEST_MAIN(TEST_ENTRY(folded_lines_merge_into_one_tree), TEST_ENTRY(bad_lines_are_named),
	  TEST_ENTRY(a_line_longer_than_the_read_buffer),
	  TEST_ENTRY(kinds_from_names_and_annotations),
	  TEST_ENTRY(recording_samples_by_kind_and_thread),
	  TEST_ENTRY(svg_leaves_out_frames_narrower_than_minwidth),
	  TEST_ENTRY(weights_past_64_bits))
