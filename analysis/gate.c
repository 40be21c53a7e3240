/*
 * gate.c — budgets for CI (lsc_gate.h). The budget format is one check a line,
 *     METRIC[(FUNCTION)] OP LIMIT [tolerance T]      # comment
 * with OP one of <= < >= >, LIMIT a number with its unit (50ms, 10MiB, 5%, 2MiB/s) or
 * "baseline", "baseline + 10%", "baseline - 2ms". Written here rather than taken from a library:
 * the checks are comparisons, which key = value formats (TOML, INI) and JSON can only spell as
 * nested keys, and no Debian library parses "metric op value" lines; this way every mistake is
 * named by its line.
 */
#include "lsc_gate.h"
#include "lsc_error.h"
#include "lsc_flame.h"
#include "lsc_heap.h"
#include "lsc_report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum unit { U_TIME, U_BYTES, U_RATE, U_COUNT, U_SHARE, U_RATIO };

static const struct metric {
	const char *name;
	int unit;
	int function;	   /* 1: takes (FUNCTION), 2: requires it */
	const char *needs; /* what capture provides it */
} metrics[] = {
	{"elu.mean", U_RATIO, 0, "loop windows (loopscope run or attach)"},
	{"elu.max", U_RATIO, 0, "loop windows (loopscope run or attach)"},
	{"lag.p50", U_TIME, 0, "loop windows (loopscope run or attach)"},
	{"lag.p99", U_TIME, 0, "loop windows (loopscope run or attach)"},
	{"lag.max", U_TIME, 0, "loop windows (loopscope run or attach)"},
	{"busy.p99", U_TIME, 0, "loop windows (loopscope run or attach)"},
	{"busy.max", U_TIME, 0, "loop windows (loopscope run or attach)"},
	{"blocking.count", U_COUNT, 1, "loop windows (loopscope run or attach)"},
	{"blocking.total", U_TIME, 1, "loop windows (loopscope run or attach)"},
	{"pool.depth_max", U_COUNT, 0, "thread-pool data (loopscope attach, or refloop)"},
	{"pool.wait_p99", U_TIME, 0, "thread-pool waits (refloop's observer)"},
	{"gc.pause_total", U_TIME, 0, "GC events (loopscope run on refloop or Node, or attach)"},
	{"gc.pause_max", U_TIME, 0, "GC events (loopscope run on refloop or Node, or attach)"},
	{"gc.worst_second", U_TIME, 0, "GC events (loopscope run on refloop or Node, or attach)"},
	{"heap.native_rate", U_RATE, 0, "native heap windows (loopscope run --heap sampled|full)"},
	{"heap.managed_rate", U_RATE, 0, "GC events with heap sizes (loopscope run)"},
	{"heap.leaked", U_BYTES, 0, "heap snapshots (loopscope run --heap sampled|full)"},
	{"heap.js_growth", U_BYTES, 0, "JS heap snapshots (loopscope run on Node.js)"},
	{"handles.max", U_COUNT, 1, "handle counts (loopscope run or attach on a libuv program)"},
	{"handles.growth", U_COUNT, 1,
	 "handle counts (loopscope run or attach on a libuv program)"},
	{"cpu.share", U_SHARE, 2, "CPU samples (--cpu-hz above 0)"},
};

/* The metrics of one loop (each loop has its own): the rest serve the whole process. */
static int loop_metric(const struct metric *m)
{
	return !strncmp(m->name, "elu.", 4) || !strncmp(m->name, "lag.", 4) ||
	       !strncmp(m->name, "busy.", 5) || !strncmp(m->name, "blocking.", 9) ||
	       !strncmp(m->name, "gc.", 3) || !strcmp(m->name, "cpu.share");
}

/* Rates and the growth of the handle count can go below zero; nothing else a budget checks can. */
static int never_negative(const struct metric *m)
{
	return m->unit != U_RATE && strcmp(m->name, "handles.growth") != 0 &&
	       strcmp(m->name, "heap.js_growth") != 0;
}

