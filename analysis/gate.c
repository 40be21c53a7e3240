/*
 * gate.c — budgets for CI (lsc_gate.h). The budget format is one check a line,
 *     METRIC[(FUNCTION)] OP LIMIT [tolerance T]      # comment
 * with OP one of <= < >= >, LIMIT a number with its unit (50ms, 10MiB, 5%, 2MiB/s) or
 * "baseline", "baseline + 10%", "baseline - 2ms". Written here rather than taken from a library:
 * the checks are comparisons, which key = value formats (TOML, INI) and JSON can only spell as
 * nested keys, and no Debian library parses "metric op value" lines; this way every mistake is
 * named by its line.
 */
#include "gate_internal.h"
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

static const struct metric metrics[] = {
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
	{"starvation.max", U_TIME, 0, "loop windows and CPU samples (loopscope run or attach)"},
	{"starvation.total", U_TIME, 0, "loop windows and CPU samples (loopscope run or attach)"},
	{"backpressure.queued_max", U_BYTES, 0,
	 "write queues (loopscope run or attach; Node's socket buffers: run)"},
	{"shutdown.hang", U_TIME, 0, "a stop request in the recording (loopscope run or attach)"},
};

/* The metrics of one loop (each loop has its own): the rest serve the whole process. */
int lsc__gate_loop_metric(const struct metric *m)
{
	return !strncmp(m->name, "elu.", 4) || !strncmp(m->name, "lag.", 4) ||
	       !strncmp(m->name, "busy.", 5) || !strncmp(m->name, "blocking.", 9) ||
	       !strncmp(m->name, "gc.", 3) || !strcmp(m->name, "cpu.share") ||
	       !strncmp(m->name, "starvation.", 11);
}

/* Rates and the growth of the handle count can go below zero; nothing else a budget checks can. */
int lsc__gate_never_negative(const struct metric *m)
{
	return m->unit != U_RATE && strcmp(m->name, "handles.growth") != 0 &&
	       strcmp(m->name, "heap.js_growth") != 0;
}

const struct metric *lsc__gate_metric_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (!strcmp(metrics[i].name, name))
			return &metrics[i];
	return NULL;
}

const char *lsc_gate_unit(const char *metric)
{
	const struct metric *m = lsc__gate_metric_of(metric);
	static const char *names[] = {"ns", "bytes", "bytes/s", "", "share", ""};

	return m ? names[m->unit] : "";
}

void lsc_gate_format(const char *metric, double v, char *buf, size_t cap)
{
	const struct metric *m = lsc__gate_metric_of(metric);

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
	m = lsc__gate_metric_of(c->metric);
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
		if (!q || !lsc__gate_loop_metric(m)) {
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
	if (c->limit < 0 && lsc__gate_never_negative(m)) {
		*why = "impossible limit: this metric is never negative";
		return -1;
	}
	if (c->op == LSC_OP_LT && c->limit <= 0 && lsc__gate_never_negative(m)) {
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

const char *lsc_gate_metric(size_t i)
{
	return i < sizeof(metrics) / sizeof(metrics[0]) ? metrics[i].name : NULL;
}
