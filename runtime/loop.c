/*
 * loop.c — refloop's event loop and task model: libuv's default loop, the dispatcher, nextTick and
 * microtask queues, timers, immediates, signals, and the runtime's lifecycle.
 *
 * Every callback the runtime delivers goes through rl__dispatch(), which does what Node's
 * MakeCallback does: run the callback, then drain the nextTick queue completely, then the
 * microtask queue, and again while either refilled. Between any two of those, a GC safe point.
 *
 * Invariant: the loop thread only. Each timer owns one uv_timer_t and is on the timer list until
 * its handle is closed, so rl_stop() can close every handle the runtime opened, and only those.
 */
#include "rl_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct rl_timer {
	uv_timer_t h;
	rl_task_fn fn;
	void *arg;
	int repeat;
	int closing;
	struct rl_timer *prev, *next;
};

static struct {
	int initialized;
	uv_loop_t *loop;
	const char *name;
	const char *stats_path;
	uint64_t init_ns;
	uint64_t run_ns; /* when rl_run() first entered the loop; ELU is measured from here */
	int stopping;
	int depth; /* nesting of rl__dispatch */

	struct rl__taskq ticks;
	struct rl__taskq microtasks;
	struct rl__taskq immediates;
	struct rl_timer *timers;

	uv_prepare_t prepare; /* counts iterations */
	uv_check_t check;     /* runs immediates */
	uv_idle_t idle;	      /* keeps poll from blocking while immediates wait */
	uv_signal_t sig_usr1, sig_int, sig_term;
	int internal_open;

	struct rl__loop_stats st;
} rt;

uv_loop_t *rl_loop(void)
{
	return rt.loop;
}

uint64_t rl_now_ns(void)
{
	return uv_hrtime();
}

const char *rl__options_name(void)
{
	return rt.name;
}

const char *rl__options_stats_path(void)
{
	return rt.stats_path;
}

int rl_stopping(void)
{
	return rt.stopping;
}

/* ------------------------------------------------------------------ accounting */

void rl__note_active(void)
{
	if (rt.loop->active_handles > rt.st.peak_active_handles)
		rt.st.peak_active_handles = rt.loop->active_handles;
	if (rt.loop->active_reqs.count > rt.st.peak_active_reqs)
		rt.st.peak_active_reqs = rt.loop->active_reqs.count;
}

void rl__handle_opened(int uv_type)
{
	if (uv_type > 0 && uv_type < UV_HANDLE_TYPE_MAX)
		rt.st.handles_opened[uv_type]++;
	RL_PROBE1(handle__open, uv_type);
	rl__obs_handle(1, uv_type);
}

void rl__handle_closed(int uv_type)
{
	if (uv_type > 0 && uv_type < UV_HANDLE_TYPE_MAX)
		rt.st.handles_closed[uv_type]++;
	RL_PROBE1(handle__close, uv_type);
	rl__obs_handle(0, uv_type);
}

void rl__loop_stats_get(struct rl__loop_stats *out)
{
	*out = rt.st;
	if (rt.initialized && rt.run_ns) {
		out->wall_ns = uv_hrtime() - rt.run_ns;
		out->idle_ns = uv_metrics_idle_time(rt.loop);
	}
	out->active_handles = rt.initialized ? rt.loop->active_handles : 0;
}

/* ------------------------------------------------------------------ dispatcher */

static void drain_ticks_and_microtasks(void)
{
	struct rl__task t;
	uint64_t start = uv_hrtime(), n;

	do {
		if (rt.ticks.len) {
			RL_PROBE0(tick__drain__begin);
			for (n = 0; rl__taskq_pop(&rt.ticks, &t) == 0; n++) {
				t.fn(t.arg);
				rl__heap_safepoint();
			}
			rt.st.ticks += n;
			RL_PROBE1(tick__drain__end, n);
		}
		if (rt.microtasks.len) {
			RL_PROBE0(microtask__drain__begin);
			for (n = 0; rl__taskq_pop(&rt.microtasks, &t) == 0; n++) {
				t.fn(t.arg);
				rl__heap_safepoint();
			}
			rt.st.microtasks += n;
			RL_PROBE1(microtask__drain__end, n);
		}
	} while (rt.ticks.len);

	n = uv_hrtime() - start;
	if (n > rt.st.max_drain_ns)
		rt.st.max_drain_ns = n;
}