static const struct metric *metric_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (!strcmp(metrics[i].name, name))
			return &metrics[i];
	return NULL;
}

const char *lsc_gate_unit(const char *metric)
{
	const struct metric *m = metric_of(metric);
	static const char *names[] = {"ns", "bytes", "bytes/s", "", "share", ""};

	return m ? names[m->unit] : "";
}

void lsc_gate_format(const char *metric, double v, char *buf, size_t cap)
{
	const struct metric *m = metric_of(metric);

	switch (m ? m->unit : U_COUNT) {
	case U_TIME:
		snprintf(buf, cap, "%.1f ms", v / 1e6);
		break;
	case U_BYTES:
		snprintf(buf, cap, "%.2f MiB", v / 1048576);
		break;
	case U_RATE:
		snprintf(buf, cap, "%.1f KiB/s", v / 1024);
		break;
	case U_SHARE:
		snprintf(buf, cap, "%.1f %%", 100 * v);
		break;
	case U_RATIO:
		snprintf(buf, cap, "%.3f", v);
		break;
	default:
		snprintf(buf, cap, "%.0f", v);
	}
}

/* ------------------------------------------------------------------ parsing */

/* The largest limit anyone can mean, by unit: a week of time; the 256 TiB (2^48 bytes) a 64-bit
 * process can address, and as much a second; 2^32 of a count (handle counts and pool depths are
 * 32-bit in the recording). Shares and ratios lie in [0, 1], checked with the comparison. A
 * relative delta in percent is at most 10,000 %: a hundred times the baseline is no limit. */
#define MAX_PERCENT_DELTA 100.0
static const struct {
	double max;
	const char *why;
} unit_max[] = {
	[U_TIME] = {7 * 86400e9, "impossible limit: more than a week"},
	[U_BYTES] = {281474976710656.0, "impossible limit: more than 256 TiB"},
	[U_RATE] = {281474976710656.0, "impossible limit: more than 256 TiB/s"},
	[U_COUNT] = {4294967296.0, "impossible limit: more than 2^32"},
	[U_SHARE] = {INFINITY, NULL},
	[U_RATIO] = {INFINITY, NULL},
};

/* A number with a unit fitting the metric's; *percent set for "%" (a share, or relative). */
static int value(const char *s, int unit, int relative, double *out, int *percent, const char **why)
{
	static const struct {
		const char *suffix;
		int unit;
		double scale;
	} units[] = {
		{"ns", U_TIME, 1},	   {"us", U_TIME, 1e3},
		{"ms", U_TIME, 1e6},	   {"s", U_TIME, 1e9},
		{"KiB/s", U_RATE, 1024},   {"MiB/s", U_RATE, 1048576},
		{"B/s", U_RATE, 1},	   {"GiB", U_BYTES, 1073741824},
		{"MiB", U_BYTES, 1048576}, {"KiB", U_BYTES, 1024},
		{"B", U_BYTES, 1},
	};
	char *end;
	double v;
	size_t i;

	*percent = 0;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v)) {
		*why = "expected a number";
		return -1;
	}
	while (isspace((unsigned char)*end))
		end++;
	if (!*end) {
		if (unit == U_TIME || unit == U_BYTES || unit == U_RATE) {
			*why = unit == U_TIME	? "a time needs its unit (ns, us, ms, s)"
			       : unit == U_RATE ? "a rate needs its unit (B/s, KiB/s, MiB/s)"
						: "a size needs its unit (B, KiB, MiB, GiB)";
			return -1;
		}
		if (fabs(v) > unit_max[unit].max) {
			*why = unit_max[unit].why;
			return -1;
		}
		*out = v;
		return 0;
	}
	if (!strcmp(end, "%")) {
		if (unit != U_SHARE && unit != U_RATIO && !relative) {
			*why = "a percentage only fits a share, a ratio or a baseline delta";
			return -1;
		}
		*percent = 1;
		*out = v / 100;
		if (relative && fabs(*out) > MAX_PERCENT_DELTA) {
			*why = "impossible limit: more than 10000 % of the baseline";
			return -1;
		}
		return 0;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix)) {
			if (units[i].unit != unit) {
				*why = "the unit does not fit the metric";
				return -1;
			}
			*out = v * units[i].scale;
			/* 1e308s is a finite number of seconds, and no number of nanoseconds */
			if (!(fabs(*out) <= unit_max[unit].max)) {
				*why = unit_max[unit].why;
				return -1;
			}
			return 0;
		}
	*why = "unknown unit";
	return -1;
}

