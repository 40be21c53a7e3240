/*
 * lsc_recording.c — the recording file: writer (append-only, valid after every record) and reader
 * (every complete record; a cut tail reported, garbage refused with its byte offset).
 *
 * The reader is the seam between capture and analysis, and it reads files from crashed processes
 * and other machines, so it trusts nothing: a length is believed only up to the bytes present and
 * LSC_MAX_RECORD, protobuf-c allocates only in proportion to bytes present, and every cross-field
 * invariant analysis relies on (parallel sample columns, histogram shape) is checked here once.
 */
#include "lsc_recording.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

/* ------------------------------------------------------------------ writing */

struct lsc_writer {
	int fd;
	int err;
};

void lsc_file_header(uint8_t out[LSC_FILE_HEADER_SIZE])
{
	memcpy(out, LSC_FORMAT_MAGIC, 4);
	out[4] = LSC_FORMAT_MAJOR & 0xff;
	out[5] = LSC_FORMAT_MAJOR >> 8;
	out[6] = LSC_FORMAT_MINOR & 0xff;
	out[7] = LSC_FORMAT_MINOR >> 8;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static int write_all(int fd, const struct iovec *iov, int n)
{
	struct iovec v[4];
	int i = 0;

	memcpy(v, iov, n * sizeof(*iov));
	while (i < n) {
		ssize_t w = writev(fd, v + i, n - i);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < n && (size_t)w >= v[i].iov_len)
			w -= v[i++].iov_len;
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + w;
			v[i].iov_len -= w;
		}
	}
	return 0;
}

static int writer_new(int fd, struct lsc_writer **out)
{
	struct lsc_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	w->fd = fd;
	*out = w;
	return 0;
}

static int writer_open(const char *path, int flags, struct lsc_writer **out)
{
	uint8_t hdr[LSC_FILE_HEADER_SIZE];
	struct iovec iov;
	int fd, err;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		return -errno;
	lsc_file_header(hdr);
	iov = (struct iovec){hdr, sizeof(hdr)};
	err = write_all(fd, &iov, 1);
	if (err) {
		close(fd);
		return err;
	}
	return writer_new(fd, out);
}

int lsc_writer_open(const char *path, struct lsc_writer **out)
{
	return writer_open(path, O_TRUNC, out);
}

int lsc_writer_create(const char *path, struct lsc_writer **out)
{
	return writer_open(path, O_EXCL | O_NOFOLLOW, out);
}

int lsc_writer_append_to(const char *path, struct lsc_writer **out)
{
	uint8_t hdr[LSC_FILE_HEADER_SIZE];
	int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n != (ssize_t)sizeof(hdr) || memcmp(hdr, LSC_FORMAT_MAGIC, 4) != 0) {
		close(fd);
		return LSC_ENOTREC;
	}
	return writer_new(fd, out);
}

int lsc_writer_append(struct lsc_writer *w, const Loopscope__Record *r)
{
	size_t len = protobuf_c_message_get_packed_size(&r->base);
	uint8_t lenbuf[10], stackbuf[4096], *body = stackbuf;
	struct iovec iov[2];
	int err;

	if (w->err)
		return w->err;
	if (len > LSC_MAX_RECORD)
		return LSC_ETOOBIG;
	if (len > sizeof(stackbuf) && !(body = malloc(len)))
		return -ENOMEM;
	protobuf_c_message_pack(&r->base, body);
	iov[0] = (struct iovec){lenbuf, varint_put(lenbuf, len)};
	iov[1] = (struct iovec){body, len};
	err = write_all(w->fd, iov, 2);
	if (body != stackbuf)
		free(body);
	if (err)
		w->err = err;
	return err;
}

int lsc_writer_close(struct lsc_writer *w)
{
	int err;

	if (!w)
		return 0;
	err = w->err;
	if (close(w->fd) && !err)
		err = -errno;
	free(w);
	return err;
}

