/*
 * exporter_follow.c — the exporter's second source: recordings that processes under the agent
 * (`loopscope run`, or LD_PRELOAD with LOOPSCOPE_OUTPUT in a directory) are writing, followed
 * as they grow. The agent appends a window a second (docs/format.md: a header, then length-
 * prefixed records), so reading what was appended since the last look gives the same figures
 * attach does, with no privilege at all: the exporter only reads files. A recording is served
 * while its process runs (its header's PID, started when the header says) and ends at its
 * footer or when the process is gone; a recording of a process that had already exited when the
 * exporter found it is not served.
 */
#include "exporter.h"
#include "target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JUDGED	   (1u << 16)	 /* files looked at and not followed (or ended), remembered */
#define FIRST_READ 65536	 /* bytes read from a file not yet known to be a recording */
#define READ_MAX   (4u << 20)	 /* bytes read a tick from one recording */
#define START_TOL  5000000000ULL /* a header's start and its process's, at most this apart */

struct ex_follow {
	int fd;
	dev_t dev;
	ino_t ino;
	uint64_t off; /* the file's bytes consumed */
	uint8_t *buf;
	size_t len, cap;
	int header; /* its header was read */
	int ended;
};

/* A set by device and inode, open addressing with a short probe; when the probe is full its
 * home slot is overwritten (a file forgotten is looked at again: bounded memory, 1 MiB). */
static struct {
	dev_t dev;
	ino_t ino;
} * judged;

static unsigned judged_home(dev_t dev, ino_t ino)
{
	return (unsigned)((((uint64_t)ino ^ ((uint64_t)dev << 40)) * 0x9e3779b97f4a7c15ULL) >> 48);
}

static int was_judged(dev_t dev, ino_t ino)
{
	unsigned h = judged_home(dev, ino), i;

	for (i = 0; judged && i < 8; i++) {
		unsigned k = (h + i) & (JUDGED - 1);

		if (judged[k].ino == ino && judged[k].dev == dev)
			return 1;
		if (!judged[k].ino)
			return 0;
	}
	return 0;
}

static void judge(dev_t dev, ino_t ino)
{
	unsigned h = judged_home(dev, ino), i, k = h & (JUDGED - 1);

	if (!judged && !(judged = calloc(JUDGED, sizeof(*judged))))
		return;
	for (i = 0; i < 8; i++)
		if (!judged[(h + i) & (JUDGED - 1)].ino) {
			k = (h + i) & (JUDGED - 1);
			break;
		}
	judged[k].dev = dev;
	judged[k].ino = ino;
}

int ex_followed(const struct ex_proc *procs, int pid)
{
	for (; procs; procs = procs->next)
		if (procs->follow && procs->pid == pid)
			return 1;
	return 0;
}

void ex_follow_free(struct ex_proc *p)
{
	if (!p->follow)
		return;
	close(p->follow->fd);
	free(p->follow->buf);
	free(p->follow);
	p->follow = NULL;
}

void ex_drop(struct ex_proc **pp, struct ex_self *self)
{
	struct ex_proc *p = *pp;

	fprintf(stderr, "loopscope exporter: PID %d (%s) exited\n", p->pid, p->service);
	if (p->a)
		lsc_attach_stop(p->a);
	ex_follow_free(p);
	ex_rec_end(p);
	*pp = p->next;
	free(p);
	self->targets--;
	self->exited++;
}

/* When PID started, wall clock ns (0: unknown). */
static uint64_t started_unix_ns(int pid)
{
	static uint64_t btime;
	char path[64], buf[1024], *at;
	unsigned long long ticks = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int i;

	if (!btime) {
		char st[8192];

		if (lsc__read_small("/proc/stat", st, sizeof(st)) > 0 &&
		    (at = strstr(st, "btime ")))
			btime = strtoull(at + 6, NULL, 10);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!btime || hz <= 0 || lsc__read_small(path, buf, sizeof(buf)) <= 0 ||
	    !(at = strrchr(buf, ')')))
		return 0;
	for (i = 3; i <= 22 && at; i++)
		at = strchr(at + 1, ' ');
	if (at)
		ticks = strtoull(at + 1, NULL, 10);
	return btime * 1000000000ULL + ticks * (1000000000ULL / (uint64_t)hz);
}

/* The header: the process it is, if it runs. 0 to follow it, -1 not. */
static int take_header(struct ex_proc *p, const Loopscope__Header *h)
{
	char env[65536], path[64];
	uint64_t started;
	int n;

	if (!h->has_pid || !lsc__target_alive((int)h->pid))
		return -1;
	started = started_unix_ns((int)h->pid);
	if (h->has_start_unix_ns && started &&
	    (started > h->start_unix_ns + START_TOL || h->start_unix_ns > started + START_TOL))
		return -1; /* the PID is another process's now */
	p->pid = (int)h->pid;
	snprintf(p->exe, sizeof(p->exe), "%s", h->executable ? h->executable : "");
	snprintf(path, sizeof(path), "/proc/%d/environ", p->pid);
	n = lsc__read_small(path, env, sizeof(env)); /* another user's: not readable, no matter */
	ex_service(n > 0 ? env : NULL, n > 0 ? (size_t)n : 0, (const char *const *)h->argv,
		   h->n_argv, p->exe, p->service, sizeof(p->service));
	return 0;
}