static int parse_line(struct lsc_gate_check *c, char *line, const char **why)
{
	char *p = line, *q, *lim, *tol;
	const struct metric *m;
	int percent;

	while (isspace((unsigned char)*p))
		p++;
	for (q = p; *q && (isalnum((unsigned char)*q) || *q == '.' || *q == '_'); q++)
		;
	if (q == p || (size_t)(q - p) >= sizeof(c->metric)) {
		*why = "expected a metric name";
		return -1;
	}
	memcpy(c->metric, p, (size_t)(q - p));
	c->metric[q - p] = 0;
	m = metric_of(c->metric);
	if (!m) {
		*why = "unknown metric (docs/ci.md lists them)";
		return -1;
	}
	p = q;
	if (*p == '(') {
		q = strchr(p, ')');
		if (!q || !m->function) {
			*why = !q ? "unclosed (" : "this metric takes no function";
			return -1;
		}
		p++;
		if (*p == '"' && q > p + 1 && q[-1] == '"') {
			p++;
			q[-1] = 0;
		}
		*q = 0;
		snprintf(c->function, sizeof(c->function), "%s", p);
		p = q + 1;
		if (!c->function[0]) {
			*why = "empty function name";
			return -1;
		}
	} else if (m->function == 2) {
		*why = "this metric needs a function: cpu.share(NAME)";
		return -1;
	}
	if (*p == '[') {
		struct lsc_loop_id any = {0};

		q = strchr(p, ']');
		if (!q || !loop_metric(m)) {
			*why = !q ? "unclosed ["
				  : "this metric is the process's, not a loop's: no [loop]";
			return -1;
		}
		*q = 0;
		snprintf(c->loop, sizeof(c->loop), "%s", p + 1);
		p = q + 1;
		if (lsc_loop_matches(&any, c->loop) < 0) {
			*why = "not a loop selector: main, worker, worker:N, worker:SCRIPT, platform, "
			       "loop:TID, all (docs/ci.md)";
			return -1;
		}
	}
	while (isspace((unsigned char)*p))
		p++;
	if (!strncmp(p, "<=", 2))
		c->op = LSC_OP_LE, p += 2;
	else if (!strncmp(p, ">=", 2))
		c->op = LSC_OP_GE, p += 2;
	else if (*p == '<')
		c->op = LSC_OP_LT, p++;
	else if (*p == '>')
		c->op = LSC_OP_GT, p++;
	else {
		*why = "expected <=, <, >= or >";
		return -1;
	}
	while (isspace((unsigned char)*p))
		p++;
	lim = p;
	tol = strstr(p, "tolerance");
	if (tol) {
		*tol = 0;
		if (value(tol + 9 + strspn(tol + 9, " \t"), m->unit, 0, &c->tolerance, &percent,
			  why))
			return -1;
		if (percent || c->tolerance < 0) {
			*why = "a tolerance is an amount in the metric's unit";
			return -1;
		}
		if ((m->unit == U_SHARE || m->unit == U_RATIO) && c->tolerance > 1) {
			*why = "impossible tolerance: a share or a ratio lies between 0 and 1";
			return -1;
		}
	}
	for (q = lim + strlen(lim); q > lim && isspace((unsigned char)q[-1]); q--)
		*(q - 1) = 0;
	if (!strncmp(lim, "baseline", 8)) {
		c->relative = 1;
		p = lim + 8;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		if (*p != '+' && *p != '-') {
			*why = "expected baseline, baseline + N or baseline - N";
			return -1;
		}
		int sign = *p == '-' ? -1 : 1;

		p++;
		while (isspace((unsigned char)*p))
			p++;
		if (value(p, m->unit, 1, &c->limit, &c->delta_percent, why))
			return -1;
		if (c->limit < 0) {
			*why = "expected baseline + N or baseline - N with N not negative";
			return -1;
		}
		if ((m->unit == U_SHARE || m->unit == U_RATIO) && !c->delta_percent &&
		    c->limit > 1) {
			*why = "impossible limit: a share or a ratio lies between 0 and 1";
			return -1;
		}
		/* Whatever the baseline, 100 % or more below it is zero or less. */
		if (sign < 0 && c->delta_percent && c->limit >= 1) {
			*why = "impossible limit: 100 % or more below the baseline is zero or less";
			return -1;
		}
		c->limit *= sign;
		return 0;
	}
	if (value(lim, m->unit, 0, &c->limit, &percent, why))
		return -1;
	if ((m->unit == U_SHARE || m->unit == U_RATIO) && (c->limit < 0 || c->limit > 1)) {
		*why = "impossible limit: a share or a ratio lies between 0 and 1 (0 % and 100 %)";
		return -1;
	}
	if (c->limit < 0 && never_negative(m)) {
		*why = "impossible limit: this metric is never negative";
		return -1;
	}
	if (c->op == LSC_OP_LT && c->limit <= 0 && never_negative(m)) {
		*why = "impossible limit: nothing is below zero";
		return -1;
	}
	return 0;
}

