/*
 * observer_probe.c — a stand-in for a preloaded agent, for the observer-contract test: found by
 * LD_PRELOAD, it registers with dlsym(RTLD_DEFAULT, "rl_observer_register") from its constructor
 * (before main) and, at exit, writes what it saw to $OBSERVER_PROBE_OUT.
 */
#include "refloop.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long gcs, last_live, opens, closes, begins, ends, found;

static void gc_end(void *ctx, const struct rl_gc_info *i)
{
	gcs++;
	last_live = i->live_after;
}

static void h_open(void *ctx, int t)
{
	opens++;
}

static void h_close(void *ctx, int t)
{
	closes++;
}

static void cb_begin(void *ctx, int k)
{
	begins++;
}

static void cb_end(void *ctx, int k)
{
	ends++;
}

__attribute__((constructor)) static void probe_init(void)
{
	static const struct rl_observer obs = {
		RL_OBSERVER_VERSION, NULL, gc_end, h_open, h_close, cb_begin, cb_end};
	rl_observer_register_fn reg =
		(rl_observer_register_fn)dlsym(RTLD_DEFAULT, "rl_observer_register");

	found = reg && dlsym(RTLD_DEFAULT, "uv_default_loop") && reg(&obs) == 0;
}

__attribute__((destructor)) static void probe_fini(void)
{
	const char *out = getenv("OBSERVER_PROBE_OUT");
	FILE *f = out ? fopen(out, "w") : NULL;

	if (!f)
		return;
	fprintf(f, "%lu %lu %lu %lu %lu %lu %lu\n", found, gcs, last_live, opens, closes, begins,
		ends);
	fclose(f);
}
