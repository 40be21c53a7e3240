/*
 * report_json.c — `loopscope report --json`: the same report for tools, with json-c. Times in
 * nanoseconds, sizes in bytes, shares in 0..1. Stable keys; documented in docs/report.md.
 */
#include "lsc_render.h"
#include "render_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <json-c/json_object.h>

static json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static void put(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

json_object *lsc__frame_json(const struct lsc_report_frame *f)
{
	json_object *o = json_object_new_object();

	put(o, "function", json_object_new_string(f->name));
	put(o, "file", f->file[0] ? json_object_new_string(f->file) : NULL);
	put(o, "line", f->line ? u64(f->line) : NULL);
	put(o, "code", json_object_new_string(lsc_owner_tier_name((enum lsc_owner_tier)f->tier)));
	return o;
}

static json_object *stacks_json(const struct lsc_report_stack *s, size_t n);

/* {count, total_ns[, top]} of one kind of long call. */
static json_object *kind_json(uint64_t count, uint64_t ns, const struct lsc_report_stack *s,
			      size_t n)
{
	json_object *o = json_object_new_object();

	put(o, "count", u64(count));
	put(o, "total_ns", u64(ns));
	if (s)
		put(o, "top", stacks_json(s, n));
	return o;
}

static json_object *stacks_json(const struct lsc_report_stack *s, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i, k;

	for (i = 0; i < n; i++) {
		json_object *o = json_object_new_object(), *fr = json_object_new_array();

		put(o, "what", json_object_new_string(s[i].what));
		put(o, "count", u64(s[i].count));
		put(o, "total", u64(s[i].total));
		put(o, "max", u64(s[i].max));
		put(o, "share", json_object_new_double(s[i].share));
		put(o, "owner", lsc__frame_json(&s[i].owner));
		for (k = 0; k < s[i].nframes; k++)
			json_object_array_add(fr, lsc__frame_json(&s[i].frames[k]));
		put(o, "frames", fr);
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *report_obj(const struct lsc_report *r)
{
	static const char *sev[] = {"info", "warning", "critical"};
	json_object *root = json_object_new_object(), *o, *a;
	size_t i;

	o = json_object_new_object();
	put(o, "pid", u64(r->pid));
	put(o, "executable", json_object_new_string(r->executable));
	put(o, "source", json_object_new_string(r->source));
	put(o, "duration_ns", u64(r->duration_ns));
	put(o, "start_unix_ns", u64(r->start_unix_ns));
	put(o, "span", json_object_new_boolean(r->cut));
	put(o, "complete", json_object_new_boolean(r->complete));
	put(o, "truncated", json_object_new_boolean(r->truncated));
	put(o, "windows", u64(r->windows));
	a = json_object_new_object();
	for (i = 0; i < r->ncounters; i++)
		put(a, r->counters[i].name, u64(r->counters[i].value));
	put(o, "counters", a);
	if (r->roots_cpu >= 0 || r->roots_offcpu >= 0 || r->roots_blocking >= 0) {
		a = json_object_new_object();
		if (r->roots_cpu >= 0)
			put(a, "cpu", json_object_new_double(r->roots_cpu));
		if (r->roots_offcpu >= 0)
			put(a, "offcpu", json_object_new_double(r->roots_offcpu));
		if (r->roots_blocking >= 0)
			put(a, "blocking", json_object_new_double(r->roots_blocking));
		put(o, "stack_roots", a);
	}
	put(root, "run", o);

	a = json_object_new_array();
	for (i = 0; i < r->nfindings; i++) {
		const struct lsc_finding *f = &r->findings[i];

		o = json_object_new_object();
		put(o, "id", json_object_new_string(f->id));
		put(o, "severity", json_object_new_string(sev[f->severity]));
		put(o, "title", json_object_new_string(f->title));
		put(o, "evidence", json_object_new_string(f->evidence));
		put(o, "frame", f->has_frame ? lsc__frame_json(&f->frame) : NULL);
		json_object_array_add(a, o);
	}
	put(root, "diagnosis", a);

	if (r->has_loop) {
		o = json_object_new_object();
		put(o, "elu_mean", json_object_new_double(r->elu_mean));
		put(o, "elu_p50", json_object_new_double(r->elu_p50));
		put(o, "elu_max", json_object_new_double(r->elu_max));
		put(o, "iterations", u64(r->iterations));
		put(o, "busy_p50_ns", u64(r->busy_p50));
		put(o, "busy_p99_ns", u64(r->busy_p99));
		put(o, "busy_max_ns", u64(r->busy_max));
		put(o, "lag_p50_ns", u64(r->lag_p50));
		put(o, "lag_p99_ns", u64(r->lag_p99));
		put(o, "lag_max_ns", u64(r->lag_max));
		if (r->frozen_windows) {
			put(o, "frozen_ns", u64(r->frozen_ns));
			put(o, "frozen_windows", u64(r->frozen_windows));
		}
		if (r->shutdown_windows || r->has_shutdown_at) { /* left out of the figures above */
			put(o, "shutdown_ns", u64(r->shutdown_ns));
			put(o, "shutdown_windows", u64(r->shutdown_windows));
			put(o, "shutdown_elu", json_object_new_double(r->shutdown_elu));
			if (r->has_shutdown_at) {
				put(o, "shutdown_at_ns", u64(r->shutdown_at_ns));
				put(o, "shutdown_reason",
				    json_object_new_string(r->shutdown_reason));
			}
			put(o, "drain_blocking_count", u64(r->drain_blocking_count));
			put(o, "drain_blocking_ns", u64(r->drain_blocking_ns));
			put(o, "drain_busy_count", u64(r->drain_busy_count));
			put(o, "drain_busy_ns", u64(r->drain_busy_ns));
			if (r->has_drain_owner)
				put(o, "drain_owner", lsc__frame_json(&r->drain_owner));
		}
		put(root, "loop", o);
	}
	if (r->has_pool) {
		o = json_object_new_object();
		put(o, "threads", u64(r->pool_threads));
		put(o, "depth_max", u64(r->pool_depth_max));
		put(o, "depth_mean",
		    r->has_pool_depth_mean ? json_object_new_double(r->pool_depth_mean) : NULL);
		put(o, "submitted_from",
		    r->has_pool_submitter ? lsc__frame_json(&r->pool_submitter) : NULL);
		put(o, "wait_p50_ns", u64(r->pool_wait_p50));
		put(o, "wait_p99_ns", u64(r->pool_wait_p99));
		put(o, "wait_max_ns", u64(r->pool_wait_max));
		put(root, "pool", o);
	}
	o = json_object_new_object();
	put(o, "count", u64(r->gc_count));
	put(o, "pause_total_ns", u64(r->gc_pause_total));
	put(o, "pause_max_ns", u64(r->gc_pause_max));
	put(o, "worst_second_ns", u64(r->gc_worst_second));
	put(root, "gc", o);
	o = json_object_new_object();
	if (r->has_native) {
		put(o, "native_first", u64(r->native_first));
		put(o, "native_last", u64(r->native_last));
		put(o, "native_max", u64(r->native_max));
	}
	if (r->has_managed) {
		put(o, "managed_live_first", u64(r->managed_first));
		put(o, "managed_live_last", u64(r->managed_last));
		put(o, "managed_slope_bytes_per_s", json_object_new_double(r->managed_slope));
		put(o, "managed_r2", json_object_new_double(r->managed_r2));
		put(o, "managed_top_type", json_object_new_string(r->managed_top_type));
	}
	put(o, "rss_max", u64(r->rss_max));
	put(o, "rss_max_is_peak", json_object_new_boolean(r->rss_max_is_peak));
	put(root, "memory", o);
	if (r->has_handles) {
		o = json_object_new_object();
		put(o, "first", u64(r->handles_first));
		put(o, "last", u64(r->handles_last));
		put(o, "max", u64(r->handles_max));
		put(o, "growing_share", json_object_new_double(r->handles_growing));
		put(o, "fds_max", u64(r->fds_max));
		put(o, "fd_limit", u64(r->fd_limit));
		put(o, "source", json_object_new_string(r->handles_node ? "node" : "libuv"));
		if (r->handles_node) {
			json_object *types = json_object_new_array(), *t;
			size_t k;

			for (k = 0; k < r->nres_types; k++) {
				t = json_object_new_object();
				put(t, "type", json_object_new_string(r->res_types[k].type));
				put(t, "first", u64(r->res_types[k].first));
				put(t, "last", u64(r->res_types[k].last));
				put(t, "max", u64(r->res_types[k].max));
				json_object_array_add(types, t);
			}
			put(o, "by_type", types);
		}
		put(root, "handles", o);
	}
	o = json_object_new_object();
	put(o, "count", u64(r->blocking_count));
	put(o, "total_ns", u64(r->blocking_total_ns));
	put(o, "top", stacks_json(r->blocking, r->nblocking));
	/* the long calls that were not blocking (docs/report.md) */
	put(o, "contention",
	    kind_json(r->contention_count, r->contention_ns, r->contention, r->ncontention));
	if (r->blocking_measured_ns) { /* the blocking calls' time, where it was measured */
		put(o, "measured_ns", u64(r->blocking_measured_ns));
		put(o, "asleep_ns", u64(r->blocking_asleep_ns));
		put(o, "on_cpu_ns", u64(r->blocking_cpu_ns));
		put(o, "run_queue_ns", u64(r->blocking_runq_ns));
	}
	put(o, "lock_runtime", kind_json(r->lock_runtime_count, r->lock_runtime_ns, NULL, 0));
	put(o, "lock_app", kind_json(r->lock_app_count, r->lock_app_ns, r->locks, r->nlocks));
	put(root, "blocking", o);
	if (r->nbusy) {
		o = json_object_new_object();
		put(o, "count", u64(r->busy_long_count));
		put(o, "total_ns", u64(r->busy_long_total_ns));
		put(o, "samples", u64(r->busy_samples)); /* top[].count: samples, when not 0 */
		put(o, "few_samples", u64(r->busy_few_samples));
		put(o, "few_samples_ns", u64(r->busy_few_ns));
		put(o, "run_queue_ns", u64(r->busy_runq_ns));
		put(o, "asleep_ns", u64(r->busy_asleep_ns));
		put(o, "top", stacks_json(r->busy, r->nbusy));
		put(root, "busy_long", o);
	}
	if (r->has_write_queue || r->has_js_write) { /* writes queued behind slow readers */
		o = json_object_new_object();
		put(o, "queued_max", u64(r->write_peak));
		put(o, "at_ns", u64(r->write_peak_at_ns));
		put(o, "libuv", u64(r->write_peak_uv));
		put(o, "node_sockets", u64(r->write_peak_js));
		put(o, "one_stream_max", u64(r->write_peak_one));
		put(o, "need_drain_max", u64(r->write_need_drain_max));
		put(o, "writer", r->has_writer ? lsc__frame_json(&r->writer) : NULL);
		put(o, "writer_from_heap", json_object_new_boolean(r->writer_from_heap));
		put(root, "backpressure", o);
	}
	if (r->has_shutdown_at) { /* asked to stop: when, how long after, what kept it alive */
		json_object *ha = json_object_new_array(), *hr = json_object_new_array(), *x;
		size_t k;

		o = json_object_new_object();
		put(o, "reason", json_object_new_string(r->shutdown_reason));
		put(o, "at_ns", u64(r->shutdown_at_ns));
		put(o, "after_ns",
		    u64(r->duration_ns > r->shutdown_at_ns ? r->duration_ns - r->shutdown_at_ns
							   : 0));
		put(o, "complete", json_object_new_boolean(r->complete));
		for (k = 0; k < r->nalive; k++) {
			x = json_object_new_object();
			put(x, "type", json_object_new_string(r->alive[k].type));
			put(x, "count", u64(r->alive[k].count));
			json_object_array_add(ha, x);
		}
		for (k = 0; k < r->nalive_res; k++) {
			x = json_object_new_object();
			put(x, "type", json_object_new_string(r->alive_res[k].type));
			put(x, "count", u64(r->alive_res[k].count));
			json_object_array_add(hr, x);
		}
		put(o, "alive_handles", ha);
		put(o, "alive_resources", hr);
		ha = json_object_new_array();
		for (k = 0; k < r->nalive_sites; k++) { /* attach: where they were made */
			x = json_object_new_object();
			put(x, "type", json_object_new_string(r->alive_site[k].type));
			put(x, "count", u64(r->alive_site[k].count));
			put(x, "made_at",
			    r->alive_site[k].has_frame ? lsc__frame_json(&r->alive_site[k].frame)
						       : NULL);
			json_object_array_add(ha, x);
		}
		put(o, "alive_sites", ha);
		put(root, "shutdown", o);
	}
	if (r->starve_count) { /* tick or microtask chains (report_chains.c) */
		static const char *const kind[] = {"nextTick", "microtask", "tick or microtask"};

		o = json_object_new_object();
		put(o, "queue", json_object_new_string(kind[r->starve_kind]));
		put(o, "count", u64(r->starve_count));
		put(o, "total_ns", u64(r->starve_ns));
		put(o, "max_ns", u64(r->starve_max_ns));
		put(o, "samples", u64(r->starve_samples));
		put(o, "from_samples", json_object_new_boolean(r->starve_from_samples));
		put(o, "function", r->has_starve_fn ? lsc__frame_json(&r->starve_fn) : NULL);
		put(root, "starvation", o);
	}
	if (r->crashed) {
		o = json_object_new_object();
		put(o, "signal", u64((uint64_t)r->crash_signal));
		put(o, "fault_addr", u64(r->crash_addr));
		put(o, "stack", stacks_json(&r->crash, 1));
		put(root, "crash", o);
	}
	o = json_object_new_object();
	put(o, "samples", u64(r->cpu_total));
	put(o, "top", stacks_json(r->cpu, r->ncpu));
	put(root, "cpu", o);
	return root;
}

int lsc__emit_json(FILE *out, json_object *root)
{
	int err = 0;

	if (fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_SPACED |
							       JSON_C_TO_STRING_NOSLASHESCAPE),
		  out) < 0 ||
	    fputc('\n', out) == EOF)
		err = -EIO;
	json_object_put(root);
	return err;
}

int lsc_render_report_json(FILE *out, const struct lsc_report *r)
{
	/* Six significant digits: 0.3, not 0.29999999999999999. */
	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_THREAD);
	return lsc__emit_json(out, report_obj(r));
}

