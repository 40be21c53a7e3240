/*
 * lsc_segments.c — a recording cut to a span of its time, and the consecutive segment files of
 * one session (the exporter's --record-dir, docs/exporter.md) read as one recording.
 *
 * Segments: every segment repeats the session's header, so all their times share one origin;
 * each is readable alone. Read together, their complete records are concatenated in order and
 * parsed as one file would be: the first header, the last footer (only the session's last
 * segment has one), the metadata each segment repeats kept once by the parser.
 *
 * The cut: windows that begin in [since, until), events and sample batches of that span
 * (stretched to the end of the last window kept), every time made relative to the span's start,
 * the header's start moved there. A report of the cut reads as a recording of the span alone.
 */
#include "lsc_recording.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The length of buf's complete records (after the file header): a segment cut short, its
 * writer killed, ends at its last whole record. -1 when a length is not a varint. */
static ssize_t complete_part(const uint8_t *buf, size_t len)
{
	size_t off = LSC_FILE_HEADER_SIZE;

	while (off < len) {
		uint64_t n = 0;
		size_t i;
		int k = 0;

		for (i = 0; off + i < len && i < 10; i++) {
			n |= (uint64_t)(buf[off + i] & 0x7f) << (7 * i);
			if (!(buf[off + i] & 0x80)) {
				k = (int)i + 1;
				break;
			}
		}
		if (i == 10)
			return -1;
		if (!k || n > len - off - (size_t)k)
			break;
		off += (size_t)k + n;
	}
	return (ssize_t)(off - LSC_FILE_HEADER_SIZE);
}

int lsc_recording_read_segments(const char *const *paths, size_t n, struct lsc_recording **out,
				struct lsc_read_info *info, size_t *bad)
{
	uint8_t *all = NULL, *buf;
	size_t len, used = LSC_FILE_HEADER_SIZE, i;
	int err = 0;

	*out = NULL;
	if (info)
		memset(info, 0, sizeof(*info));
	if (!n)
		return LSC_ENODATA;
	for (i = 0; i < n; i++) {
		ssize_t part;
		void *m;

		err = lsc_read_file(paths[i], &buf, &len);
		if (!err && (len < LSC_FILE_HEADER_SIZE || memcmp(buf, LSC_FORMAT_MAGIC, 4)))
			err = LSC_ENOTREC;
		if (!err && (buf[4] | buf[5] << 8) > LSC_FORMAT_MAJOR)
			err = LSC_ENEWER;
		part = err ? 0 : complete_part(buf, len);
		if (!err && part < 0)
			err = LSC_ECORRUPT;
		if (err) {
			free(buf);
			free(all);
			if (bad)
				*bad = i;
			return err;
		}
		m = realloc(all, used + (size_t)part);
		if (!m) {
			free(buf);
			free(all);
			return -ENOMEM;
		}
		all = m;
		if (i == 0)
			memcpy(all, buf, LSC_FILE_HEADER_SIZE);
		memcpy(all + used, buf + LSC_FILE_HEADER_SIZE, (size_t)part);
		used += (size_t)part;
		/* the last segment may be in the middle of a record: said as for one file */
		if (i + 1 == n && info && (size_t)part + LSC_FILE_HEADER_SIZE < len) {
			info->truncated = 1;
			info->truncated_at = LSC_FILE_HEADER_SIZE + (uint64_t)part;
		}
		free(buf);
	}
	{
		struct lsc_read_info st;

		err = lsc_recording_parse(all, used, out, &st);
		if (info) {
			int t = info->truncated;
			uint64_t at = info->truncated_at;

			*info = st;
			info->truncated = t;
			info->truncated_at = at;
		}
		if (*out)
			(*out)->info = info ? *info : st;
	}
	if (bad && err)
		*bad = n; /* the set together, not one file */
	free(all);
	return err;
}

/* ------------------------------------------------------------------ the cut */

#define KEEP(arr, n, keep)                                                                         \
	do {                                                                                       \
		size_t i_, k_ = 0;                                                                 \
		for (i_ = 0; i_ < (n); i_++)                                                       \
			if (keep((arr)[i_], since, end))                                           \
				(arr)[k_++] = (arr)[i_];                                           \
		(n) = k_;                                                                          \
	} while (0)

static int keep_window(const Loopscope__Window *w, uint64_t since, uint64_t until)
{
	return w->start_ns >= since && w->start_ns < until;
}

static int keep_event(const Loopscope__Event *e, uint64_t since, uint64_t end)
{
	return e->t_ns >= since && e->t_ns < end;
}

/* A batch is written when what it counts ends: at a window's end (blocking calls, and CPU
 * samples in segments), at a heap snapshot, or at the end of the recording (no time: counted
 * from the footer, kept with it). Snapshots stay from the start: each holds only changes. */
static int keep_batch(const Loopscope__Samples *s, uint64_t since, uint64_t end)
{
	if (s->snapshot)
		return s->t_ns <= end;
	if (!s->has_t_ns)
		return end == UINT64_MAX;
	return s->t_ns > since && s->t_ns <= end;
}

static uint64_t minus(uint64_t t, uint64_t since)
{
	return t > since ? t - since : 0;
}

int lsc_recording_cut(struct lsc_recording *r, uint64_t since, uint64_t until)
{
	uint64_t end = until;
	size_t i;

	if (since >= until)
		return LSC_ENODATA;
	KEEP(r->windows, r->nwindows, keep_window);
	/* the span runs to the end of its last window: that window's events and batches in it */
	for (i = 0; i < r->nwindows && until != UINT64_MAX; i++)
		if (r->windows[i]->start_ns + r->windows[i]->length_ns > end)
			end = r->windows[i]->start_ns + r->windows[i]->length_ns;
	/* the end of the recording in the span: its footer, and the batches written at the end */
	if (r->footer && r->footer->end_ns <= until)
		end = UINT64_MAX;
	KEEP(r->events, r->nevents, keep_event);
	KEEP(r->samples, r->nsamples, keep_batch);
	if (!r->nwindows && !r->nevents)
		return LSC_ENODATA;
	if (end != UINT64_MAX)
		r->footer = NULL;
	r->cut = since || !r->footer;
	if (!since)
		return 0;
	for (i = 0; i < r->nwindows; i++)
		((Loopscope__Window *)r->windows[i])->start_ns -= since;
	for (i = 0; i < r->nevents; i++)
		((Loopscope__Event *)r->events[i])->t_ns -= since;
	for (i = 0; i < r->nsamples; i++)
		if (r->samples[i]->has_t_ns)
			((Loopscope__Samples *)r->samples[i])->t_ns =
				minus(r->samples[i]->t_ns, since);
	if (r->footer)
		((Loopscope__Footer *)r->footer)->end_ns = minus(r->footer->end_ns, since);
	if (r->header) {
		Loopscope__Header *h = (Loopscope__Header *)r->header;

		h->start_mono_ns += since;
		if (h->start_unix_ns)
			h->start_unix_ns += since;
	}
	return 0;
}