ssize_t lsc_record_encode(const Loopscope__Record *r, uint8_t *buf, size_t cap)
{
	size_t len = protobuf_c_message_get_packed_size(&r->base), n;
	uint8_t lenbuf[10];

	n = varint_put(lenbuf, len);
	if (n + len > cap)
		return -ENOSPC;
	memcpy(buf, lenbuf, n);
	protobuf_c_message_pack(&r->base, buf + n);
	return (ssize_t)(n + len);
}

/* ------------------------------------------------------------------ histograms */

int lsc_hist_from_proto(struct lsc_hist *h, const Loopscope__Histogram *p)
{
	size_t i;

	lsc_hist_init(h);
	if (!p)
		return 0;
	if (p->sub_bucket_bits != LSC_HIST_SUB_BITS || p->n_index != p->n_count)
		return LSC_ECORRUPT;
	for (i = 0; i < p->n_index; i++) {
		if (p->index[i] >= LSC_HIST_BUCKETS)
			return LSC_ECORRUPT;
		h->counts[p->index[i]] += p->count[i];
	}
	h->total = p->total;
	h->sum = p->sum;
	h->min = p->min;
	h->max = p->max;
	return 0;
}

void lsc_hist_to_proto(const struct lsc_hist *h, Loopscope__Histogram *p, uint32_t *idx,
		       uint64_t *cnt)
{
	size_t n = 0;
	unsigned i;

	loopscope__histogram__init(p);
	for (i = 0; i < LSC_HIST_BUCKETS; i++)
		if (h->counts[i]) {
			idx[n] = i;
			cnt[n++] = h->counts[i];
		}
	p->has_sub_bucket_bits = 1;
	p->sub_bucket_bits = LSC_HIST_SUB_BITS;
	p->index = idx;
	p->n_index = n;
	p->count = cnt;
	p->n_count = n;
	p->has_total = p->has_sum = p->has_min = p->has_max = 1;
	p->total = h->total;
	p->sum = h->sum;
	p->min = h->min;
	p->max = h->max;
}

/* ------------------------------------------------------------------ reading */

/* Returns bytes consumed, 0 when the buffer ends inside the varint, -1 when it is malformed. */
static int varint_get(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < len && i < 10; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = x;
			return (int)i + 1;
		}
	}
	return i == 10 ? -1 : 0;
}

#define PUSH(arr, n, item)                                                                         \
	do {                                                                                       \
		void *np_ = realloc((void *)(arr), ((n) + 1) * sizeof(*(arr)));                    \
		if (!np_)                                                                          \
			return -ENOMEM;                                                            \
		(arr) = np_;                                                                       \
		(arr)[(n)++] = (item);                                                             \
	} while (0)

static int validate_window(const Loopscope__Window *w)
{
	struct lsc_hist h;
	int err = lsc_hist_from_proto(&h, w->busy);

	if (!err)
		err = lsc_hist_from_proto(&h, w->lag);
	if (!err)
		err = lsc_hist_from_proto(&h, w->pool_wait);
	return err;
}

static int add_record(struct lsc_recording *r, Loopscope__Record *rec)
{
	const Loopscope__Samples *s;

	switch (rec->body_case) {
	case LOOPSCOPE__RECORD__BODY_HEADER:
		if (!r->header)
			r->header = rec->header;
		break;
	case LOOPSCOPE__RECORD__BODY_FOOTER:
		r->footer = rec->footer;
		break;
	case LOOPSCOPE__RECORD__BODY_MAPPING:
		PUSH(r->mappings, r->nmappings, rec->mapping);
		break;
	case LOOPSCOPE__RECORD__BODY_STACK:
		if (rec->stack->id == 0)
			return LSC_ECORRUPT;
		PUSH(r->stacks, r->nstacks, rec->stack);
		break;
	case LOOPSCOPE__RECORD__BODY_THREAD:
		PUSH(r->threads, r->nthreads, rec->thread);
		break;
	case LOOPSCOPE__RECORD__BODY_WINDOW:
		if (validate_window(rec->window))
			return LSC_ECORRUPT;
		PUSH(r->windows, r->nwindows, rec->window);
		break;
	case LOOPSCOPE__RECORD__BODY_EVENT:
		PUSH(r->events, r->nevents, rec->event);
		break;
	case LOOPSCOPE__RECORD__BODY_SAMPLES:
		s = rec->samples;
		if (s->n_stack_id != s->n_value || (s->n_tid && s->n_tid != s->n_value))
			return LSC_ECORRUPT;
		PUSH(r->samples, r->nsamples, rec->samples);
		break;
	case LOOPSCOPE__RECORD__BODY_SYMBOL:
		PUSH(r->symbols, r->nsymbols, rec->symbol);
		break;
	case LOOPSCOPE__RECORD__BODY_PROCESS:
		PUSH(r->processes, r->nprocesses, rec->process);
		break;
	case LOOPSCOPE__RECORD__BODY_HEAP_SNAPSHOT:
		PUSH(r->heap_snapshots, r->nheap_snapshots, rec->heap_snapshot);
		break;
	default:
		break; /* a record kind from a newer minor version: skipped */
	}
	return 0;
}