/* Reads what was appended and folds its records in. -1 when the recording is not one to
 * serve (not a recording, its process gone); 1 when anything was folded. */
static int drain(struct ex_proc *p)
{
	struct ex_follow *f = p->follow;
	size_t at = 0;
	ssize_t n;
	int changed = 0;

	if (f->cap - f->len < 65536) {
		size_t cap = f->cap ? f->cap * 2 : 262144;
		uint8_t *b = cap <= 2 * READ_MAX ? realloc(f->buf, cap) : NULL;

		if (!b)
			return -1; /* a record larger than any the agent writes */
		f->buf = b;
		f->cap = cap;
	}
	/* a file not yet known to be a recording: its beginning only */
	n = pread(f->fd, f->buf + f->len,
		  f->header || f->cap - f->len < FIRST_READ ? f->cap - f->len : FIRST_READ,
		  (off_t)(f->off + f->len));
	if (n < 0)
		return -1;
	f->len += (size_t)n;
	if (!f->header && f->off == 0) {
		uint8_t magic[LSC_FILE_HEADER_SIZE];

		if (f->len < LSC_FILE_HEADER_SIZE)
			return 0;
		lsc_file_header(magic);
		if (memcmp(f->buf, magic, LSC_FILE_HEADER_SIZE))
			return -1;
		at = LSC_FILE_HEADER_SIZE;
	}
	for (;;) {
		uint64_t len = 0;
		unsigned shift = 0;
		size_t k = at;
		Loopscope__Record *r;

		while (k < f->len && shift < 64) {
			len |= (uint64_t)(f->buf[k] & 0x7f) << shift;
			shift += 7;
			if (!(f->buf[k++] & 0x80))
				break;
		}
		if (k == at || (f->buf[k - 1] & 0x80) || len > f->len - k)
			break; /* not all of it written yet */
		r = loopscope__record__unpack(NULL, (size_t)len, f->buf + k);
		at = k + (size_t)len;
		if (!r)
			continue; /* one the reader does not know: the next */
		if (r->body_case == LOOPSCOPE__RECORD__BODY_HEADER && !f->header) {
			f->header = 1;
			if (take_header(p, r->header)) {
				loopscope__record__free_unpacked(r, NULL);
				return -1;
			}
		} else if (f->header && r->body_case == LOOPSCOPE__RECORD__BODY_WINDOW) {
			ex_fold_window(p, r->window);
			changed = 1;
		} else if (f->header && r->body_case == LOOPSCOPE__RECORD__BODY_EVENT) {
			ex_fold_event(p, r->event);
			changed = 1;
		} else if (r->body_case == LOOPSCOPE__RECORD__BODY_FOOTER) {
			f->ended = 1;
		}
		loopscope__record__free_unpacked(r, NULL);
	}
	memmove(f->buf, f->buf + at, f->len - at);
	f->off += at;
	f->len -= at;
	return changed;
}

/* Starts following path when it is a recording not yet judged. */
static void look_at(const char *path, struct ex_proc **procs, struct ex_self *self)
{
	struct ex_proc *p, *q;
	struct stat st;
	int fd, r;

	if (lstat(path, &st) || !S_ISREG(st.st_mode) || was_judged(st.st_dev, st.st_ino))
		return;
	for (q = *procs; q; q = q->next)
		if (q->follow && q->follow->dev == st.st_dev && q->follow->ino == st.st_ino)
			return;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	p = fd >= 0 ? calloc(1, sizeof(*p)) : NULL;
	if (p)
		p->follow = calloc(1, sizeof(*p->follow));
	if (!p || !p->follow) {
		if (fd >= 0)
			close(fd);
		free(p);
		return;
	}
	p->follow->fd = fd;
	p->follow->dev = st.st_dev;
	p->follow->ino = st.st_ino;
	r = drain(p);
	if (r < 0 || p->follow->ended || !p->follow->header) {
		/* not a recording, or a past process's: not again; no header yet: looked at again
		 */
		if (r < 0 || p->follow->ended)
			judge(st.st_dev, st.st_ino);
		ex_follow_free(p);
		free(p);
		return;
	}
	fprintf(stderr, "loopscope exporter: following PID %d (%s) in %s\n", p->pid, p->service,
		path);
	p->next = *procs;
	*procs = p;
	self->targets++;
	self->attached++;
}

static void scan_dir(const char *dir, struct ex_proc **procs, struct ex_self *self)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strstr(e->d_name, ".lsr") || strstr(e->d_name, ".tmp."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		look_at(path, procs, self);
	}
	if (d)
		closedir(d);
}

int ex_follow_tick(const char *const *dirs, size_t ndirs, struct ex_proc **procs,
		   struct ex_self *self, int scan)
{
	struct ex_proc **pp = procs, *p;
	unsigned before = self->targets;
	int changed = 0, r;
	size_t i;

	for (i = 0; scan && i < ndirs; i++)
		scan_dir(dirs[i], procs, self);
	while ((p = *pp)) {
		if (!p->follow) {
			pp = &p->next;
			continue;
		}
		r = drain(p);
		if (r > 0)
			changed = 1;
		if (r < 0 || p->follow->ended || !lsc__target_alive(p->pid)) {
			judge(p->follow->dev, p->follow->ino);
			ex_drop(pp, self);
			changed = 1;
			continue;
		}
		pp = &p->next;
	}
	return changed || self->targets != before;
}
