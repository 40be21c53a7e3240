/*
 * map.c — a managed hash map from uint64 keys to objects, the runtime's JS Map for caches.
 *
 * The map is an object of type "Map" with one reference, its table; the table is an object of type
 * "(map table)" whose reference slots are the values and whose payload holds the keys and one state
 * byte per slot (open addressing, linear probing, tombstones). Growing allocates a new table, so
 * everything a map holds is managed memory, traced by the collector like any other object.
 */
#include "rl_internal.h"

#include <string.h>

enum { SLOT_EMPTY = 0, SLOT_FULL = 1, SLOT_DELETED = 2 };

struct map_header {
	uint64_t count;
	uint64_t used; /* full + deleted */
};

static int map_type, table_type;

static int types_init(void)
{
	if (!map_type) {
		map_type = rl_type_register("Map");
		table_type = rl_type_register("(map table)");
	}
	return map_type > 0 && table_type > 0 ? 0 : UV_ENOMEM;
}

static inline uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t *keys_of(struct rl_object *t)
{
	return rl_obj_payload(t);
}

static inline uint8_t *state_of(struct rl_object *t)
{
	return (uint8_t *)(keys_of(t) + rl_obj_nrefs(t));
}

static struct rl_object *table_new(uint32_t cap)
{
	return rl_alloc(table_type, cap, (size_t)cap * (sizeof(uint64_t) + 1));
}

struct rl_object *rl_map_new(void)
{
	struct rl_object *m, *t;

	if (types_init())
		return NULL;
	m = rl_alloc(map_type, 1, sizeof(struct map_header));
	t = m ? table_new(8) : NULL;
	if (!t)
		return NULL;
	rl_obj_set_ref(m, 0, t);
	return m;
}

/* Slot of key, or of where it would go (the first tombstone seen, else the empty slot). */
static uint32_t find(struct rl_object *t, uint64_t key, int *found)
{
	uint32_t cap = rl_obj_nrefs(t), mask = cap - 1, i = mix(key) & mask, tomb = UINT32_MAX;
	uint64_t *k = keys_of(t);
	uint8_t *st = state_of(t);

	for (;; i = (i + 1) & mask) {
		if (st[i] == SLOT_EMPTY) {
			*found = 0;
			return tomb != UINT32_MAX ? tomb : i;
		}
		if (st[i] == SLOT_DELETED) {
			if (tomb == UINT32_MAX)
				tomb = i;
		} else if (k[i] == key) {
			*found = 1;
			return i;
		}
	}
}

static int grow(struct rl_object *m, struct map_header *h)
{
	struct rl_object *old = rl_obj_ref(m, 0), *t;
	uint32_t cap = rl_obj_nrefs(old), ncap = cap, i;

	/* Rehash in place of tombstones when the map itself is not that full. */
	if (h->count * 2 >= cap)
		ncap = cap * 2;
	t = table_new(ncap);
	if (!t)
		return UV_ENOMEM;
	for (i = 0; i < cap; i++) {
		int found;
		uint32_t j;

		if (state_of(old)[i] != SLOT_FULL)
			continue;
		j = find(t, keys_of(old)[i], &found);
		keys_of(t)[j] = keys_of(old)[i];
		state_of(t)[j] = SLOT_FULL;
		rl_obj_set_ref(t, j, rl_obj_ref(old, i));
	}
	h->used = h->count;
	rl_obj_set_ref(m, 0, t);
	return 0;
}

int rl_map_set(struct rl_object *m, uint64_t key, struct rl_object *value)
{
	struct map_header *h = rl_obj_payload(m);
	struct rl_object *t = rl_obj_ref(m, 0);
	uint32_t i;
	int found, err;

	if ((h->used + 1) * 4 > (uint64_t)rl_obj_nrefs(t) * 3) {
		err = grow(m, h);
		if (err)
			return err;
		t = rl_obj_ref(m, 0);
	}
	i = find(t, key, &found);
	if (!found) {
		if (state_of(t)[i] == SLOT_EMPTY)
			h->used++;
		h->count++;
		keys_of(t)[i] = key;
		state_of(t)[i] = SLOT_FULL;
	}
	rl_obj_set_ref(t, i, value);
	return 0;
}

struct rl_object *rl_map_get(struct rl_object *m, uint64_t key)
{
	struct rl_object *t = rl_obj_ref(m, 0);
	int found;
	uint32_t i = find(t, key, &found);

	return found ? rl_obj_ref(t, i) : NULL;
}

int rl_map_delete(struct rl_object *m, uint64_t key)
{
	struct map_header *h = rl_obj_payload(m);
	struct rl_object *t = rl_obj_ref(m, 0);
	int found;
	uint32_t i = find(t, key, &found);

	if (!found)
		return UV_ENOENT;
	state_of(t)[i] = SLOT_DELETED;
	rl_obj_set_ref(t, i, NULL);
	h->count--;
	return 0;
}

size_t rl_map_size(struct rl_object *m)
{
	return ((struct map_header *)rl_obj_payload(m))->count;
}
