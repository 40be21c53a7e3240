/*
 * exporter_metrics.c — the exporter's figures and their exposition. Each closed window of a
 * process's attach session is folded into cumulative counters (busy and idle seconds, so that
 * rate(busy) / (rate(busy) + rate(idle)) is the loop's utilization over any range) and
 * histograms (lag, thread-pool queue wait, GC pauses by kind), beside gauges that hold the last
 * window's value. Rendered in Prometheus's text format 0.0.4 and in OpenMetrics 1.0 (counters'
 * families without _total, units declared, # EOF), following Prometheus's naming: base units
 * in the name (seconds, bytes), _total on counters.
 *
 * Written here rather than with a client library: Debian packages none for C, and the format is
 * a few lines of text per family.
 */
#include "exporter.h"
#include "lsc_recording.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const gc_kinds[LSC_ATTACH_GC_KINDS] = {
	"unknown", "scavenge", "mark_compact", "incremental", "weak", "full",
};

static struct ex_loop *loop_of(struct ex_proc *p, uint32_t tid, int main)
{
	unsigned i;

	for (i = 0; i < p->nloops; i++)
		if (p->loops[i].tid == tid)
			return &p->loops[i];
	if (p->nloops == EX_LOOPS)
		return NULL;
	memset(&p->loops[p->nloops], 0, sizeof(p->loops[0]));
	p->loops[p->nloops].tid = tid;
	p->loops[p->nloops].main = main;
	return &p->loops[p->nloops++];
}

static void buckets_merge(struct lsc_attach_buckets *d, const struct lsc_attach_buckets *s)
{
	unsigned i;

	d->count += s->count;
	d->sum_ns += s->sum_ns;
	for (i = 0; i < LSC_ATTACH_BOUNDS; i++)
		d->le[i] += s->le[i];
}

static void blocking_add(struct ex_proc *p, uint32_t tid, const char *call, uint64_t count,
			 uint64_t ns)
{
	unsigned i;

	for (i = 0; i < p->nblocking; i++)
		if (p->blocking[i].tid == tid && !strcmp(p->blocking[i].call, call))
			break;
	if (i == p->nblocking) {
		if (i == EX_BLOCKING) { /* the last entry gathers the rest */
			i = EX_BLOCKING - 1;
			p->blocking[i].tid = (uint32_t)p->pid;
			snprintf(p->blocking[i].call, sizeof(p->blocking[i].call), "other");
		} else {
			p->blocking[i].tid = tid;
			snprintf(p->blocking[i].call, sizeof(p->blocking[i].call), "%s", call);
			p->blocking[i].count = p->blocking[i].ns = 0;
			p->nblocking++;
		}
	}
	p->blocking[i].count += count;
	p->blocking[i].ns += ns;
}

void ex_fold(struct ex_proc *p, const struct lsc_attach_status *st)
{
	unsigned i;

	for (i = 0; i < st->nloops; i++) {
		const struct lsc_attach_loop_status *ls = &st->loops[i];
		struct ex_loop *l = loop_of(p, ls->tid, ls->main);

		if (!l)
			continue;
		l->busy_s += (double)(ls->window_ns - ls->idle_ns) / 1e9;
		l->idle_s += (double)ls->idle_ns / 1e9;
		l->elu = ls->elu;
		l->iterations += ls->iterations;
		buckets_merge(&l->lag, &ls->lag);
	}
	for (i = 0; i < LSC_ATTACH_GC_KINDS; i++)
		buckets_merge(&p->gc[i], &st->gc_kind[i]);
	for (i = 0; i < st->nblocking; i++) {
		const char *call = lsc_syscall_name(st->blocking[i].nr);
		char nr[16];

		if (!call) {
			snprintf(nr, sizeof(nr), "%u", st->blocking[i].nr);
			call = nr;
		}
		blocking_add(p, st->blocking[i].tid, call, st->blocking[i].count,
			     st->blocking[i].ns);
	}
	if (st->blocking_other_count)
		blocking_add(p, (uint32_t)p->pid, "other", st->blocking_other_count,
			     st->blocking_other_ns);
	if (st->have_window) {
		p->have_window = 1;
		if (st->pool_known) {
			p->pool_known = 1;
			p->pool_depth = st->pool_depth;
			p->pool_threads = st->pool_threads;
			p->pool_busy_max = st->pool_busy_max;
			buckets_merge(&p->pool_wait, &st->pool_wait);
		}
		if (st->handles_known) {
			p->handles_known = 1;
			p->active_handles = st->active_handles;
			p->active_reqs = st->active_reqs;
			memcpy(p->handles, st->handles, sizeof(p->handles));
		}
	}
	p->rss_bytes = st->rss_bytes;
	p->open_fds = st->open_fds;
	if (st->gc_heap_after)
		p->gc_heap_bytes = st->gc_heap_after;
}