void rl__dispatch(int kind, rl_task_fn fn, void *arg)
{
	rt.depth++;
	RL_PROBE1(callback__begin, kind);
	rl__obs_callback(1, kind);
	fn(arg);
	rl__obs_callback(0, kind);
	RL_PROBE1(callback__end, kind);
	rt.st.callbacks++;
	rt.depth--;
	if (rt.depth == 0) {
		rl__heap_safepoint();
		drain_ticks_and_microtasks();
	}
	rl__note_active();
}

int rl_next_tick(rl_task_fn fn, void *arg)
{
	return rl__taskq_push(&rt.ticks, fn, arg);
}

int rl_queue_microtask(rl_task_fn fn, void *arg)
{
	return rl__taskq_push(&rt.microtasks, fn, arg);
}

/* ------------------------------------------------------------------ immediates */

static void check_cb(uv_check_t *h)
{
	struct rl__task t;
	/* Immediates queued while these run wait for the next iteration, as in Node. */
	size_t n = rt.immediates.len;

	while (n-- && rl__taskq_pop(&rt.immediates, &t) == 0)
		rl__dispatch(RL_CB_IMMEDIATE, t.fn, t.arg);
	if (rt.immediates.len == 0 && uv_is_active((uv_handle_t *)&rt.idle))
		uv_idle_stop(&rt.idle);
}

static void idle_cb(uv_idle_t *h)
{
}

int rl_set_immediate(rl_task_fn fn, void *arg)
{
	int err;

	if (rt.stopping)
		return UV_ECANCELED;
	err = rl__taskq_push(&rt.immediates, fn, arg);
	if (err)
		return err;
	if (!uv_is_active((uv_handle_t *)&rt.idle))
		uv_idle_start(&rt.idle, idle_cb);
	return 0;
}

/* ------------------------------------------------------------------ timers */

static void timer_closed(uv_handle_t *h)
{
	struct rl_timer *t = rl__container_of(h, struct rl_timer, h);

	if (t->prev)
		t->prev->next = t->next;
	else
		rt.timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	rl__handle_closed(UV_TIMER);
	free(t);
}

static void timer_close(struct rl_timer *t)
{
	if (t->closing)
		return;
	t->closing = 1;
	uv_close((uv_handle_t *)&t->h, timer_closed);
}

static void timer_task(void *arg)
{
	struct rl_timer *t = arg;

	t->fn(t->arg);
}

static void timer_cb(uv_timer_t *h)
{
	struct rl_timer *t = rl__container_of(h, struct rl_timer, h);

	rl__dispatch(RL_CB_TIMER, timer_task, t);
	if (!t->repeat)
		timer_close(t);
}

static int timer_start(uint64_t ms, int repeat, rl_task_fn fn, void *arg, struct rl_timer **out)
{
	struct rl_timer *t;
	int err;

	if (rt.stopping)
		return UV_ECANCELED;
	t = calloc(1, sizeof(*t));
	if (!t)
		return UV_ENOMEM;
	t->fn = fn;
	t->arg = arg;
	t->repeat = repeat;
	err = uv_timer_init(rt.loop, &t->h);
	if (err) {
		free(t);
		return err;
	}
	t->next = rt.timers;
	if (rt.timers)
		rt.timers->prev = t;
	rt.timers = t;
	rl__handle_opened(UV_TIMER);
	/* Node clamps 0 to 1 ms; so do we. */
	if (ms == 0)
		ms = 1;
	uv_timer_start(&t->h, timer_cb, ms, repeat ? ms : 0);
	if (out)
		*out = t;
	rl__note_active();
	return 0;
}

int rl_set_timeout(uint64_t ms, rl_task_fn fn, void *arg, struct rl_timer **out)
{
	return timer_start(ms, 0, fn, arg, out);
}

int rl_set_interval(uint64_t ms, rl_task_fn fn, void *arg, struct rl_timer **out)
{
	return timer_start(ms, 1, fn, arg, out);
}

void rl_clear_timer(struct rl_timer *t)
{
	if (!t)
		return;
	uv_timer_stop(&t->h);
	timer_close(t);
}

void rl_timer_unref(struct rl_timer *t)
{
	uv_unref((uv_handle_t *)&t->h);
}

/* ------------------------------------------------------------------ signals and iterations */

static void prepare_cb(uv_prepare_t *h)
{
	rt.st.iterations++;
	rl__note_active();
}

static void stats_signal_task(void *arg)
{
	rl_stats_write();
}

