/*
 * sets.c — reading a set: the recording REC and the recordings beside it, REC.PID, that carry
 * its set id (the processes of one `run` or one `attach --children`: docs/format.md "Sets").
 * REC is the first member; the others in the order of their pids. A member that cannot be read
 * is said and left out; REC itself must read.
 */
#include "cli.h"

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_pid(const void *a, const void *b)
{
	const struct lsc_recording *x = *(const struct lsc_recording *const *)a;
	const struct lsc_recording *y = *(const struct lsc_recording *const *)b;
	uint32_t px = x->header ? x->header->pid : 0, py = y->header ? y->header->pid : 0;

	return px < py ? -1 : px > py;
}

/* Every member cut to the span (--since, --until), if one was given. */
static int cut_all(const char *path, struct lsc_cli_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (lsc_cli_apply_span(path, s->r[i])) {
			lsc_cli_set_free(s);
			return -1;
		}
	return 0;
}

int lsc_cli_read_set(const char *path, struct lsc_cli_set *s)
{
	char tmp[PATH_MAX], dir[PATH_MAX], base[PATH_MAX], member[PATH_MAX];
	const char *id;
	struct dirent *e;
	size_t blen;
	DIR *d;
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (!stat(path, &st) && S_ISDIR(st.st_mode)) { /* rotating recordings: one session */
		if (lsc_cli_read_dir(path, lsc_cli_span.pid, &s->r[0]))
			return -1;
		s->n = 1;
		if (lsc_cli_apply_span(path, s->r[0])) {
			lsc_cli_set_free(s);
			return -1;
		}
		return 0;
	}
	if (lsc_cli_read_recording(path, &s->r[0]))
		return -1;
	s->n = 1;
	id = s->r[0]->header ? s->r[0]->header->set_id : NULL;
	if (!id || !*id)
		return cut_all(path, s);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(base, sizeof(base), "%s", basename(tmp));
	blen = strlen(base);
	d = opendir(dir);
	while (d && (e = readdir(d)) && s->n < LSC_CLI_MAX_SET) {
		struct lsc_recording *r;
		const char *tail = e->d_name + blen;

		if (strncmp(e->d_name, base, blen) || tail[0] != '.' || !tail[1] ||
		    strspn(tail + 1, "0123456789") != strlen(tail + 1))
			continue;
		if (snprintf(member, sizeof(member), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(member))
			continue;
		if (lsc_recording_read(member, &r, NULL)) {
			lsc_warn("'%s' beside '%s' cannot be read: left out of the set", member,
				 path);
			continue;
		}
		if (r->header && r->header->set_id && !strcmp(r->header->set_id, id))
			s->r[s->n++] = r;
		else
			lsc_recording_free(r); /* another run's */
	}
	if (d)
		closedir(d);
	qsort(s->r + 1, s->n - 1, sizeof(s->r[0]), by_pid);
	return cut_all(path, s);
}

void lsc_cli_set_free(struct lsc_cli_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		lsc_symbolizer_free(s->sym[i]);
		lsc_recording_free(s->r[i]);
	}
	memset(s, 0, sizeof(*s));
}

void lsc_cli_set_symbolizers(struct lsc_cli_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		s->sym[i] = lsc_cli_symbolizer(s->r[i]);
}

int lsc_cli_set_member(const struct lsc_cli_set *s, const char *path, int pid)
{
	size_t i;
	char keys[400] = "";

	for (i = 0; i < s->n; i++)
		if (s->r[i]->header && (int)s->r[i]->header->pid == pid)
			return (int)i;
	for (i = 0; i < s->n && strlen(keys) < sizeof(keys) - 16; i++)
		snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%u", i ? ", " : "",
			 s->r[i]->header ? s->r[i]->header->pid : 0);
	lsc_fail("--pid %d: no process of the set '%s' has it; its processes: %s", pid, path, keys);
	return -1;
}