int lsc_gate_parse(const char *text, const char *file, struct lsc_gate *g, char *err, size_t errlen)
{
	const char *s = text, *eol;
	unsigned line = 0;
	char buf[512];

	memset(g, 0, sizeof(*g));
	snprintf(g->file, sizeof(g->file), "%s", file);
	for (; *s; s = *eol ? eol + 1 : eol) {
		const char *why = NULL;
		struct lsc_gate_check *c;
		char *hash;
		size_t len;

		line++;
		eol = strchr(s, '\n');
		if (!eol)
			eol = s + strlen(s);
		len = (size_t)(eol - s);
		if (len >= sizeof(buf)) {
			snprintf(err, errlen, "%s:%u: line too long", file, line);
			return LSC_EBADBUDGET;
		}
		memcpy(buf, s, len);
		buf[len] = 0;
		if ((hash = strchr(buf, '#')))
			*hash = 0;
		if (!buf[strspn(buf, " \t\r")])
			continue;
		if (g->n == LSC_GATE_MAX_CHECKS) {
			snprintf(err, errlen, "%s:%u: more than %d checks", file, line,
				 LSC_GATE_MAX_CHECKS);
			return LSC_EBADBUDGET;
		}
		c = &g->checks[g->n];
		memset(c, 0, sizeof(*c));
		c->line = line;
		snprintf(c->text, sizeof(c->text), "%.*s", (int)strcspn(buf, "\r"),
			 buf + strspn(buf, " \t"));
		if (parse_line(c, buf, &why)) {
			snprintf(err, errlen, "%s:%u: %s: '%s'", file, line, why, c->text);
			return LSC_EBADBUDGET;
		}
		g->needs_baseline |= c->relative;
		g->n++;
	}
	if (!g->n) {
		snprintf(err, errlen, "%s: no checks in it", file);
		return LSC_EBADBUDGET;
	}
	return 0;
}

/* ------------------------------------------------------------------ measuring */

