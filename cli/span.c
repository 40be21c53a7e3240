/*
 * span.c — the part of the recorded time a reading command works on (--since, --until), and
 * the exporter's directories of rotating recordings (--record-dir, docs/exporter.md) read as
 * one recording: DIR/SERVICE.PID.START/SEGSTART.lsr, one directory per session (a process
 * watched from START, unix seconds), one file per segment (from SEGSTART). --pid or --service
 * chooses the session; the segments that cover the span are read together (lsc_segments.c) and
 * cut to it like any recording.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_SESSIONS 4096
#define MAX_SEGMENTS 65536

struct lsc_cli_span lsc_cli_span;

static uint64_t wall_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int lsc_cli_parse_duration(const char *v, double max_s, double *secs)
{
	char *end;
	double d;

	if (*v < '0' || *v > '9' || strpbrk(v, "eExXpP"))
		return -1;
	d = strtod(v, &end);
	if (end == v)
		return -1;
	if (!strcmp(end, "ms"))
		d /= 1000;
	else if (!strcmp(end, "m"))
		d *= 60;
	else if (!strcmp(end, "h"))
		d *= 3600;
	else if (!strcmp(end, "d"))
		d *= 86400;
	else if (*end && strcmp(end, "s"))
		return -1;
	if (!(d >= 0.001 && d <= max_s))
		return -1;
	*secs = d;
	return 0;
}

/* A moment, wall clock ns: "15m" (that long ago), "@1764565200" (unix seconds), or
 * "2026-12-01T05:00:00Z" (UTC; the Z may be left out). 0 when it is none of them. */
static uint64_t parse_moment(const char *v)
{
	struct tm tm;
	char *end;
	double secs;

	if (v[0] == '@') { /* to the nanosecond: a span another report printed, exactly */
		uint64_t s = 0, ns = 0, scale = 100000000ULL;
		const char *c = v + 1;

		if (*c < '0' || *c > '9')
			return 0;
		for (; *c >= '0' && *c <= '9' && s < 100000000000ULL; c++)
			s = s * 10 + (uint64_t)(*c - '0');
		if (*c == '.')
			for (c++; *c >= '0' && *c <= '9' && scale; c++, scale /= 10)
				ns += (uint64_t)(*c - '0') * scale;
		return *c || !s ? 0 : s * 1000000000ULL + ns;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		end = strptime(v, "%Y-%m-%d %H:%M:%S", &tm);
	if (end && (!*end || !strcmp(end, "Z"))) {
		time_t t = timegm(&tm);

		return t > 0 ? (uint64_t)t * 1000000000ULL : 0;
	}
	if (lsc_cli_parse_duration(v, 366 * 86400.0, &secs))
		return 0;
	return wall_ns() - (uint64_t)(secs * 1e9);
}

int lsc_cli_span_option(const char *cmd, int opt, const char *v)
{
	struct lsc_cli_span *s = &lsc_cli_span;
	uint64_t t;

	if (opt == LSC_OPT_SERVICE) {
		if (!*v)
			return lsc_usage_error(cmd, "--service takes a name");
		s->service = v;
		return 0;
	}
	t = parse_moment(v);
	if (!t)
		return lsc_usage_error(cmd,
				       "%s '%s': not a time (15m, 2h or 1d ago; @UNIX-SECONDS; "
				       "2026-12-01T05:00:00Z)",
				       opt == LSC_OPT_SINCE ? "--since" : "--until", v);
	if (opt == LSC_OPT_SINCE)
		s->since_ns = t;
	else
		s->until_ns = t;
	if (s->since_ns && s->until_ns && s->since_ns >= s->until_ns)
		return lsc_usage_error(cmd, "--since must come before --until");
	return 0;
}

void lsc_cli_format_time(uint64_t unix_ns, char *buf, size_t cap)
{
	time_t t = (time_t)(unix_ns / 1000000000ULL);
	struct tm tm;

	if (!unix_ns || !gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "?");
}

/* ------------------------------------------------------------------ cutting */

int lsc_cli_apply_span(const char *path, struct lsc_recording *r)
{
	const struct lsc_cli_span *s = &lsc_cli_span;
	uint64_t start = r->header ? r->header->start_unix_ns : 0, since = 0, until = UINT64_MAX;
	char a[32], b[32], c[32];
	int err;

	if (!s->since_ns && !s->until_ns) {
		/* a segment (or segments) read without a span: from where it begins */
		if (!r->header || !r->header->has_segment)
			return 0;
		err = r->header->segment_start_ns
			      ? lsc_recording_cut(r, r->header->segment_start_ns, UINT64_MAX)
			      : 0;
		r->cut |= !r->footer; /* the session went on after it */
		if (err == LSC_ENODATA)
			return lsc_fail("'%s' has no window yet", path);
		if (err)
			return lsc_fail("cannot read '%s': %s", path, lsc_strerror(err));
		return 0;
	}
	if (!start)
		return lsc_fail("'%s' does not say when it began (no header): --since and --until "
				"cannot cut it",
				path);
	if (s->since_ns > start)
		since = s->since_ns - start;
	if (s->until_ns)
		until = s->until_ns > start ? s->until_ns - start : 0;
	err = until ? lsc_recording_cut(r, since, until) : LSC_ENODATA;
	if (err == LSC_ENODATA) {
		lsc_cli_format_time(s->since_ns ? s->since_ns : start, a, sizeof(a));
		lsc_cli_format_time(s->until_ns ? s->until_ns : wall_ns(), b, sizeof(b));
		lsc_cli_format_time(start, c, sizeof(c));
		return lsc_fail("'%s' has no window from %s to %s (it begins at %s); widen "
				"--since/--until",
				path, a, b, c);
	}
	return err ? lsc_fail("cannot cut '%s': %s", path, lsc_strerror(err)) : 0;
}

/* ------------------------------------------------------------------ rotating recordings */

static int file_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || (c == '.' && !first);
}

