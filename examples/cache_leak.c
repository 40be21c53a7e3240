/*
 * cache-leak — an unbounded cache: every request stores a SessionCacheEntry in a global Map that is
 * never evicted, so the live managed heap after each GC grows linearly with requests, all of it in
 * one type. Per-request scratch objects die young, so collections do happen.
 *
 * Node equivalent: const cache = new Map(); cache.set(id, new SessionCacheEntry(...)).
 * Ground truth: scenario.cache_entries, gc.history[].live_after, gc.types_after_last_gc.
 */
#include "refloop_app.h"

#include <string.h>

static uint64_t entry_bytes = 2048;
static struct rl_object *cache;
static int entry_type, scratch_type;

static void handle_session(void *arg, struct rl_http_req *req)
{
	struct rl_object *entry = rl_alloc(entry_type, 0, entry_bytes);
	struct rl_object *scratch = rl_alloc(scratch_type, 0, 4096);

	if (!entry || !scratch || rl_map_set(cache, rl_http_req_id(req), entry)) {
		rl_http_respond(req, 503, "text/plain", "busy\n", 5);
		return;
	}
	memset(rl_obj_payload(entry), 0x5a, entry_bytes);
	rl_counter_add("cache_entries", 1);
	rl_http_respond(req, 200, "text/plain", "cached\n", 7);
}

static int start(char *what, size_t cap)
{
	entry_type = rl_type_register("SessionCacheEntry");
	scratch_type = rl_type_register("RequestScratch");
	cache = rl_map_new();
	if (entry_type < 0 || scratch_type < 0 || !cache)
		return UV_ENOMEM;
	return rl_root_add(&cache);
}

static const struct rl_app_opt opts[] = {
	{"entry-bytes", RL_OPT_U64, &entry_bytes,
	 "BYTES payload of each cache entry (default 2048)"},
	{0},
};

int main(int argc, char **argv)
{
	static const struct rl_app app = {
		.name = "cache-leak",
		.summary = "Caches every session in a Map that is never evicted.",
		.opts = opts,
		.handler = handle_session,
		.start = start,
		.load_path = "/session",
	};

	return rl_app_main(argc, argv, &app);
}
