/*
 * stats.c — refloop's ground truth from the inside: the --stats JSON file, written at exit and on
 * SIGUSR1 (both on the loop thread), to a temporary name and renamed, so a reader never sees a
 * partial file. The schema is documented in docs/probes.md; tests and loopscope's own accuracy
 * checks read it.
 *
 * ELU is libuv's own: 1 - uv_metrics_idle_time() / wall time since the loop started.
 */
#include "rl_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <json-c/json_object.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static void put(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static json_object *loop_json(void)
{
	struct rl__loop_stats ls;
	json_object *o = json_object_new_object(), *opened = json_object_new_object();
	double elu;
	int t;

	rl__loop_stats_get(&ls);
	elu = ls.wall_ns ? 1.0 - (double)ls.idle_ns / (double)ls.wall_ns : 0.0;
	put(o, "wall_ns", u64(ls.wall_ns));
	put(o, "idle_ns", u64(ls.idle_ns));
	put(o, "busy_ns", u64(ls.wall_ns > ls.idle_ns ? ls.wall_ns - ls.idle_ns : 0));
	put(o, "elu", json_object_new_double(elu));
	put(o, "iterations", u64(ls.iterations));
	put(o, "callbacks", u64(ls.callbacks));
	put(o, "ticks", u64(ls.ticks));
	put(o, "microtasks", u64(ls.microtasks));
	put(o, "max_tick_drain_ns", u64(ls.max_drain_ns));
	put(o, "active_handles", u64(ls.active_handles));
	put(o, "peak_active_handles", u64(ls.peak_active_handles));
	put(o, "peak_active_reqs", u64(ls.peak_active_reqs));
	for (t = 1; t < UV_HANDLE_TYPE_MAX; t++) {
		json_object *h;

		if (!ls.handles_opened[t])
			continue;
		h = json_object_new_object();
		put(h, "opened", u64(ls.handles_opened[t]));
		put(h, "closed", u64(ls.handles_closed[t]));
		put(opened, uv_handle_type_name(t), h);
	}
	put(o, "handles", opened);
	return o;
}

static int by_bytes_desc(const void *a, const void *b)
{
	const struct rl_type_stat *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : strcmp(x->name, y->name);
}

static json_object *gc_json(void)
{
	struct rl_heap_stats hs;
	json_object *o = json_object_new_object(), *types = json_object_new_array();
	json_object *hist = json_object_new_array();
	const struct rl_type_stat *ts;
	struct rl_type_stat sorted[256];
	uint64_t dropped;
	uint32_t n, i;
	size_t h, nh;

	rl_heap_stats_get(&hs);
	put(o, "collections", u64(hs.collections));
	put(o, "pause_total_ns", u64(hs.pause_total_ns));
	put(o, "pause_max_ns", u64(hs.pause_max_ns));
	put(o, "used_bytes", u64(hs.used_bytes));
	put(o, "committed_bytes", u64(hs.committed_bytes));
	put(o, "live_after_gc", u64(hs.live_after_gc));
	put(o, "allocated_total", u64(hs.allocated_total));
	put(o, "objects_allocated", u64(hs.objects_allocated));
	put(o, "objects_freed", u64(hs.objects_freed));

	ts = rl__heap_types(&n);
	if (n > RL_ARRAY_SIZE(sorted))
		n = RL_ARRAY_SIZE(sorted);
	memcpy(sorted, ts, n * sizeof(*ts));
	qsort(sorted, n, sizeof(*sorted), by_bytes_desc);
	for (i = 0; i < n; i++) {
		json_object *t = json_object_new_object();

		put(t, "name", json_object_new_string(sorted[i].name));
		put(t, "count", u64(sorted[i].count));
		put(t, "bytes", u64(sorted[i].bytes));
		json_object_array_add(types, t);
	}
	put(o, "types_after_last_gc", types);

	nh = rl__heap_history_count(&dropped);
	for (h = 0; h < nh; h++) {
		const struct rl__gc_record *r = rl__heap_history_get(h);
		json_object *e = json_object_new_object();

		put(e, "t_ns", u64(r->t_ns));
		put(e, "pause_ns", u64(r->pause_ns));
		put(e, "before", u64(r->before));
		put(e, "live_after", u64(r->live_after));
		json_object_array_add(hist, e);
	}
	put(o, "history", hist);
	put(o, "history_dropped", u64(dropped));
	return o;
}

static json_object *pool_json(void)
{
	struct rl__pool_stats ps;
	json_object *o = json_object_new_object();

	rl__pool_stats_get(&ps);
	put(o, "size", u64(ps.size));
	put(o, "submitted", u64(ps.submitted));
	put(o, "started", u64(ps.started));
	put(o, "completed", u64(ps.completed));
	put(o, "peak_depth", u64(ps.peak_depth));
	put(o, "wait_total_ns", u64(ps.wait_total_ns));
	put(o, "wait_max_ns", u64(ps.wait_max_ns));
	put(o, "wait_p50_ns", u64(ps.wait_p50_ns));
	put(o, "wait_p99_ns", u64(ps.wait_p99_ns));
	return o;
}

static json_object *http_json(void)
{
	struct rl__http_stats hs;
	json_object *o = json_object_new_object();

	rl__http_stats_get(&hs);
	put(o, "connections", u64(hs.connections));
	put(o, "requests", u64(hs.requests));
	put(o, "responses", u64(hs.responses));
	put(o, "aborted", u64(hs.aborted));
	put(o, "bytes_out", u64(hs.bytes_out));
	put(o, "stream_pauses", u64(hs.stream_pauses));
	put(o, "stream_resumes", u64(hs.stream_resumes));
	put(o, "peak_write_queue", u64(hs.peak_write_queue));
	return o;
}

static json_object *stats_json(void)
{
	struct rl__buffer_stats bs;
	const struct rl__counter *c;
	json_object *root = json_object_new_object(), *buf = json_object_new_object();
	json_object *sc = json_object_new_object();
	size_t i, n;

	put(root, "program", json_object_new_string(rl__options_name()));
	put(root, "pid", u64((uint64_t)getpid()));
	put(root, "libuv", json_object_new_string(uv_version_string()));
	put(root, "loop", loop_json());
	put(root, "gc", gc_json());
	put(root, "pool", pool_json());
	put(root, "http", http_json());
	rl__buffer_stats_get(&bs);
	put(buf, "live_bytes", u64(bs.live_bytes));
	put(buf, "peak_bytes", u64(bs.peak_bytes));
	put(buf, "allocated_total", u64(bs.allocated_total));
	put(root, "buffers", buf);
	n = rl__counters(&c);
	for (i = 0; i < n; i++)
		put(sc, c[i].name, u64(c[i].value));
	put(root, "scenario", sc);
	return root;
}

int rl_stats_write(void)
{
	const char *path = rl__options_stats_path();
	json_object *root;
	char tmp[4096];
	FILE *f;
	int err = 0;

	if (!path)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return UV_ENAMETOOLONG;
	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_THREAD);
	root = stats_json();
	f = fopen(tmp, "w");
	if (!f) {
		json_object_put(root);
		return uv_translate_sys_error(errno);
	}
	if (fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE),
		  f) < 0 ||
	    fputc('\n', f) == EOF)
		err = UV_EIO;
	if (fclose(f) && !err)
		err = UV_EIO;
	json_object_put(root);
	if (!err && rename(tmp, path))
		err = uv_translate_sys_error(errno);
	if (err)
		unlink(tmp);
	return err;
}
