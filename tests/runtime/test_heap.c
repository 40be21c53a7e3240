/* test_heap.c — the managed heap and collector: exact counts of what survives and what is freed. */
#include "task.h"
#include "rl_internal.h"

static int node_type, garbage_type, cycle_type, big_type;

static void setup(uint64_t budget)
{
	struct rl_options o = {.name = "test", .heap_min_budget = budget};

	ASSERT_OK(rl_init(&o));
	node_type = rl_type_register("Node");
	garbage_type = rl_type_register("Garbage");
	cycle_type = rl_type_register("Cycle");
	big_type = rl_type_register("Big");
	ASSERT_CMP(node_type, >, 0);
	ASSERT_EQ(rl_type_register("Node"), node_type);
}

static const struct rl_type_stat *type_stat(const char *name)
{
	uint32_t n, i;
	const struct rl_type_stat *t = rl__heap_types(&n);

	for (i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	LSC_FAIL("no type %s in the table", name);
}

TEST(gc_frees_unreachable_keeps_rooted)
{
	struct rl_object *root = NULL, *prev = NULL, *a, *b;
	struct rl_heap_stats hs;
	uint64_t node_bytes = 0;
	int i;

	setup(0);
	for (i = 0; i < 10; i++) {
		struct rl_object *n = rl_alloc(node_type, 1, 40);

		ASSERT_TRUE(n != NULL);
		if (prev)
			rl_obj_set_ref(prev, 0, n);
		else
			root = n;
		prev = n;
	}
	for (i = 0; i < 1000; i++)
		ASSERT_TRUE(rl_alloc(garbage_type, 0, i % 300) != NULL);
	a = rl_alloc(cycle_type, 1, 8);
	b = rl_alloc(cycle_type, 1, 8);
	rl_obj_set_ref(a, 0, b);
	rl_obj_set_ref(b, 0, a);
	ASSERT_OK(rl_root_add(&root));
	rl_heap_stats_get(&hs);
	ASSERT_EQ(hs.objects_allocated, 1012);

	rl_gc();
	rl_heap_stats_get(&hs);
	ASSERT_EQ(hs.collections, 1);
	ASSERT_EQ(hs.objects_freed, 1002);
	ASSERT_EQ(type_stat("Node")->count, 10);
	ASSERT_EQ(type_stat("Garbage")->count, 0);
	ASSERT_EQ(type_stat("Cycle")->count, 0);
	node_bytes = type_stat("Node")->bytes;
	ASSERT_EQ(node_bytes, 10 * 64); /* 16 header + 8 ref + 40 payload */
	ASSERT_EQ(hs.used_bytes, node_bytes);
	ASSERT_EQ(hs.live_after_gc, node_bytes);

	/* The survivors are intact. */
	for (i = 0, prev = root; prev; prev = rl_obj_ref(prev, 0))
		i++;
	ASSERT_EQ(i, 10);

	rl_root_remove(&root);
	rl_gc();
	rl_heap_stats_get(&hs);
	ASSERT_EQ(hs.used_bytes, 0);
	ASSERT_EQ(hs.committed_bytes, 0); /* empty pages are returned */
	rl_release();
}

TEST(deep_chain_marks_without_recursion)
{
	struct rl_object *root = NULL, *prev = NULL;
	const int n = 1000000;
	struct rl_heap_stats hs;
	int i;

	setup(0);
	ASSERT_OK(rl_root_add(&root));
	for (i = 0; i < n; i++) {
		struct rl_object *o = rl_alloc(node_type, 1, 0);

		ASSERT_TRUE(o != NULL);
		if (prev)
			rl_obj_set_ref(prev, 0, o);
		else
			root = o;
		prev = o;
	}
	rl_gc();
	ASSERT_EQ(type_stat("Node")->count, n);
	root = NULL;
	rl_gc();
	rl_heap_stats_get(&hs);
	ASSERT_EQ(type_stat("Node")->count, 0);
	ASSERT_EQ(hs.objects_freed, n);
	ASSERT_EQ(hs.committed_bytes, 0);
	rl_release();
}

TEST(large_objects_are_collected_and_unmapped)
{
	struct rl_object *keep;
	struct rl_heap_stats before, after;
	int i;

	setup(0);
	keep = rl_alloc(big_type, 2, 100000);
	ASSERT_TRUE(keep != NULL);
	ASSERT_OK(rl_root_add(&keep));
	for (i = 0; i < 5; i++)
		ASSERT_TRUE(rl_alloc(big_type, 0, 200000) != NULL);
	rl_obj_set_ref(keep, 1, rl_alloc(big_type, 0, 50000));
	rl_heap_stats_get(&before);
	rl_gc();
	rl_heap_stats_get(&after);
	ASSERT_EQ(type_stat("Big")->count, 2);
	ASSERT_EQ(after.objects_freed, 5);
	ASSERT_CMP(after.committed_bytes, <, before.committed_bytes - 5 * 200000);
	ASSERT_EQ(((unsigned char *)rl_obj_payload(keep))[99999], 0);
	ASSERT_EQ(rl_obj_payload_size(keep), 100000);
	rl_release();
}

static uint64_t collections_inside, allocated_inside;

static void allocate_garbage(void *arg)
{
	struct rl_heap_stats hs;
	int i;

	for (i = 0; i < 4096; i++)
		ASSERT_TRUE(rl_alloc(garbage_type, 0, 1000) != NULL);
	rl_heap_stats_get(&hs);
	collections_inside = hs.collections;
	allocated_inside = hs.objects_allocated;
}

TEST(budget_triggers_gc_at_the_next_safe_point)
{
	struct rl_heap_stats hs;

	setup(1u << 20);
	ASSERT_OK(rl_set_timeout(1, allocate_garbage, NULL, NULL));
	ASSERT_OK(rl_run());
	/* 4 MiB allocated in one callback against a 1 MiB budget: no collection inside it (safe
	 * points are between callbacks), exactly one right after it, and everything was garbage. */
	ASSERT_EQ(collections_inside, 0);
	ASSERT_EQ(allocated_inside, 4096);
	rl_heap_stats_get(&hs);
	ASSERT_EQ(hs.collections, 1);
	ASSERT_EQ(hs.objects_freed, 4096);
	ASSERT_EQ(hs.used_bytes, 0);
	rl_release();
}

static struct rl_gc_info seen;
static uint64_t seen_nodes;

static void on_gc_end(void *ctx, const struct rl_gc_info *info)
{
	uint32_t i;

	seen = *info;
	for (i = 0; i < info->ntypes; i++)
		if (strcmp(info->types[i].name, "Node") == 0)
			seen_nodes = info->types[i].count;
}

TEST(observer_sees_each_gc_with_its_type_table)
{
	struct rl_observer obs = {.version = RL_OBSERVER_VERSION, .gc_end = on_gc_end};
	struct rl_observer bad = {.version = 99};
	struct rl_object *keep;
	int i;

	setup(0);
	ASSERT_OK(rl_observer_register(&obs));
	ASSERT_EQ(rl_observer_register(&bad), -EINVAL);
	keep = rl_alloc(node_type, 0, 100);
	ASSERT_OK(rl_root_add(&keep));
	for (i = 0; i < 100; i++)
		rl_alloc(garbage_type, 0, 100);
	rl_gc();
	ASSERT_EQ(seen.seq, 1);
	ASSERT_EQ(seen.live_after, 128);
	ASSERT_EQ(seen.heap_before, 128 * 101);
	ASSERT_EQ(seen_nodes, 1);
	ASSERT_CMP(seen.pause_ns, >, 0);
	rl_release();
}

TEST_MAIN(TEST_ENTRY(gc_frees_unreachable_keeps_rooted),
	  TEST_ENTRY(deep_chain_marks_without_recursion),
	  TEST_ENTRY(large_objects_are_collected_and_unmapped),
	  TEST_ENTRY(budget_triggers_gc_at_the_next_safe_point),
	  TEST_ENTRY(observer_sees_each_gc_with_its_type_table))