void lsc_cli_service_file_name(const char *service, char *out, size_t cap)
{
	size_t i;

	for (i = 0; service[i] && i + 1 < cap; i++)
		out[i] = file_char(service[i], i == 0) ? service[i] : '_';
	out[i] = 0;
	if (!i && cap > 1)
		snprintf(out, cap, "_");
}

struct session {
	char name[NAME_MAX + 1]; /* SERVICE.PID.START */
	char service[NAME_MAX + 1];
	int pid;
	uint64_t start_s, end_ns; /* end: the last segment's last write */
};

/* SERVICE.PID.START, or 0. */
static int session_name(const char *name, struct session *s)
{
	const char *dot2 = strrchr(name, '.'), *dot1;
	char *end;
	size_t n;

	if (!dot2 || dot2 == name)
		return 0;
	for (dot1 = dot2 - 1; dot1 > name && *dot1 != '.'; dot1--)
		;
	if (dot1 == name || dot2 - dot1 < 2 || !dot2[1])
		return 0;
	s->pid = (int)strtol(dot1 + 1, &end, 10);
	if (end != dot2 || s->pid <= 0)
		return 0;
	s->start_s = strtoull(dot2 + 1, &end, 10);
	if (*end)
		return 0;
	n = (size_t)(dot1 - name);
	memcpy(s->service, name, n);
	s->service[n] = 0;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return 1;
}

/* A segment file's start (unix seconds) from its name, or 0. */
static uint64_t segment_start(const char *name)
{
	char *end;
	uint64_t t = strtoull(name, &end, 10);

	return end != name && !strcmp(end, ".lsr") ? t : 0;
}

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The segments' starts in the session's directory, sorted; their count (at most cap). */
static size_t segments_of(const char *dir, const char *session, uint64_t *t, size_t cap,
			  uint64_t *last_write_ns)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, session);
	d = opendir(path);
	while (d && (e = readdir(d)) && n < cap)
		if ((t[n] = segment_start(e->d_name)))
			n++;
	if (d)
		closedir(d);
	if (n)
		qsort(t, n, sizeof(*t), by_u64);
	*last_write_ns = 0;
	if (n) {
		snprintf(path, sizeof(path), "%s/%s/%llu.lsr", dir, session,
			 (unsigned long long)t[n - 1]);
		if (!stat(path, &st))
			*last_write_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL +
					 (uint64_t)st.st_mtim.tv_nsec;
	}
	return n;
}

static int overlaps(uint64_t from_ns, uint64_t to_ns)
{
	const struct lsc_cli_span *s = &lsc_cli_span;

	return (!s->until_ns || from_ns < s->until_ns) && (!s->since_ns || to_ns > s->since_ns);
}