/* A recording's window (the agent's): the same figures from its fields. */
void ex_fold_window(struct ex_proc *p, const Loopscope__Window *w)
{
	int main = w->loop_tid == (uint32_t)p->pid;
	struct ex_loop *l = loop_of(p, w->loop_tid, main);
	struct lsc_hist *h = malloc(sizeof(*h));
	size_t k;

	if (!l || !h) {
		free(h);
		return;
	}
	l->busy_s += w->elu * (double)w->length_ns / 1e9;
	l->idle_s += (1 - w->elu) * (double)w->length_ns / 1e9;
	l->elu = w->elu;
	l->iterations += w->iterations;
	if (w->lag && lsc_hist_from_proto(h, w->lag) == 0)
		lsc_attach_buckets_add(&l->lag, h);
	if (main) {
		p->have_window = 1;
		if (w->has_pool_threads) {
			p->pool_known = 1;
			p->pool_threads = w->pool_threads;
			p->pool_busy_max = w->pool_busy_max;
			/* the window's mean depth: the agent keeps no count at the window's end */
			p->pool_depth = w->has_pool_depth_mean
						? (uint32_t)(w->pool_depth_mean + 0.5)
						: w->pool_depth_max;
			if (w->pool_wait && lsc_hist_from_proto(h, w->pool_wait) == 0)
				lsc_attach_buckets_add(&p->pool_wait, h);
		}
		if (w->has_active_handles) {
			p->handles_known = 1;
			p->active_handles = w->active_handles;
			p->active_reqs = w->active_reqs;
			memset(p->handles, 0, sizeof(p->handles));
			for (k = 0; k < w->n_handles; k++) {
				unsigned t;

				for (t = 1; t < LSC_ATTACH_HANDLE_TYPES; t++)
					if (lsc_handle_type_name(t) && w->handles[k]->type &&
					    !strcmp(lsc_handle_type_name(t), w->handles[k]->type))
						p->handles[t] = w->handles[k]->count;
			}
		}
		if (w->has_rss_bytes)
			p->rss_bytes = w->rss_bytes;
		if (w->has_open_fds)
			p->open_fds = w->open_fds;
	}
	free(h);
}

