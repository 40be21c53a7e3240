/* test_map.c — the managed Map: lookups through growth and deletion, and what the GC keeps. */
#include "task.h"
#include "rl_internal.h"

static uint64_t count_of(const char *name)
{
	uint32_t n, i;
	const struct rl_type_stat *t = rl__heap_types(&n);

	for (i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return t[i].count;
	return 0;
}

TEST(set_get_delete_through_growth_and_gc)
{
	struct rl_object *map;
	int value_type;
	uint64_t k;

	ASSERT_OK(rl_init(NULL));
	value_type = rl_type_register("Value");
	map = rl_map_new();
	ASSERT_TRUE(map != NULL);
	ASSERT_OK(rl_root_add(&map));
	for (k = 0; k < 10000; k++) {
		struct rl_object *v = rl_alloc(value_type, 0, 8);

		*(uint64_t *)rl_obj_payload(v) = k * 7;
		ASSERT_OK(rl_map_set(map, k * 1000003, v));
	}
	ASSERT_EQ(rl_map_size(map), 10000);
	for (k = 0; k < 10000; k += 2)
		ASSERT_OK(rl_map_delete(map, k * 1000003));
	ASSERT_EQ(rl_map_delete(map, 0), UV_ENOENT);
	ASSERT_EQ(rl_map_size(map), 5000);
	rl_gc();
	ASSERT_EQ(count_of("Value"), 5000);
	ASSERT_EQ(count_of("Map"), 1);
	ASSERT_EQ(count_of("(map table)"), 1); /* the outgrown tables were garbage */
	for (k = 0; k < 10000; k++) {
		struct rl_object *v = rl_map_get(map, k * 1000003);

		if (k % 2 == 0) {
			ASSERT_TRUE(v == NULL);
		} else {
			ASSERT_TRUE(v != NULL);
			ASSERT_EQ(*(uint64_t *)rl_obj_payload(v), k * 7);
		}
	}
	/* Overwriting keeps the size and drops the old value. */
	ASSERT_OK(rl_map_set(map, 1000003, rl_alloc(value_type, 0, 8)));
	ASSERT_EQ(rl_map_size(map), 5000);
	rl_gc();
	ASSERT_EQ(count_of("Value"), 5000);
	rl_release();
}

TEST(churn_with_deletes_stays_bounded)
{
	struct rl_object *map;
	struct rl_heap_stats hs;
	int value_type;
	uint64_t k;

	ASSERT_OK(rl_init(NULL));
	value_type = rl_type_register("Value");
	map = rl_map_new();
	ASSERT_OK(rl_root_add(&map));
	/* An LRU-like window of 100 keys sliding over 200000: tombstones must not grow the table.
	 */
	for (k = 0; k < 200000; k++) {
		ASSERT_OK(rl_map_set(map, k, rl_alloc(value_type, 0, 8)));
		if (k >= 100)
			ASSERT_OK(rl_map_delete(map, k - 100));
	}
	ASSERT_EQ(rl_map_size(map), 100);
	rl_gc();
	rl_heap_stats_get(&hs);
	ASSERT_EQ(count_of("Value"), 100);
	ASSERT_CMP(hs.live_after_gc, <, 16384);
	rl_release();
}

TEST_MAIN(TEST_ENTRY(set_get_delete_through_growth_and_gc),
	  TEST_ENTRY(churn_with_deletes_stays_bounded))