/* The one session the options choose, or -1 (said). */
static int choose(const char *dir, struct session *ss, size_t n, int pid)
{
	const struct lsc_cli_span *s = &lsc_cli_span;
	char list[600] = "", a[32], b[32], svc[NAME_MAX + 1];
	size_t i, hits = 0, all = 0;
	int hit = -1;

	if (s->service) /* as the exporter names its directories */
		lsc_cli_service_file_name(s->service, svc, sizeof(svc));

	for (i = 0; i < n; i++) {
		int mine =
			(!pid || ss[i].pid == pid) && (!s->service || !strcmp(ss[i].service, svc));

		if (!mine)
			continue;
		all++;
		if (!overlaps(ss[i].start_s * 1000000000ULL, ss[i].end_ns))
			continue;
		if (hits++ == 0)
			hit = (int)i;
	}
	if (hits == 1)
		return hit;
	for (i = 0; i < n && strlen(list) < sizeof(list) - 100; i++) {
		/* the chosen process's recordings; when it has none, all of them */
		if (all &&
		    ((pid && ss[i].pid != pid) || (s->service && strcmp(ss[i].service, svc))))
			continue;
		lsc_cli_format_time(ss[i].start_s * 1000000000ULL, a, sizeof(a));
		lsc_cli_format_time(ss[i].end_ns, b, sizeof(b));
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s pid %d %s to %s",
			 list[0] ? "; " : "", ss[i].service, ss[i].pid, a, b);
	}
	if (!n) {
		lsc_fail(
			"'%s' is a directory without rotating recordings (SERVICE.PID.START "
			"directories, as `loopscope exporter --record-dir` makes); give a recording "
			"file, or such a directory",
			dir);
		return -1;
	}
	if (!all) {
		char who[NAME_MAX + 32] = "";

		if (pid)
			snprintf(who, sizeof(who), "pid %d", pid);
		if (s->service)
			snprintf(who + strlen(who), sizeof(who) - strlen(who), "%sservice %s",
				 pid ? " of " : "", s->service);
		lsc_fail("'%s' has no recording of %s: it has %s", dir, who,
			 list[0] ? list : "none of them");
		return -1;
	}
	if (!hits)
		lsc_fail("'%s': no recording of the chosen process covers the span; they cover: %s",
			 dir, list);
	else
		lsc_fail("'%s': %zu recordings cover the span (%s); choose one with --pid%s or a "
			 "narrower --since/--until",
			 dir, hits, list, s->service ? "" : " or --service");
	return -1;
}

int lsc_cli_read_dir(const char *dir, int pid, struct lsc_recording **out)
{
	struct session *ss = calloc(MAX_SESSIONS, sizeof(*ss));
	uint64_t *t = calloc(MAX_SEGMENTS, sizeof(*t)), last;
	const char **paths = NULL;
	struct lsc_read_info info;
	size_t n = 0, nseg, i, k = 0, bad = 0;
	struct dirent *e;
	int ret = -1, err, h;
	DIR *d = opendir(dir);

	*out = NULL;
	if (!ss || !t) {
		lsc_fail("out of memory");
		goto out;
	}
	if (!d) {
		lsc_fail("cannot open the directory '%s': %s", dir, strerror(errno));
		goto out;
	}
	while ((e = readdir(d)) && n < MAX_SESSIONS)
		if (e->d_name[0] != '.' && session_name(e->d_name, &ss[n]) &&
		    segments_of(dir, ss[n].name, t, MAX_SEGMENTS, &ss[n].end_ns))
			n++;
	h = choose(dir, ss, n, pid);
	if (h < 0)
		goto out;
	nseg = segments_of(dir, ss[h].name, t, MAX_SEGMENTS, &last);
	paths = calloc(nseg, sizeof(*paths));
	if (!paths) {
		lsc_fail("out of memory");
		goto out;
	}
	/* segment i runs from its start to the next one's (the last: to its last write) */
	for (i = 0; i < nseg; i++) {
		uint64_t from = t[i] * 1000000000ULL,
			 to = i + 1 < nseg ? t[i + 1] * 1000000000ULL : last;
		char path[PATH_MAX];

		if (!overlaps(from, to + 1))
			continue;
		snprintf(path, sizeof(path), "%s/%s/%llu.lsr", dir, ss[h].name,
			 (unsigned long long)t[i]);
		if (!(paths[k] = strdup(path))) {
			lsc_fail("out of memory");
			goto out;
		}
		k++;
	}
	err = lsc_recording_read_segments(paths, k, out, &info, &bad);
	if (err == LSC_ENODATA)
		lsc_fail("'%s/%s': no segment covers the span", dir, ss[h].name);
	else if (err && bad < k)
		lsc_fail("cannot read the segment '%s': %s", paths[bad], lsc_strerror(err));
	else if (err)
		lsc_fail("cannot read the segments of '%s/%s' as one recording: %s", dir,
			 ss[h].name, lsc_strerror(err));
	else
		ret = 0;
out:
	for (i = 0; paths && i < k; i++)
		free((char *)paths[i]);
	free(paths);
	if (d)
		closedir(d);
	free(ss);
	free(t);
	return ret;
}