static int by_stack_id(const void *a, const void *b)
{
	const Loopscope__Stack *x = *(const Loopscope__Stack *const *)a;
	const Loopscope__Stack *y = *(const Loopscope__Stack *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_symbol_addr(const void *a, const void *b)
{
	const Loopscope__Symbol *x = *(const Loopscope__Symbol *const *)a;
	const Loopscope__Symbol *y = *(const Loopscope__Symbol *const *)b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* 0 when two symbols are one repeated (a segment's copy): only exact repeats go, since a
 * writer may name one address twice on purpose. */
static int same_symbol(const void *a, const void *b)
{
	const Loopscope__Symbol *x = *(const Loopscope__Symbol *const *)a;
	const Loopscope__Symbol *y = *(const Loopscope__Symbol *const *)b;

	return !(x->addr == y->addr && x->line == y->line && x->jit == y->jit &&
		 x->kernel == y->kernel && x->mapping_id == y->mapping_id &&
		 same_str(x->function, y->function) && same_str(x->file, y->file));
}

/* Drops the entries of a sorted array equal to the one before them; the new count. qsort is
 * not stable, so "the first" is any one of equals: they are repeats of one record. */
static size_t unique(const void **v, size_t n, int (*cmp)(const void *, const void *))
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (!k || cmp(&v[k - 1], &v[i]))
			v[k++] = v[i];
	return k;
}

int lsc_recording_parse(const uint8_t *buf, size_t len, struct lsc_recording **out,
			struct lsc_read_info *info)
{
	struct lsc_recording *r = NULL;
	struct lsc_read_info st = {.size = len};
	size_t off = LSC_FILE_HEADER_SIZE;
	int err = 0;

	*out = NULL;
	if (len < LSC_FILE_HEADER_SIZE || memcmp(buf, LSC_FORMAT_MAGIC, 4) != 0) {
		err = LSC_ENOTREC;
		goto out;
	}
	st.major = buf[4] | buf[5] << 8;
	st.minor = buf[6] | buf[7] << 8;
	if (st.major > LSC_FORMAT_MAJOR) {
		err = LSC_ENEWER;
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		err = -ENOMEM;
		goto out;
	}
	while (off < len) {
		Loopscope__Record *rec;
		uint64_t n = 0;
		int k = varint_get(buf + off, len - off, &n);

		if (k < 0 || n > LSC_MAX_RECORD) {
			st.error_at = off;
			err = k < 0 ? LSC_ECORRUPT : LSC_ETOOBIG;
			goto out;
		}
		if (k == 0 || n > len - off - k) {
			st.truncated = 1;
			st.truncated_at = off;
			break;
		}
		rec = loopscope__record__unpack(NULL, n, buf + off + k);
		if (!rec) {
			st.error_at = off;
			err = LSC_ECORRUPT;
			goto out;
		}
		{
			void *np = realloc(r->records_, (r->nrecords_ + 1) * sizeof(*r->records_));

			if (!np) {
				loopscope__record__free_unpacked(rec, NULL);
				err = -ENOMEM;
				goto out;
			}
			r->records_ = np;
			r->records_[r->nrecords_++] = rec;
		}
		err = add_record(r, rec);
		if (err) {
			st.error_at = off;
			goto out;
		}
		off += k + n;
		st.records++;
	}
	if (r->nstacks) /* qsort(NULL, 0, ...) is undefined */
		qsort(r->stacks, r->nstacks, sizeof(*r->stacks), by_stack_id);
	if (r->nsymbols)
		qsort(r->symbols, r->nsymbols, sizeof(*r->symbols), by_symbol_addr);
	/* segments read as one repeat what each needs alone: kept once (the first) */
	r->nstacks = unique((const void **)r->stacks, r->nstacks, by_stack_id);
	r->nsymbols = unique((const void **)r->symbols, r->nsymbols, same_symbol);
	r->info = st;
	*out = r;
	r = NULL;
out:
	lsc_recording_free(r);
	if (info)
		*info = st;
	return err;
}

int lsc_read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat sb;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		err = -errno;
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	*buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	if (!*buf) {
		err = -ENOMEM;
		goto out;
	}
	/* a file still being appended to is read as far as it was when we looked */
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, *buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*len = got;
out:
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return err;
}

int lsc_recording_read(const char *path, struct lsc_recording **out, struct lsc_read_info *info)
{
	uint8_t *buf;
	size_t len;
	int err;

	*out = NULL;
	if (info)
		memset(info, 0, sizeof(*info));
	err = lsc_read_file(path, &buf, &len);
	if (!err)
		err = lsc_recording_parse(buf, len, out, info);
	free(buf);
	return err;
}

void lsc_recording_free(struct lsc_recording *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nrecords_; i++)
		loopscope__record__free_unpacked(r->records_[i], NULL);
	free(r->records_);
	free(r->mappings);
	free(r->stacks);
	free(r->threads);
	free(r->windows);
	free(r->events);
	free(r->samples);
	free(r->symbols);
	free(r->processes);
	free(r->heap_snapshots);
	free(r);
}

size_t lsc_recording_stack_index(const struct lsc_recording *r, uint32_t id)
{
	size_t lo = 0, hi = r->nstacks;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->stacks[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nstacks && r->stacks[lo]->id == id ? lo : r->nstacks;
}

const Loopscope__Stack *lsc_recording_stack(const struct lsc_recording *r, uint32_t id)
{
	size_t at = lsc_recording_stack_index(r, id);

	return at < r->nstacks ? r->stacks[at] : NULL;
}

const Loopscope__Symbol *lsc_recording_symbol(const struct lsc_recording *r, uint64_t addr)
{
	size_t lo = 0, hi = r->nsymbols;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->symbols[mid]->addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nsymbols && r->symbols[lo]->addr == addr ? r->symbols[lo] : NULL;
}

const Loopscope__Mapping *lsc_recording_mapping(const struct lsc_recording *r, uint64_t addr)
{
	size_t i;

	for (i = 0; i < r->nmappings; i++)
		if (addr >= r->mappings[i]->start && addr < r->mappings[i]->end)
			return r->mappings[i];
	return NULL;
}

const Loopscope__Thread *lsc_recording_thread(const struct lsc_recording *r, uint32_t tid)
{
	size_t i;

	/* the last record of a tid holds (a thread's role is written once it is known) */
	for (i = r->nthreads; i-- > 0;)
		if (r->threads[i]->tid == tid)
			return r->threads[i];
	return NULL;
}

uint32_t lsc_recording_main_loop(const struct lsc_recording *r)
{
	size_t i;

	for (i = 0; r->header && i < r->nwindows; i++)
		if (r->windows[i]->loop_tid == r->header->pid)
			return r->header->pid;
	return r->nwindows ? r->windows[0]->loop_tid : 0;
}

int lsc_recording_kind_is_snapshot(const struct lsc_recording *r, int kind)
{
	size_t i;

	for (i = 0; i < r->nsamples; i++)
		if ((int)r->samples[i]->kind == kind && r->samples[i]->snapshot)
			return 1;
	return 0;
}

/* One value of a snapshot batch, with its place in the file: the last one for a stack wins. */
struct heap_entry {
	uint32_t stack_id;
	size_t order;
	uint64_t value;
};

static int by_stack_then_order(const void *a, const void *b)
{
	const struct heap_entry *x = a, *y = b;

	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Memory in proportion to the values present in the file, never to a stack id read from it. */
int lsc_recording_heap_snapshot(const struct lsc_recording *r, int kind, uint32_t upto,
				struct lsc_heap_values *out)
{
	uint32_t last = 0, max_id = 0;
	uint64_t t = 0;
	struct heap_entry *e;
	size_t i, k, n = 0, total = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if (s->snapshot && s->snapshot_end && s->snapshot > last &&
		    (!upto || s->snapshot <= upto))
			last = s->snapshot;
	}
	for (i = 0; last && i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if ((int)s->kind != kind || !s->snapshot || s->snapshot > last)
			continue;
		for (k = 0; k < s->n_stack_id && k < s->n_value; k++)
			if (s->stack_id[k] > max_id)
				max_id = s->stack_id[k];
		total += s->n_stack_id < s->n_value ? s->n_stack_id : s->n_value;
		if (s->snapshot == last)
			t = s->t_ns;
	}
	if (!last || (!max_id && !t))
		return LSC_ENODATA;
	e = malloc((total ? total : 1) * sizeof(*e));
	out->stack_id = malloc((total ? total : 1) * sizeof(*out->stack_id));
	out->value = malloc((total ? total : 1) * sizeof(*out->value));
	if (!e || !out->stack_id || !out->value) {
		free(e);
		lsc_heap_values_free(out);
		return -ENOMEM;
	}
	for (i = 0; i < r->nsamples; i++) {
		const Loopscope__Samples *s = r->samples[i];

		if ((int)s->kind != kind || !s->snapshot || s->snapshot > last)
			continue;
		for (k = 0; k < s->n_stack_id && k < s->n_value; k++, n++)
			e[n] = (struct heap_entry){s->stack_id[k], n, s->value[k]};
	}
	if (n)
		qsort(e, n, sizeof(*e), by_stack_then_order);
	/* a stack's value is the last one written for it; those that came back to 0 are gone */
	for (i = 0; i < n; i++)
		if ((i + 1 == n || e[i + 1].stack_id != e[i].stack_id) && e[i].value) {
			out->stack_id[out->n] = e[i].stack_id;
			out->value[out->n++] = e[i].value;
		}
	out->snapshot = last;
	out->t_ns = t;
	free(e);
	return 0;
}

void lsc_heap_values_free(struct lsc_heap_values *v)
{
	free(v->stack_id);
	free(v->value);
	memset(v, 0, sizeof(*v));
}

uint64_t lsc_hash_frames(const uint64_t *f, uint32_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
	uint32_t i;

	for (i = 0; i < n; i++) {
		h = (h ^ f[i]) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

const char *lsc_handle_type_name(unsigned type)
{
	switch (type) {
#define XX(uc, lc)                                                                                 \
	case UV_##uc:                                                                              \
		return #lc;
		UV_HANDLE_TYPE_MAP(XX)
#undef XX
	case UV_FILE:
		return "file";
	}
	return NULL;
}

size_t lsc_handle_counts(const uint32_t *counts, unsigned ntypes, Loopscope__HandleCount *hc,
			 Loopscope__HandleCount **hcp)
{
	size_t n = 0;
	unsigned i;

	for (i = 1; i < ntypes; i++) {
		if (!counts[i])
			continue;
		loopscope__handle_count__init(&hc[n]);
		hc[n].type =
			(char *)(lsc_handle_type_name(i) ? lsc_handle_type_name(i) : "unknown");
		hc[n].has_count = 1;
		hc[n].count = counts[i];
		hcp[n] = &hc[n];
		n++;
	}
	return n;
}