static json_object *loop_id(const struct lsc_loop_id *l)
{
	static const char *role[] = {"unknown", "main", "worker", "platform", "loop"};
	json_object *o = json_object_new_object();

	put(o, "key", json_object_new_string(l->key));
	put(o, "name", json_object_new_string(l->name));
	put(o, "role",
	    json_object_new_string(l->role >= 0 && l->role <= 4 ? role[l->role] : "unknown"));
	put(o, "tid", u64(l->tid));
	if (l->worker_id)
		put(o, "worker_id", u64(l->worker_id));
	if (l->script[0])
		put(o, "script", json_object_new_string(l->script));
	return o;
}

struct json_object *lsc__report_loops_json(const struct lsc_report_loops *l)
{
	static const char *process_keys[] = {"pool", "memory", "handles"};
	const struct lsc_report *lead = l->rep[l->lead];
	json_object *root, *a, *proc, *v;
	size_t i;

	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_THREAD);
	root = report_obj(lead);
	if (!lead->loop_key[0]) /* no loop windows: the whole recording's */
		return root;
	put(root, "loop_id", loop_id(&l->id[l->lead]));
	/* what serves the whole process, from the main loop's view */
	if (l->main < l->n && l->main != l->lead) {
		proc = report_obj(l->rep[l->main]);
		for (i = 0; i < sizeof(process_keys) / sizeof(*process_keys); i++) {
			json_object_object_del(root, process_keys[i]);
			if (json_object_object_get_ex(proc, process_keys[i], &v))
				put(root, process_keys[i], json_object_get(v));
		}
		json_object_put(proc);
	}
	/* each loop's figures and findings; its stacks and the process's parts are its own
	 * report's (--loop KEY) */
	a = json_object_new_array();
	for (i = 0; i < l->n; i++) {
		static const char *drop[] = {"run", "pool", "memory", "handles", "crash", "cpu"};
		json_object *o = report_obj(l->rep[i]);
		size_t k;

		for (k = 0; k < sizeof(drop) / sizeof(*drop); k++)
			json_object_object_del(o, drop[k]);
		if (json_object_object_get_ex(o, "blocking", &v))
			json_object_object_del(v, "top");
		if (json_object_object_get_ex(o, "busy_long", &v))
			json_object_object_del(v, "top");
		put(o, "loop_id", loop_id(&l->id[i]));
		json_object_array_add(a, o);
	}
	put(root, "loops", a);
	put(root, "loops_hidden", u64(l->hidden));
	return root;
}

int lsc_render_report_loops_json(FILE *out, const struct lsc_report_loops *l)
{
	return lsc__emit_json(out, lsc__report_loops_json(l));
}