struct measured {
	struct lsc_report_loops loops;		   /* every loop's report, the platform's too */
	const struct lsc_report *main;		   /* the main loop's: the process's figures */
	struct lsc_recording *view[LSC_MAX_LOOPS]; /* each loop's view, made when a check needs
						    * its stacks */
	size_t worst;				   /* the loop the last loop metric came from */
	struct lsc_heap_report heap;
	int heap_ok;
};

/* Whether stack id passes through a frame named like fn, every frame of it (not only the first
 * few a report shows), each stack named once: memo (nstacks + 1 entries, the last for ids
 * without a stack) is 0 unknown, 1 no, 2 yes. */
static int through(const struct lsc_recording *r, struct lsc_symbolizer *sym, uint32_t id,
		   const char *fn, uint8_t *memo)
{
	size_t at = lsc_recording_stack_index(r, id), f;
	const Loopscope__Stack *st = at < r->nstacks ? r->stacks[at] : NULL;
	int in = 0;

	if (memo && memo[at])
		return memo[at] == 2;
	for (f = 0; st && f < st->n_frames && !in; f++) {
		struct lsc_named_frame nf;

		lsc_frame_name(r, sym, st->frames[f], f > 0, f < st->kernel_frames, &nf);
		in = strstr(nf.name, fn) != NULL;
	}
	if (memo)
		memo[at] = in ? 2 : 1;
	return in;
}

/* Blocking time or count under fn, or the share of CPU samples under fn. */
static double under(const struct lsc_recording *r, struct lsc_symbolizer *sym, const char *metric,
		    const char *fn, int *have)
{
	uint8_t *memo = calloc(r->nstacks + 1, 1);
	size_t i, k;
	double total = 0, hit = 0;
	int cpu = !strcmp(metric, "cpu.share");

	*have = !cpu;
	for (i = 0; cpu && i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->kind != LOOPSCOPE__SAMPLE_KIND__CPU)
			continue;
		for (k = 0; k < s->n_stack_id && k < s->n_value; k++) {
			total += (double)s->value[k];
			if (through(r, sym, s->stack_id[k], fn, memo))
				hit += (double)s->value[k];
		}
	}
	for (i = 0; !cpu && i < r->nevents; i++) {
		const Loopscope__BlockingEvent *b = r->events[i]->blocking;

		/* call is optional: a call without a name is still a blocking call */
		if (r->events[i]->body_case != LOOPSCOPE__EVENT__BODY_BLOCKING ||
		    (b->call && !strcmp(b->call, "(busy loop)")))
			continue;
		if (through(r, sym, b->stack_id, fn, memo))
			hit += !strcmp(metric, "blocking.count") ? 1 : (double)b->duration_ns;
	}
	free(memo);
	if (cpu) {
		*have = total > 0;
		return total > 0 ? hit / total : 0;
	}
	return hit;
}

/* handles.max(TYPE), handles.growth(TYPE): one type of Node's resources ("Timeout"); 0 when
 * Node counted resources but never this type. */
static double resource_type(const struct lsc_report *p, const char *n, const char *type, int *have)
{
	size_t i;

	*have = p->handles_node;
	for (i = 0; i < p->nres_types; i++)
		if (!strcmp(p->res_types[i].type, type))
			return !strcmp(n, "handles.max") ? p->res_types[i].max
							 : (double)p->res_types[i].last -
								   (double)p->res_types[i].first;
	return 0;
}

