/*
 * test_heap_analysis.c — memory growth and leaks (analysis/heap.c) on inputs a fuzzer or a damaged
 * file gives: series out of time order, managed types without names, and stack ids as large as the
 * format allows, whose sites must cost memory in proportion to what the file holds.
 */
#include "task.h"
#include "rec_builder.h"
#include "lsc_heap.h"

#include <math.h>
#include <sys/resource.h>

#define MIB 1048576.0

/* 40 points a second apart, climbing 1 MiB a second from 64 MiB: a leak. */
static void leak_series(struct lsc_heap_point *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (struct lsc_heap_point){(double)i, 64 * MIB + (double)i * MIB};
}

TEST(trend_of_points_out_of_time_order)
{
	struct lsc_heap_point sorted[40], shuffled[40];
	struct lsc_heap_series s = {sorted, 40};
	struct lsc_heap_trend a, b;
	size_t i;

	leak_series(sorted, 40);
	/* the same points in another order: odd ones first, then even ones backwards */
	for (i = 0; i < 20; i++) {
		shuffled[i] = sorted[2 * i + 1];
		shuffled[20 + i] = sorted[38 - 2 * i];
	}
	lsc_heap_trend(&s, &a);
	s.p = shuffled;
	lsc_heap_trend(&s, &b);
	ASSERT_EQ(a.verdict, LSC_GROWTH_LEAK);
	ASSERT_EQ(b.verdict, LSC_GROWTH_LEAK);
	ASSERT_CMP(fabs(a.rate - MIB), <, 1);
	ASSERT_EQ(b.rate, a.rate);
	ASSERT_EQ(b.first, a.first);
	ASSERT_EQ(b.last, a.last);
	ASSERT_STR_EQ(b.how, a.how);
}

static void gc_with_types(struct rb *b, uint64_t t, uint64_t after, const char *const *names,
			  const uint64_t *bytes, size_t n)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event e = LOOPSCOPE__EVENT__INIT;
	Loopscope__GcEvent g = LOOPSCOPE__GC_EVENT__INIT;
	Loopscope__TypeStat ts[4], *tsp[4];
	size_t i;

	for (i = 0; i < n; i++) {
		loopscope__type_stat__init(&ts[i]);
		ts[i].name = (char *)names[i];
		ts[i].has_bytes = 1;
		ts[i].bytes = bytes[i];
		tsp[i] = &ts[i];
	}
	e.has_t_ns = 1;
	e.t_ns = t;
	g.has_kind = g.has_pause_ns = g.has_heap_after = 1;
	g.kind = LOOPSCOPE__GC_EVENT__KIND__FULL;
	g.pause_ns = 1000000;
	g.heap_after = after;
	g.types = tsp;
	g.n_types = n;
	e.body_case = LOOPSCOPE__EVENT__BODY_GC;
	e.gc = &g;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &e;
	rb_put(b, &r);
}

static char file[256];

static struct lsc_recording *reread(void)
{
	struct lsc_recording *r;

	ASSERT_OK(lsc_recording_read(file, &r, NULL));
	unlink(file);
	return r;
}

/* TypeStat.name is optional: a type without one is left out, the others still ranked. */
TEST(managed_types_without_names)
{
	static const char *const names[] = {NULL, "Buffer", NULL};
	static const uint64_t first[] = {100, 1000, 5}, last[] = {900, 9000, 7};
	struct lsc_heap_report h;
	struct lsc_recording *r;
	struct rb b;

	snprintf(file, sizeof(file), "/tmp/lsc-heap-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/srv/app", "synthetic");
	gc_with_types(&b, 1000000000ULL, 10 << 20, names, first, 3);
	gc_with_types(&b, 2000000000ULL, 12 << 20, names, last, 3);
	rb_close(&b);
	r = reread();
	ASSERT_OK(lsc_heap_build(r, NULL, &h));
	ASSERT_EQ(h.ntypes, 1);
	ASSERT_STR_EQ(h.types[0].name, "Buffer");
	ASSERT_EQ(h.types[0].growth, 8000);
	lsc_heap_free(&h);
	lsc_recording_free(r);
}

static void snapshot(struct rb *b, int kind, uint32_t n, const uint32_t *ids,
		     const uint64_t *values, size_t count)
{
	rb_heap_snapshot(b, kind, n, 1, n * 1000000000ULL, ids, values, count);
}

/* A site's stack id is any 32-bit number: 0xfffffff0 costs what one site costs. The old code
 * sized its tables by the largest id (32 GiB for this one), which an address-space limit of
 * 1 GiB turns into a failure (ASan builds need their address space and run without it). */
TEST(a_huge_stack_id_costs_one_site)
{
	static const uint32_t ids[] = {7, 0xfffffff0u};
	static const uint64_t before[] = {4096, 65536}, after[] = {4096, 1 << 20};
	static const uint64_t frames[] = {0x401000};
	struct lsc_heap_report h;
	struct lsc_recording *r;
	struct rb b;

#ifndef __SANITIZE_ADDRESS__
	struct rlimit lim = {1u << 30, 1u << 30};

	ASSERT_OK(setrlimit(RLIMIT_AS, &lim));
#endif
	snprintf(file, sizeof(file), "/tmp/lsc-heap-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/srv/app", "synthetic");
	rb_stack(&b, frames, 1, 0);
	snapshot(&b, LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, 1, ids, before, 2);
	snapshot(&b, LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, 2, ids, after, 2);
	rb_close(&b);
	r = reread();
	ASSERT_OK(lsc_heap_build(r, NULL, &h));
	ASSERT_EQ(h.snapshots, 2);
	ASSERT_EQ(h.nsites, 2);
	ASSERT_EQ(h.sites[0].stack_id, 0xfffffff0u); /* by growth */
	ASSERT_EQ(h.sites[0].growth, (1 << 20) - 65536);
	ASSERT_EQ(h.sites[0].likely_leak, 1);
	ASSERT_EQ(h.sites[1].stack_id, 7);
	ASSERT_EQ(h.live_bytes, 4096 + (1 << 20));
	lsc_heap_free(&h);
	lsc_recording_free(r);
}

