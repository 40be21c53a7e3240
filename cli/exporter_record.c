/*
 * exporter_record.c — the exporter's rotating recordings (--record-dir DIR, docs/exporter.md):
 * each watched process a session directory DIR/SERVICE.PID.START (START: unix seconds), one
 * recording segment per --segment of time in it (SEGSTART.lsr), cut at a window's end by the
 * attach session itself (lsc_attach_rotate), and the retention bounds (--retain-size,
 * --retain-age) kept by deleting the oldest segments. Only what the exporter writes is deleted:
 * files of the segments' naming in directories of the sessions' naming, regular (not links),
 * owned by the exporter's user, beginning as recordings; never a segment being written. The
 * reading side (report DIR --pid P --since 15m) is span.c.
 */
#include "cli.h"
#include "exporter.h"
#include "lsc_symbols.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RETAIN_EVERY_NS 10000000000ULL /* how often the bounds are checked, at most */
#define MAX_FILES	(1u << 20)     /* segments looked at by one check */

struct ex_rec {
	char dir[PATH_MAX - 64]; /* the session's (room for a segment's name after it) */
	char cur[PATH_MAX];	 /* the segment being written */
	uint64_t seg_mono;	 /* when it began (CLOCK_MONOTONIC ns) */
	int said;		 /* a rotation failed, said once */
};

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int ex_rec_dir_check(const char *dir, char *err, size_t cap)
{
	struct stat st;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		snprintf(err, cap, "--record-dir '%s': cannot create it: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK)) {
		snprintf(err, cap, "--record-dir '%s': not a directory this user can write", dir);
		return -1;
	}
	return 0;
}

/* DIR/SESSION/SEGSTART.lsr of now. */
static void segment_path(const struct ex_rec *r, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%llu.lsr", r->dir, (unsigned long long)time(NULL));
}

int ex_rec_begin(const struct ex_rec_opts *o, struct ex_proc *p, struct lsc_attach_opts *ao)
{
	struct ex_rec *r = calloc(1, sizeof(*r));
	char name[NAME_MAX + 1];

	if (!r)
		return -1;
	lsc_cli_service_file_name(p->service, name, sizeof(name) - 32);
	if (snprintf(r->dir, sizeof(r->dir), "%s/%s.%d.%llu", o->dir, name, p->pid,
		     (unsigned long long)time(NULL)) >= (int)sizeof(r->dir) ||
	    mkdir(r->dir, 0755)) {
		lsc_warn("PID %d (%s): no recording: cannot create '%s': %s", p->pid, p->service,
			 r->dir, strerror(errno ? errno : ENAMETOOLONG));
		free(r);
		return -1;
	}
	segment_path(r, r->cur, sizeof(r->cur));
	r->seg_mono = mono_ns();
	ao->output = r->cur;
	ao->segmented = 1;
	ao->service = p->service;
	ao->cpu_hz = o->cpu_hz;
	ao->tee = o->tee;
	p->rec = r;
	return 0;
}

/* A segment ended: the symbols of the native and kernel frames its stacks use appended, as
 * attach's finalize does (JS frames are named already), so that it reads alone anywhere. */
static void finish(const char *path)
{
	size_t added;

	if (lsc_recording_symbolize(path, NULL, "/proc/kallsyms", &added))
		lsc_warn("could not add symbols to '%s'; 'loopscope symbolize' can retry", path);
}

void ex_rec_window(const struct ex_rec_opts *o, struct ex_proc *p)
{
	struct ex_rec *r = p->rec;
	char next[PATH_MAX];
	int e;

	if (!r || !p->a || mono_ns() - r->seg_mono < o->segment_ns)
		return;
	segment_path(r, next, sizeof(next));
	if (!strcmp(next, r->cur))
		return; /* within the second the segment began: the next window */
	e = lsc_attach_rotate(p->a, next);
	if (e) {
		if (!r->said++)
			lsc_warn("PID %d (%s): cannot begin the segment '%s': %s; the current one "
				 "goes on",
				 p->pid, p->service, next, lsc_strerror(e));
		return;
	}
	finish(r->cur);
	snprintf(r->cur, sizeof(r->cur), "%s", next);
	r->seg_mono = mono_ns();
	r->said = 0;
}

static int ours(const char *path, const struct stat *st);

void ex_rec_abandon(struct ex_proc *p)
{
	struct stat st;

	if (!p->rec)
		return;
	/* what this session made: its first segment (if the start got so far), its directory */
	if (!lstat(p->rec->cur, &st) && ours(p->rec->cur, &st))
		unlink(p->rec->cur);
	rmdir(p->rec->dir);
	free(p->rec);
	p->rec = NULL;
}