/* A loop metric of one loop: its report p, its view r. */
static double loop_value(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			 const struct lsc_report *p, const struct lsc_gate_check *c, int *have)
{
	const char *n = c->metric;

	*have = p->has_loop;
	if (!strcmp(n, "elu.mean"))
		return p->elu_mean;
	if (!strcmp(n, "elu.max"))
		return p->elu_max;
	if (!strcmp(n, "lag.p50"))
		return (double)p->lag_p50;
	if (!strcmp(n, "lag.p99"))
		return (double)p->lag_p99;
	if (!strcmp(n, "lag.max"))
		return (double)p->lag_max;
	if (!strcmp(n, "busy.p99"))
		return (double)p->busy_p99;
	if (!strcmp(n, "busy.max"))
		return (double)p->busy_max;
	if (!strncmp(n, "blocking.", 9) && c->function[0])
		return under(r, sym, n, c->function, have);
	if (!strcmp(n, "blocking.count"))
		return (double)p->blocking_count;
	if (!strcmp(n, "blocking.total"))
		return (double)p->blocking_total_ns;
	if (!strcmp(n, "cpu.share"))
		return under(r, sym, n, c->function, have);
	*have = p->gc_count > 0;
	if (!strcmp(n, "gc.pause_total"))
		return (double)p->gc_pause_total;
	if (!strcmp(n, "gc.pause_max"))
		return (double)p->gc_pause_max;
	if (!strcmp(n, "gc.worst_second"))
		return (double)p->gc_worst_second;
	*have = 0;
	return 0;
}

/* The loops a check is about: its selector's, or the main loop. A recording without loop
 * windows has one report, of all of it. */
static int check_loop(const struct measured *m, size_t i, const struct lsc_gate_check *c)
{
	if (!m->loops.id[i].key[0])
		return 1;
	return lsc_loop_matches(&m->loops.id[i], c->loop[0] ? c->loop : "main") == 1;
}

/* A loop metric over the loops the check selects: the worst of them (the highest against an
 * upper limit, the lowest against a lower one); *have 0 when none has it. */
static double loops_value(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			  struct measured *m, const struct lsc_gate_check *c, int *have)
{
	int upper = c->op == LSC_OP_LE || c->op == LSC_OP_LT, h;
	double v, worst = 0;
	size_t i;

	*have = 0;
	for (i = 0; i < m->loops.n; i++) {
		const struct lsc_recording *view = r;

		if (!check_loop(m, i, c))
			continue;
		if (c->function[0] && m->loops.id[i].key[0]) {
			if (!m->view[i] && lsc_recording_loop_view(r, &m->loops.id[i], &m->view[i]))
				continue;
			view = m->view[i];
		}
		v = loop_value(view, sym, m->loops.rep[i], c, &h);
		if (!h)
			continue;
		if (!*have || (upper ? v > worst : v < worst)) {
			worst = v;
			m->worst = i;
		}
		*have = 1;
	}
	return worst;
}

static int selects_any(const struct measured *m, const struct lsc_gate_check *c)
{
	size_t i;

	for (i = 0; i < m->loops.n; i++)
		if (check_loop(m, i, c))
			return 1;
	return 0;
}

