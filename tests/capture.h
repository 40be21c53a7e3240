/*
 * capture.h — what the end-to-end capture tests (tests/agent, tests/bpf) share: a working
 * directory of their own under the build tree, reading a recording or failing the case, and
 * asking whether a recorded stack passes through a function (by its recorded symbols).
 */
#ifndef LSC_TEST_CAPTURE_H
#define LSC_TEST_CAPTURE_H

#include "lsc_recording.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char capture_dir[256];

/* Makes Testing/PREFIX-PID under the build tree; path() names files in it. */
static void capture_setup(const char *prefix)
{
	snprintf(capture_dir, sizeof(capture_dir), "%s/Testing/%s-%d", LSC_BUILD_DIR, prefix,
		 (int)getpid());
	mkdir(capture_dir, 0755);
}

/* A file in the case's directory (eight names may be in use at once). */
static const char *path(const char *name)
{
	static char p[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(p[k], sizeof(p[k]), "%s/%s", capture_dir, name);
	return p[k];
}

/* A file of the build tree: a program or library the tests run (four names may be in use). */
static __attribute__((unused)) const char *built(const char *name)
{
	static char p[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", LSC_BUILD_DIR, name);
	return p[k];
}

static __attribute__((unused)) struct lsc_recording *read_rec(const char *file)
{
	struct lsc_recording *r;
	int err = lsc_recording_read(file, &r, NULL);

	if (err)
		LSC_FAIL("cannot read %s: %s", file, lsc_strerror(err));
	return r;
}

static __attribute__((unused)) int stack_has(const struct lsc_recording *r, uint32_t stack_id,
					     const char *fn)
{
	const Loopscope__Stack *s = lsc_recording_stack(r, stack_id);
	size_t f;

	for (f = 0; s && f < s->n_frames; f++) {
		const Loopscope__Symbol *sym = lsc_recording_symbol(r, s->frames[f]);

		if (sym && sym->function && strstr(sym->function, fn))
			return 1;
	}
	return 0;
}

/* Samples of kind under a frame named like fn, summed, divided by scale (1e6: ns to ms); *all
 * gets the sum over every stack. */
static __attribute__((unused)) double samples_under(const struct lsc_recording *r, int kind,
						    const char *fn, double scale, double *all)
{
	double under = 0;
	size_t i, k;

	*all = 0;
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if ((int)s->kind != kind)
			continue;
		for (k = 0; k < s->n_stack_id && k < s->n_value; k++) {
			*all += (double)s->value[k] / scale;
			if (stack_has(r, s->stack_id[k], fn))
				under += (double)s->value[k] / scale;
		}
	}
	return under;
}

/* Whether the file holds the bytes of text (a note is a string in the recording's header). */
static __attribute__((unused)) int file_has(const char *file, const char *text)
{
	static char buf[8 << 20];
	int fd = open(file, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 && memmem(buf, (size_t)n, text, strlen(text)) != NULL;
}

/* The start of a file as a string (empty when it cannot be read). */
static __attribute__((unused)) const char *slurp(const char *file, char *buf, size_t cap)
{
	int fd = open(file, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

#endif