void ex_rec_end(struct ex_proc *p)
{
	if (p->rec)
		finish(p->rec->cur); /* (its session stopped: the footer is written) */
	free(p->rec);
	p->rec = NULL;
}

/* ------------------------------------------------------------------ retention */

struct seg {
	char path[PATH_MAX];
	uint64_t start, size, mtime;
};

/* SERVICE.PID.START */
static int session_named(const char *name)
{
	const char *d2 = strrchr(name, '.'), *d1;

	if (!d2 || d2 == name || !d2[1] || strspn(d2 + 1, "0123456789") != strlen(d2 + 1))
		return 0;
	for (d1 = d2 - 1; d1 > name && *d1 != '.'; d1--)
		;
	return d1 > name && d2 - d1 > 1 && strspn(d1 + 1, "0123456789") == (size_t)(d2 - d1 - 1);
}

/* SEGSTART.lsr: its start, or 0. */
static uint64_t segment_named(const char *name)
{
	char *end;
	uint64_t t = strtoull(name, &end, 10);

	return name[0] >= '0' && name[0] <= '9' && !strcmp(end, ".lsr") ? t : 0;
}

static int by_start(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int in_use(const struct ex_proc *procs, const char *path)
{
	for (; procs; procs = procs->next)
		if (procs->rec && !strcmp(procs->rec->cur, path))
			return 1;
	return 0;
}

/* A file the exporter wrote: regular, its user's, a recording. */
static int ours(const char *path, const struct stat *st)
{
	char magic[4];
	int fd, ok = 0;

	if (!S_ISREG(st->st_mode) || st->st_uid != geteuid())
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		ok = read(fd, magic, 4) == 4 && !memcmp(magic, LSC_FORMAT_MAGIC, 4);
		close(fd);
	}
	return ok;
}

/* Every segment under dir (not the ones being written), into *v; their total size. */
static uint64_t collect(const char *dir, const struct ex_proc *procs, struct seg **v, size_t *n,
			size_t *cap)
{
	DIR *d = opendir(dir), *sd;
	struct dirent *e, *f;
	uint64_t total = 0;
	struct stat st;

	while (d && (e = readdir(d))) {
		char sdir[PATH_MAX];

		if (e->d_name[0] == '.' || !session_named(e->d_name))
			continue;
		snprintf(sdir, sizeof(sdir), "%s/%s", dir, e->d_name);
		if (lstat(sdir, &st) || !S_ISDIR(st.st_mode) || !(sd = opendir(sdir)))
			continue;
		while ((f = readdir(sd)) && *n < MAX_FILES) {
			struct seg s;

			if (!(s.start = segment_named(f->d_name)))
				continue;
			if (snprintf(s.path, sizeof(s.path), "%s/%s", sdir, f->d_name) >=
				    (int)sizeof(s.path) ||
			    lstat(s.path, &st) || !S_ISREG(st.st_mode))
				continue;
			total += (uint64_t)st.st_size;
			if (in_use(procs, s.path))
				continue;
			s.size = (uint64_t)st.st_size;
			s.mtime = (uint64_t)st.st_mtim.tv_sec;
			if (*n == *cap) {
				size_t c = *cap ? *cap * 2 : 256;
				struct seg *m = realloc(*v, c * sizeof(*m));

				if (!m)
					break;
				*v = m;
				*cap = c;
			}
			(*v)[(*n)++] = s;
		}
		closedir(sd);
	}
	if (d)
		closedir(d);
	return total;
}

void ex_rec_retain(const struct ex_rec_opts *o, const struct ex_proc *procs, int now)
{
	static uint64_t last;
	struct seg *v = NULL;
	size_t n = 0, cap = 0, i;
	uint64_t total, t = mono_ns(), wall = (uint64_t)time(NULL);
	struct stat st;

	if (!o->dir || (!now && t - last < RETAIN_EVERY_NS))
		return;
	last = t;
	total = collect(o->dir, procs, &v, &n, &cap);
	if (n)
		qsort(v, n, sizeof(*v), by_start);
	/* oldest first, while over the size, or too old (ended before the age bound) */
	for (i = 0; i < n; i++) {
		char sdir[PATH_MAX], *slash;

		if (total <= o->max_bytes && v[i].mtime + o->max_age_ns / 1000000000ULL >= wall)
			continue;
		if (lstat(v[i].path, &st) || !ours(v[i].path, &st) || unlink(v[i].path))
			continue;
		total -= v[i].size < total ? v[i].size : total;
		snprintf(sdir, sizeof(sdir), "%s", v[i].path);
		slash = strrchr(sdir, '/');
		if (slash) {
			*slash = 0;
			rmdir(sdir); /* the session's last segment gone: its directory too (if
					empty) */
		}
	}
	free(v);
}