static double metric_value(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			   struct measured *m, const struct lsc_gate_check *c, int *have)
{
	const struct lsc_report *p = m->main;
	const char *n = c->metric;
	const struct metric *mt = metric_of(n);

	if (mt && loop_metric(mt))
		return loops_value(r, sym, m, c, have);
	*have = p->has_pool;
	if (!strcmp(n, "pool.depth_max"))
		return p->pool_depth_max;
	if (!strcmp(n, "pool.wait_p99")) {
		*have = p->has_pool && p->pool_wait_p99 > 0;
		return (double)p->pool_wait_p99;
	}
	*have = m->heap_ok;
	if (!strcmp(n, "heap.native_rate")) {
		*have = m->heap_ok && m->heap.native.n >= 2;
		return m->heap.native_trend.rate;
	}
	if (!strcmp(n, "heap.managed_rate")) {
		*have = m->heap_ok && m->heap.managed.n >= 2 && !m->heap.managed_is_rss;
		return m->heap.managed_trend.rate;
	}
	if (!strcmp(n, "heap.js_growth")) { /* the JS heap's live bytes, first to last reading */
		*have = m->heap_ok && m->heap.js.snapshots >= 2;
		return (double)m->heap.js.growth;
	}
	if (!strcmp(n, "heap.leaked")) {
		*have = m->heap_ok && m->heap.snapshots > 0;
		return (double)m->heap.live_bytes;
	}
	*have = p->has_handles;
	if (!strncmp(n, "handles.", 8) && c->function[0]) /* by type: Node's own count */
		return resource_type(p, n, c->function, have);
	if (!strcmp(n, "handles.max"))
		return p->handles_max;
	if (!strcmp(n, "handles.growth"))
		return (double)p->handles_last - (double)p->handles_first;
	*have = 0;
	return 0;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The check's metric over recordings: their median; -1 when a recording lacks it. */
static int median_of(struct lsc_gate_check *c, const struct lsc_recording *const *recs,
		     struct measured *ms, struct lsc_symbolizer *const *syms, size_t n, double *out)
{
	double v[64];
	size_t i;
	int have;

	for (i = 0; i < n && i < 64; i++) {
		v[i] = metric_value(recs[i], syms ? syms[i] : NULL, &ms[i], c, &have);
		if (!have)
			return -1;
	}
	qsort(v, i, sizeof(v[0]), by_double);
	*out = i % 2 ? v[i / 2] : (v[i / 2 - 1] + v[i / 2]) / 2;
	return 0;
}

static int measure(const struct lsc_recording *r, struct lsc_symbolizer *sym, struct measured *m)
{
	int err = lsc_report_build_loops(r, sym, "all", &m->loops);

	if (err)
		return err;
	m->main = m->loops.rep[m->loops.main < m->loops.n ? m->loops.main : 0];
	m->heap_ok = lsc_heap_build(r, sym, &m->heap) == 0;
	return 0;
}

static void measured_free(struct measured *m)
{
	size_t i;

	for (i = 0; i < LSC_MAX_LOOPS; i++)
		lsc_recording_view_free(m->view[i]);
	lsc_report_loops_free(&m->loops);
	if (m->heap_ok)
		lsc_heap_free(&m->heap);
	memset(m, 0, sizeof(*m));
}

const char *lsc_gate_metric(size_t i)
{
	return i < sizeof(metrics) / sizeof(metrics[0]) ? metrics[i].name : NULL;
}

struct lsc_gate_measurer {
	const struct lsc_recording *r;
	struct lsc_symbolizer *sym;
	struct measured m;
};

int lsc_gate_measurer_new(const struct lsc_recording *r, struct lsc_symbolizer *sym,
			  struct lsc_gate_measurer **out)
{
	struct lsc_gate_measurer *g = calloc(1, sizeof(*g));
	int err;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->r = r;
	g->sym = sym;
	err = measure(r, sym, &g->m);
	if (err) {
		free(g);
		return err;
	}
	*out = g;
	return 0;
}

int lsc_gate_measure(struct lsc_gate_measurer *g, const char *metric, const char *function,
		     double *v)
{
	struct lsc_gate_check c;
	int have;

	memset(&c, 0, sizeof(c));
	snprintf(c.metric, sizeof(c.metric), "%s", metric);
	snprintf(c.function, sizeof(c.function), "%s", function ? function : "");
	*v = metric_value(g->r, g->sym, &g->m, &c, &have);
	return have;
}

void lsc_gate_measurer_free(struct lsc_gate_measurer *g)
{
	if (!g)
		return;
	measured_free(&g->m);
	free(g);
}

int lsc_gate_judge(struct lsc_gate *g, const struct lsc_recording *const *recs, size_t n,
		   const struct lsc_recording *base, struct lsc_symbolizer *const *syms,
		   struct lsc_symbolizer *base_sym, char *err, size_t errlen)
{
	struct measured *ms = calloc(n + 1, sizeof(*ms));
	size_t i;
	int e = 0;

	if (!ms)
		return -ENOMEM;
	for (i = 0; !e && i < n; i++)
		e = measure(recs[i], syms ? syms[i] : NULL, &ms[i]);
	if (!e && base)
		e = measure(base, base_sym, &ms[n]);
	for (i = 0; !e && i < g->n; i++) {
		struct lsc_gate_check *c = &g->checks[i];
		const struct metric *m = metric_of(c->metric);
		double lim;

		if (c->loop[0] && !selects_any(&ms[0], c)) {
			char keys[200] = "";
			size_t k;

			for (k = 0; k < ms[0].loops.n && strlen(keys) < sizeof(keys) - 50; k++)
				snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s",
					 k ? ", " : "", ms[0].loops.id[k].key);
			snprintf(err, errlen,
				 "line %u: '%s': no loop of the recording is [%s]; its loops: %s",
				 c->line, c->text, c->loop, keys[0] ? keys : "none");
			e = LSC_ENODATA;
			break;
		}
		if (median_of(c, recs, ms, syms, n, &c->measured)) {
			snprintf(err, errlen, "line %u: '%s': the recording has no %s; it needs %s",
				 c->line, c->text, c->metric, m->needs);
			e = LSC_ENODATA;
			break;
		}
		lim = c->limit;
		if (c->relative) {
			int have;

			c->baseline = metric_value(base, base_sym, &ms[n], c, &have);
			if (!have) {
				snprintf(err, errlen,
					 "line %u: '%s': the baseline has no %s; it needs %s",
					 c->line, c->text, c->metric, m->needs);
				e = LSC_ENODATA;
				break;
			}
			lim = c->baseline + (c->delta_percent ? c->baseline * c->limit : c->limit);
			/* "baseline - 2ms" against a baseline of 1 ms: a limit no time can meet,
			 * or one every time meets; either way not what was meant */
			if (lim < 0 && never_negative(m)) {
				char b[64], l[64];

				lsc_gate_format(c->metric, c->baseline, b, sizeof(b));
				lsc_gate_format(c->metric, lim, l, sizeof(l));
				snprintf(
					err, errlen,
					"%s:%u: impossible limit: %s with this baseline (%s), below "
					"zero, which %s never is: '%s'",
					g->file, c->line, l, b, c->metric, c->text);
				e = LSC_EBADBUDGET;
				break;
			}
		}
		/* the tolerance forgives: it moves the limit away from the measured side */
		c->effective = c->op == LSC_OP_LE || c->op == LSC_OP_LT ? lim + c->tolerance
									: lim - c->tolerance;
		switch (c->op) {
		case LSC_OP_LE:
			c->pass = c->measured <= c->effective;
			break;
		case LSC_OP_LT:
			c->pass = c->measured < c->effective;
			break;
		case LSC_OP_GE:
			c->pass = c->measured >= c->effective;
			break;
		default:
			c->pass = c->measured > c->effective;
		}
		/* Where to look: the stack behind loop time, for the loop metrics. */
		if (!c->pass && loop_metric(m)) {
			const struct lsc_report *lr = ms[0].loops.rep[ms[0].worst];
			char w[600];

			if (lr->nblocking &&
			    (!strncmp(c->metric, "blocking", 8) || !strncmp(c->metric, "lag", 3) ||
			     !strncmp(c->metric, "busy", 4) || !strncmp(c->metric, "elu", 3))) {
				lsc_report_owner_where(&lr->blocking[0].owner, "under", w,
						       sizeof(w));
				snprintf(c->note, sizeof(c->note), "%s%smost blocking time %s",
					 c->loop[0] ? lr->loop_name : "", c->loop[0] ? ": " : "",
					 w);
			} else if (c->loop[0]) {
				snprintf(c->note, sizeof(c->note), "on %s", lr->loop_name);
			}
		}
	}
	for (i = 0; i <= n; i++)
		measured_free(&ms[i]);
	free(ms);
	return e;
}