/*
 * The native and the JS heap's snapshots interleave, numbered from one counter: each heap is
 * read from its own. JS sites merge by owner (two paths into one app function are one site; a
 * node: internal frame is not the owner), and a native site in V8's own code with no JS frame is
 * the engine's, never a likely leak, once the JS heap is recorded.
 */
TEST(js_heap_sites_by_owner_and_the_engines_own)
{
	enum { HANDLER = 0x4000000000000001ULL, PARSE, ROUTE_A, ROUTE_B, INTERNAL };
	static const uint64_t path_a[] = {HANDLER, ROUTE_A}, path_b[] = {HANDLER, ROUTE_B};
	static const uint64_t deep[] = {INTERNAL, PARSE}, engine[] = {0x500000, 0x500100};
	static const uint32_t js_ids[] = {1, 2, 3}, native_ids[] = {4};
	static const uint64_t js0[] = {0, 0, 1 << 20}, js1[] = {30 << 20, 10 << 20, 1 << 20};
	static const uint64_t js2[] = {60 << 20, 20 << 20, 1 << 20};
	static const uint64_t n0[] = {1 << 20}, n1[] = {8 << 20}, n2[] = {16 << 20};
	struct lsc_heap_report h;
	struct lsc_recording *r;
	struct rb b;

	snprintf(file, sizeof(file), "/tmp/lsc-heap-%d.lsr", (int)getpid());
	rb_open(&b, file);
	rb_header(&b, 1, "/usr/bin/node", "agent");
	rb_symbol(&b, HANDLER, "keepItems", "/srv/app.js", 18, 1, 0);
	rb_symbol(&b, ROUTE_A, "handle", "/srv/node_modules/express/lib/router/index.js", 150, 1,
		  0);
	rb_symbol(&b, ROUTE_B, "next", "/srv/node_modules/express/lib/router/index.js", 189, 1, 0);
	rb_symbol(&b, INTERNAL, "Timeout", "node:internal/timers", 160, 1, 0);
	rb_symbol(&b, PARSE, "startWatch", "/srv/app.js", 12, 1, 0);
	rb_symbol(&b, engine[0], "v8::internal::Scavenger::EvacuateInPlaceInternalizableString", "",
		  0, 0, 0);
	rb_symbol(&b, engine[1], "v8::internal::Heap::Scavenge", "", 0, 0, 0);
	rb_stack(&b, path_a, 2, 0);
	rb_stack(&b, path_b, 2, 0);
	rb_stack(&b, deep, 2, 0);
	rb_stack(&b, engine, 2, 0);
	/* native 1, JS 2, native 3, JS 4, native 5, JS 6 */
	snapshot(&b, LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, 1, native_ids, n0, 1);
	snapshot(&b, LOOPSCOPE__SAMPLE_KIND__JS_LIVE_BYTES, 2, js_ids, js0, 3);
	snapshot(&b, LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, 3, native_ids, n1, 1);
	snapshot(&b, LOOPSCOPE__SAMPLE_KIND__JS_LIVE_BYTES, 4, js_ids, js1, 3);
	snapshot(&b, LOOPSCOPE__SAMPLE_KIND__LIVE_BYTES, 5, native_ids, n2, 1);
	snapshot(&b, LOOPSCOPE__SAMPLE_KIND__JS_LIVE_BYTES, 6, js_ids, js2, 3);
	rb_close(&b);
	r = reread();
	ASSERT_OK(lsc_heap_build(r, NULL, &h));
	/* the native heap: its three snapshots, its one site, the engine's */
	ASSERT_EQ(h.snapshots, 3);
	ASSERT_EQ(h.nsites, 1);
	ASSERT_EQ(h.sites[0].growth, 15 << 20);
	ASSERT_EQ(h.sites[0].engine, 1);
	ASSERT_EQ(h.sites[0].likely_leak, 0);
	/* the JS heap: the two paths into keepItems are one site, first; Timeout's is startWatch's
	 */
	ASSERT_EQ(h.js.snapshots, 3);
	ASSERT_EQ(h.js.nsites, 2);
	ASSERT_STR_EQ(h.js.sites[0].stack.owner.name, "keepItems");
	ASSERT_EQ(h.js.sites[0].stack.owner.line, 18);
	ASSERT_EQ(h.js.sites[0].stacks, 2);
	ASSERT_EQ(h.js.sites[0].growth, 80 << 20);
	ASSERT_EQ(h.js.sites[0].stack.total, 80 << 20);
	ASSERT_EQ(h.js.sites[0].likely_leak, 1);
	ASSERT_STR_EQ(h.js.sites[1].stack.owner.name, "startWatch");
	ASSERT_EQ(h.js.sites[1].growth, 0);
	ASSERT_EQ(h.js.live_bytes, (80 << 20) + (1 << 20));
	lsc_heap_free(&h);
	lsc_recording_free(r);
}

TEST_MAIN(TEST_ENTRY(trend_of_points_out_of_time_order), TEST_ENTRY(managed_types_without_names),
	  TEST_ENTRY(a_huge_stack_id_costs_one_site),
	  TEST_ENTRY(js_heap_sites_by_owner_and_the_engines_own))