static rl_task_fn on_stop_fn;
static void *on_stop_arg;

void rl_on_stop_signal(rl_task_fn fn, void *arg)
{
	on_stop_fn = fn;
	on_stop_arg = arg;
}

static void stop_signal_task(void *arg)
{
	if (on_stop_fn)
		on_stop_fn(on_stop_arg);
	else
		rl_stop();
}

static void signal_cb(uv_signal_t *h, int signum)
{
	rl__dispatch(RL_CB_SIGNAL, signum == SIGUSR1 ? stats_signal_task : stop_signal_task, NULL);
}

static void open_internal(uv_handle_t *h, int type)
{
	uv_unref(h);
	rl__handle_opened(type);
	rt.internal_open++;
}

int rl_init(const struct rl_options *opts)
{
	int err;

	if (rt.initialized)
		return UV_EALREADY;
	memset(&rt, 0, sizeof(rt));
	rt.loop = uv_default_loop();
	if (!rt.loop)
		return UV_ENOMEM;
	err = uv_loop_configure(rt.loop, UV_METRICS_IDLE_TIME);
	if (err)
		return err;
	rt.name = opts && opts->name ? opts->name : "refloop";
	rt.stats_path = opts ? opts->stats_path : NULL;
	rt.init_ns = uv_hrtime();
	err = rl__heap_init(opts ? opts->heap_min_budget : 0);
	if (err)
		return err;

	uv_prepare_init(rt.loop, &rt.prepare);
	uv_prepare_start(&rt.prepare, prepare_cb);
	open_internal((uv_handle_t *)&rt.prepare, UV_PREPARE);
	uv_check_init(rt.loop, &rt.check);
	uv_check_start(&rt.check, check_cb);
	open_internal((uv_handle_t *)&rt.check, UV_CHECK);
	uv_idle_init(rt.loop, &rt.idle);
	rl__handle_opened(UV_IDLE);
	rt.internal_open++;
	uv_signal_init(rt.loop, &rt.sig_usr1);
	uv_signal_start(&rt.sig_usr1, signal_cb, SIGUSR1);
	open_internal((uv_handle_t *)&rt.sig_usr1, UV_SIGNAL);
	uv_signal_init(rt.loop, &rt.sig_int);
	uv_signal_start(&rt.sig_int, signal_cb, SIGINT);
	open_internal((uv_handle_t *)&rt.sig_int, UV_SIGNAL);
	uv_signal_init(rt.loop, &rt.sig_term);
	uv_signal_start(&rt.sig_term, signal_cb, SIGTERM);
	open_internal((uv_handle_t *)&rt.sig_term, UV_SIGNAL);
	rt.initialized = 1;
	return 0;
}

int rl_run(void)
{
	if (!rt.initialized)
		return UV_EINVAL;
	if (!rt.run_ns)
		rt.run_ns = uv_hrtime();
	/* Work queued before the loop starts (main()'s own ticks) runs first, as in Node. */
	if (rt.depth == 0)
		drain_ticks_and_microtasks();
	return uv_run(rt.loop, UV_RUN_DEFAULT);
}

static void internal_closed(uv_handle_t *h)
{
	rl__handle_closed(h->type);
	rt.internal_open--;
}

void rl_stop(void)
{
	struct rl_timer *t, *next;

	if (!rt.initialized || rt.stopping)
		return;
	rt.stopping = 1;
	rl__http_close_all();
	for (t = rt.timers; t; t = next) {
		next = t->next;
		rl_clear_timer(t);
	}
	uv_close((uv_handle_t *)&rt.prepare, internal_closed);
	uv_close((uv_handle_t *)&rt.check, internal_closed);
	uv_close((uv_handle_t *)&rt.idle, internal_closed);
	uv_close((uv_handle_t *)&rt.sig_usr1, internal_closed);
	uv_close((uv_handle_t *)&rt.sig_int, internal_closed);
	uv_close((uv_handle_t *)&rt.sig_term, internal_closed);
}

void rl_release(void)
{
	if (!rt.initialized)
		return;
	if (!rt.stopping) {
		rl_stop();
		uv_run(rt.loop, UV_RUN_DEFAULT);
	}
	rl__taskq_release(&rt.ticks);
	rl__taskq_release(&rt.microtasks);
	rl__taskq_release(&rt.immediates);
	rl__heap_release();
	uv_loop_close(rt.loop);
	rt.initialized = 0;
}