void ex_fold_event(struct ex_proc *p, const Loopscope__Event *e)
{
	if (e->body_case == LOOPSCOPE__EVENT__BODY_GC) {
		unsigned kind = (unsigned)e->gc->kind;

		if (kind < LSC_ATTACH_GC_KINDS)
			lsc_attach_buckets_add_one(&p->gc[kind], e->gc->pause_ns);
		if (e->gc->has_heap_after && e->gc->heap_after)
			p->gc_heap_bytes = e->gc->heap_after;
	} else if (e->body_case == LOOPSCOPE__EVENT__BODY_BLOCKING && e->blocking->call &&
		   !strchr(e->blocking->call, '(')) {
		/* a system call; not a busy stretch ("(busy loop)", "pbkdf2 (busy segment)") */
		const Loopscope__BlockingEvent *b = e->blocking;

		blocking_add(p, b->has_tid ? b->tid : (uint32_t)p->pid, b->call,
			     b->has_calls ? b->calls : 1, b->duration_ns);
	}
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* src into out, cut to fit. */
static void copy_cut(char *out, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(out, src, n);
	out[n] = 0;
}

void ex_service(const char *env, size_t n, const char *const *argv, size_t argc, const char *exe,
		char *out, size_t cap)
{
	const char *v = NULL, *script = NULL, *prog = exe && *exe ? exe : argc ? argv[0] : "?";
	char *dot;
	size_t i;

	for (i = 0; env && i < n; i += strlen(env + i) + 1) {
		if (!strncmp(env + i, "OTEL_SERVICE_NAME=", 18) && env[i + 18])
			v = env + i + 18;
		else if (!strncmp(env + i, "LOOPSCOPE_SERVICE=", 18) && env[i + 18] && !v)
			v = env + i + 18;
	}
	if (v) {
		copy_cut(out, cap, v);
		return;
	}
	/* node's script: the first argument that is not an option nor an option's value; none
	 * after -e or -p (the code is on the command line) */
	if (!strncmp(base_name(prog), "node", 4))
		for (i = 1; i < argc && !script; i++) {
			static const char *const valued[] = {"-r",
							     "--require",
							     "--import",
							     "--loader",
							     "--experimental-loader",
							     "-C",
							     "--conditions",
							     "--title",
							     "--env-file",
							     "--input-type",
							     "--stack-size",
							     NULL};
			const char *const *o;

			if (!strcmp(argv[i], "-e") || !strcmp(argv[i], "--eval") ||
			    !strcmp(argv[i], "-p") || !strcmp(argv[i], "--print"))
				break;
			for (o = valued; *o && strcmp(argv[i], *o); o++)
				;
			if (*o) {
				i++; /* its value */
				continue;
			}
			if (argv[i][0] && argv[i][0] != '-')
				script = argv[i];
		}
	copy_cut(out, cap, script ? base_name(script) : base_name(prog));
	if (script && (dot = strrchr(out, '.')) && dot != out &&
	    (!strcmp(dot, ".js") || !strcmp(dot, ".mjs") || !strcmp(dot, ".cjs")))
		*dot = 0;
}

/* ------------------------------------------------------------------ rendering */

struct out {
	FILE *f;
	int om; /* OpenMetrics */
};

/* A label value with \, " and newlines escaped. */
static void quoted(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* A family's header: name without _total; type counter, gauge, histogram or info. */
static void family(struct out *o, const char *name, const char *type, const char *unit,
		   const char *help)
{
	if (o->om) {
		fprintf(o->f, "# TYPE %s %s\n", name, type);
		if (*unit)
			fprintf(o->f, "# UNIT %s %s\n", name, unit);
		fprintf(o->f, "# HELP %s %s\n", name, help);
		return;
	}
	/* text 0.0.4: a family is named as its samples (_total, _info); info is a gauge */
	{
		const char *tail = !strcmp(type, "counter") ? "_total"
				   : !strcmp(type, "info")  ? "_info"
							    : "";

		fprintf(o->f, "# HELP %s%s %s\n", name, tail, help);
		fprintf(o->f, "# TYPE %s%s %s\n", name, tail,
			!strcmp(type, "info") ? "gauge" : type);
	}
}

/* The labels every series of p has, then extra ones ("loop", "main"...; NULL ends). */
static void labels(FILE *f, const struct ex_proc *p, ...)
{
	const char *k;
	va_list ap;

	fputs("{service=\"", f);
	quoted(f, p->service);
	fprintf(f, "\",pid=\"%d\"", p->pid);
	va_start(ap, p);
	while ((k = va_arg(ap, const char *))) {
		fprintf(f, ",%s=\"", k);
		quoted(f, va_arg(ap, const char *));
		fputc('"', f);
	}
	va_end(ap);
	fputc('}', f);
}

static void loop_name(const struct ex_loop *l, char *buf, size_t cap)
{
	if (l->main)
		snprintf(buf, cap, "main");
	else
		snprintf(buf, cap, "thread-%u", l->tid);
}

static void value(FILE *f, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, " %.0f\n", v);
	else
		fprintf(f, " %.9g\n", v);
}

/* One histogram's series (_bucket with le, _count, _sum) in seconds. */
static void histogram(struct out *o, const char *name, const struct ex_proc *p,
		      const struct lsc_attach_buckets *b, const char *k1, const char *v1)
{
	char le[32];
	unsigned i;

	for (i = 0; i <= LSC_ATTACH_BOUNDS; i++) {
		if (i < LSC_ATTACH_BOUNDS)
			snprintf(le, sizeof(le), "%g", (double)lsc_attach_bounds_ns[i] / 1e9);
		else
			snprintf(le, sizeof(le), "+Inf");
		fprintf(o->f, "%s_bucket", name);
		if (k1)
			labels(o->f, p, k1, v1, "le", le, (const char *)NULL);
		else
			labels(o->f, p, "le", le, (const char *)NULL);
		value(o->f, (double)(i < LSC_ATTACH_BOUNDS ? b->le[i] : b->count));
	}
	fprintf(o->f, "%s_count", name);
	labels(o->f, p, k1, v1, (const char *)NULL);
	value(o->f, (double)b->count);
	fprintf(o->f, "%s_sum", name);
	labels(o->f, p, k1, v1, (const char *)NULL);
	value(o->f, (double)b->sum_ns / 1e9);
}

static double loop_busy(const struct ex_loop *l)
{
	return l->busy_s;
}

static double loop_idle(const struct ex_loop *l)
{
	return l->idle_s;
}

static double loop_elu(const struct ex_loop *l)
{
	return l->elu;
}

static double loop_turns(const struct ex_loop *l)
{
	return (double)l->iterations;
}

/* A family with one series a loop: family name, its samples' name, get's value. */
static void loop_family(struct out *o, const struct ex_proc *procs, const char *name,
			const char *sample, const char *type, const char *unit, const char *help,
			double (*get)(const struct ex_loop *))
{
	const struct ex_proc *p;
	char ln[32];
	unsigned i;

	family(o, name, type, unit, help);
	for (p = procs; p; p = p->next)
		for (i = 0; i < p->nloops; i++) {
			loop_name(&p->loops[i], ln, sizeof(ln));
			fputs(sample, o->f);
			labels(o->f, p, "loop", ln, (const char *)NULL);
			value(o->f, get(&p->loops[i]));
		}
}

static void render_loops(struct out *o, const struct ex_proc *procs)
{
	const struct ex_proc *p;
	char ln[32];
	unsigned i;

	loop_family(o, procs, "loopscope_event_loop_busy_seconds",
		    "loopscope_event_loop_busy_seconds_total", "counter", "seconds",
		    "Time the event loop spent running (not waiting in its poll for events).",
		    loop_busy);
	loop_family(o, procs, "loopscope_event_loop_idle_seconds",
		    "loopscope_event_loop_idle_seconds_total", "counter", "seconds",
		    "Time the event loop spent waiting in its poll for events.", loop_idle);
	loop_family(o, procs, "loopscope_event_loop_utilization_ratio",
		    "loopscope_event_loop_utilization_ratio", "gauge", "ratio",
		    "The event loop's utilization over the last window (busy / (busy + idle)).",
		    loop_elu);
	loop_family(o, procs, "loopscope_event_loop_iterations",
		    "loopscope_event_loop_iterations_total", "counter", "",
		    "Turns of the event loop (returns from its poll).", loop_turns);
	family(o, "loopscope_event_loop_lag_seconds", "histogram", "seconds",
	       "The delay a 1 ms repeating timer would see at each turn of the loop (the turn's "
	       "busy time past 1 ms), and a loop that made no turn for a whole window.");
	for (p = procs; p; p = p->next)
		for (i = 0; i < p->nloops; i++) {
			loop_name(&p->loops[i], ln, sizeof(ln));
			histogram(o, "loopscope_event_loop_lag_seconds", p, &p->loops[i].lag,
				  "loop", ln);
		}
}

static void render_blocking(struct out *o, const struct ex_proc *procs)
{
	const struct ex_proc *p;
	char ln[32];
	unsigned i, pass;

	for (pass = 0; pass < 2; pass++) {
		family(o, pass ? "loopscope_blocking_seconds" : "loopscope_blocking_calls",
		       "counter", pass ? "seconds" : "",
		       pass ? "Time in synchronous system calls on a loop thread that took 1 ms or "
			      "more, by call."
			    : "Synchronous system calls on a loop thread that took 1 ms or more, by "
			      "call.");
		for (p = procs; p; p = p->next)
			for (i = 0; i < p->nblocking; i++) {
				const struct ex_blocking *b = &p->blocking[i];
				unsigned k;

				snprintf(ln, sizeof(ln), "thread-%u", b->tid);
				for (k = 0; k < p->nloops; k++)
					if (p->loops[k].tid == b->tid)
						loop_name(&p->loops[k], ln, sizeof(ln));
				fputs(pass ? "loopscope_blocking_seconds_total"
					   : "loopscope_blocking_calls_total",
				      o->f);
				labels(o->f, p, "loop", ln, "syscall", b->call, (const char *)NULL);
				value(o->f, pass ? (double)b->ns / 1e9 : (double)b->count);
			}
	}
}

static double p_depth(const struct ex_proc *p)
{
	return p->pool_known ? p->pool_depth : NAN;
}

static double p_threads(const struct ex_proc *p)
{
	return p->pool_known ? p->pool_threads : NAN;
}

static double p_busy(const struct ex_proc *p)
{
	return p->pool_known ? p->pool_busy_max : NAN;
}

static double p_reqs(const struct ex_proc *p)
{
	return p->handles_known ? p->active_reqs : NAN;
}

static double p_rss(const struct ex_proc *p)
{
	return p->rss_bytes ? (double)p->rss_bytes : NAN;
}

static double p_heap(const struct ex_proc *p)
{
	return p->gc_heap_bytes ? (double)p->gc_heap_bytes : NAN;
}

static double p_fds(const struct ex_proc *p)
{
	return p->open_fds ? p->open_fds : NAN;
}

/* A gauge with one series a process: get's value, none where it is NAN (not known). */
static void proc_gauge(struct out *o, const struct ex_proc *procs, const char *name,
		       const char *unit, const char *help, double (*get)(const struct ex_proc *))
{
	const struct ex_proc *p;

	family(o, name, "gauge", unit, help);
	for (p = procs; p; p = p->next)
		if (!isnan(get(p))) {
			fputs(name, o->f);
			labels(o->f, p, (const char *)NULL);
			value(o->f, get(p));
		}
}

static void render_process(struct out *o, const struct ex_proc *procs)
{
	const struct ex_proc *p;
	char type[32];
	unsigned k;

	proc_gauge(o, procs, "loopscope_threadpool_queue_depth", "",
		   "Jobs waiting in libuv's thread-pool queue at the last window's end.", p_depth);
	proc_gauge(o, procs, "loopscope_threadpool_threads", "",
		   "libuv's thread-pool threads (UV_THREADPOOL_SIZE).", p_threads);
	proc_gauge(o, procs, "loopscope_threadpool_busy_threads", "",
		   "The most thread-pool threads busy at once in the last window.", p_busy);
	family(o, "loopscope_threadpool_queue_wait_seconds", "histogram", "seconds",
	       "How long each thread-pool job waited in the queue before a thread took it.");
	for (p = procs; p; p = p->next)
		if (p->pool_known)
			histogram(o, "loopscope_threadpool_queue_wait_seconds", p, &p->pool_wait,
				  NULL, NULL);
	family(o, "loopscope_gc_pause_seconds", "histogram", "seconds",
	       "Garbage-collection pauses of the runtime's heap, by kind.");
	for (p = procs; p; p = p->next)
		for (k = 0; k < LSC_ATTACH_GC_KINDS; k++)
			if (p->gc[k].count)
				histogram(o, "loopscope_gc_pause_seconds", p, &p->gc[k], "kind",
					  gc_kinds[k]);
	family(o, "loopscope_event_loop_active_handles", "gauge", "",
	       "Active libuv handles of the main loop, by type, at the last window's end.");
	for (p = procs; p; p = p->next)
		for (k = 1; p->handles_known && k < LSC_ATTACH_HANDLE_TYPES; k++) {
			if (!p->handles[k] || !lsc_handle_type_name(k))
				continue;
			snprintf(type, sizeof(type), "%s", lsc_handle_type_name(k));
			fputs("loopscope_event_loop_active_handles", o->f);
			labels(o->f, p, "type", type, (const char *)NULL);
			value(o->f, p->handles[k]);
		}
	proc_gauge(o, procs, "loopscope_event_loop_active_requests", "",
		   "Active libuv requests of the main loop at the last window's end.", p_reqs);
	proc_gauge(o, procs, "loopscope_process_resident_memory_bytes", "bytes",
		   "The process's resident set size at the last window's end.", p_rss);
	proc_gauge(o, procs, "loopscope_gc_heap_bytes", "bytes",
		   "The runtime's managed heap after its last garbage collection (Node under the "
		   "agent: V8's live bytes; refloop: its heap; Node under eBPF: not known).",
		   p_heap);
	proc_gauge(o, procs, "loopscope_process_open_fds", "",
		   "The process's open file descriptors at the last window's end.", p_fds);
}

char *ex_render(const struct ex_proc *procs, const struct ex_self *self, int openmetrics,
		size_t *len)
{
	struct out o = {NULL, openmetrics};
	const struct ex_proc *p;
	char *buf = NULL;

	o.f = open_memstream(&buf, len);
	if (!o.f)
		return NULL;
	family(&o, "loopscope_target", "info", "",
	       "A process the exporter watches: its service name, PID and executable.");
	for (p = procs; p; p = p->next) {
		fputs("loopscope_target_info", o.f);
		labels(o.f, p, "exe", p->exe, (const char *)NULL);
		value(o.f, 1);
	}
	render_loops(&o, procs);
	render_blocking(&o, procs);
	render_process(&o, procs);
	family(&o, "loopscope_exporter_targets", "gauge", "", "Processes being watched.");
	fprintf(o.f, "loopscope_exporter_targets %u\n", self->targets);
	family(&o, "loopscope_exporter_attached", "counter", "",
	       "Processes the exporter attached to since it started.");
	fprintf(o.f, "loopscope_exporter_attached_total %llu\n",
		(unsigned long long)self->attached);
	family(&o, "loopscope_exporter_attach_errors", "counter", "",
	       "Processes running libuv that the exporter could not attach to.");
	fprintf(o.f, "loopscope_exporter_attach_errors_total %llu\n",
		(unsigned long long)self->attach_errors);
	if (openmetrics)
		fputs("# EOF\n", o.f);
	if (fclose(o.f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
