/*
 * observer.c — the in-process observer registry that a preloaded agent reaches through
 * dlsym(RTLD_DEFAULT, "rl_observer_register") (exported by refloop.dynlist), and its fan-out.
 *
 * Registration may come from any thread at any time, even from a preloaded library's constructor
 * before main(): slots are filled first and published with a release store of the count, and the
 * loop thread reads the count with an acquire load. Observers are never removed.
 */
#include "rl_internal.h"

#include <errno.h>

#define MAX_OBSERVERS 4

static struct rl_observer observers[MAX_OBSERVERS];
static _Atomic int nobservers;
static _Atomic int reserved;

__attribute__((visibility("default"))) int rl_observer_register(const struct rl_observer *obs)
{
	int slot;

	if (!obs || obs->version != RL_OBSERVER_VERSION)
		return -EINVAL;
	slot = atomic_fetch_add(&reserved, 1);
	if (slot >= MAX_OBSERVERS)
		return -ENOSPC;
	observers[slot] = *obs;
	/* Publish in order, so the loop thread never sees a half-written slot. */
	while (atomic_load(&nobservers) != slot)
		;
	atomic_store_explicit(&nobservers, slot + 1, memory_order_release);
	return 0;
}

static inline int count(void)
{
	return atomic_load_explicit(&nobservers, memory_order_acquire);
}

void rl__obs_gc_end(const struct rl_gc_info *info)
{
	int i, n = count();

	for (i = 0; i < n; i++)
		if (observers[i].gc_end)
			observers[i].gc_end(observers[i].ctx, info);
}

void rl__obs_handle(int open, int uv_type)
{
	int i, n = count();

	for (i = 0; i < n; i++) {
		void (*fn)(void *, int) =
			open ? observers[i].handle_open : observers[i].handle_close;

		if (fn)
			fn(observers[i].ctx, uv_type);
	}
}

void rl__obs_callback(int begin, int kind)
{
	int i, n = count();

	for (i = 0; i < n; i++) {
		void (*fn)(void *, int) =
			begin ? observers[i].callback_begin : observers[i].callback_end;

		if (fn)
			fn(observers[i].ctx, kind);
	}
}
