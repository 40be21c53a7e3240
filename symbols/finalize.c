/*
 * finalize.c — making a recording self-contained: symbolize every address its stacks use, from
 * its own mappings (each file checked against the recorded build-id), the JIT perf map and
 * kallsyms, and append the answers as Symbol records, so the recording reads the same on another
 * machine or after the binaries changed. Also the reader's fallback: a symbolizer built from a
 * recording's mappings, for recordings that were never finalized (the process crashed).
 * Invariant: a readable recording stays readable; a cut tail is removed before appending.
 */
#include "lsc_symbols.h"
#include "lsc_recording.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lsc_symbolizer_from_recording(const struct lsc_recording *r, struct lsc_symbolizer **out)
{
	struct lsc_symbolizer *s;
	size_t i;
	int err = lsc_symbolizer_new(&s);

	if (err)
		return err;
	for (i = 0; i < r->nmappings && !err; i++) {
		const Loopscope__Mapping *m = r->mappings[i];
		struct lsc_module *mod;
		const uint8_t *bid;
		size_t blen;

		if (!m->path || m->path[0] != '/')
			continue;
		/* A file that is not the one recorded (rebuilt, upgraded) would name wrong
		 * functions: skip it, and the frames keep their module and offset. */
		if (m->has_build_id && m->build_id.len) {
			if (lsc_module_open(m->path, &mod))
				continue;
			bid = lsc_module_build_id(mod, &blen);
			if (!bid || blen != m->build_id.len ||
			    memcmp(bid, m->build_id.data, blen)) {
				lsc_module_free(mod);
				continue;
			}
			lsc_module_free(mod);
		}
		err = lsc_symbolizer_add_mapping(s, m->start, m->end, m->file_offset, m->path);
	}
	if (err) {
		lsc_symbolizer_free(s);
		return err;
	}
	*out = s;
	return 0;
}

struct addr {
	uint64_t addr;
	int is_return, kernel;
};

static int addr_cmp(const void *a, const void *b)
{
	const struct addr *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->is_return - y->is_return;
}

int lsc_recording_symbolize(const char *path, const char *perf_map, const char *kallsyms,
			    size_t *added)
{
	struct lsc_recording *r = NULL;
	struct lsc_symbolizer *s = NULL;
	struct lsc_writer *w = NULL;
	struct addr *v = NULL;
	size_t n = 0, cap = 0, i, k;
	int err, need_kernel = 0;

	*added = 0;
	err = lsc_recording_read(path, &r, NULL);
	if (!err)
		err = lsc_symbolizer_from_recording(r, &s);
	if (err)
		goto out;
	for (i = 0; i < r->nstacks; i++) {
		const Loopscope__Stack *st = r->stacks[i];

		for (k = 0; k < st->n_frames; k++) {
			if (lsc_recording_symbol(r, st->frames[k]))
				continue;
			if (n == cap) {
				struct addr *nv =
					realloc(v, (cap = cap ? cap * 2 : 1024) * sizeof(*nv));

				if (!nv) {
					err = -ENOMEM;
					goto out;
				}
				v = nv;
			}
			v[n++] = (struct addr){st->frames[k], k > 0, k < st->kernel_frames};
			need_kernel |= k < st->kernel_frames;
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), addr_cmp);
	if (perf_map)
		lsc_symbolizer_set_perf_map(s, perf_map); /* optional: JIT frames stay unnamed */
	if (need_kernel)
		lsc_symbolizer_set_kallsyms(s, kallsyms);
	if (!n)
		goto out; /* nothing to add: the file stays as it is */
	/* A recording cut by a crash ends inside a record. Appended after that tail, the first
	 * symbols would be read as the tail's missing bytes: cut it off first, back to the end of
	 * the last complete record, which is what every reader stops at anyway. */
	if (r->info.truncated && truncate(path, (off_t)r->info.truncated_at)) {
		err = -errno;
		goto out;
	}
	err = lsc_writer_append_to(path, &w);
	for (i = 0; !err && i < n; i++) {
		Loopscope__Record rec = LOOPSCOPE__RECORD__INIT;
		Loopscope__Symbol sym = LOOPSCOPE__SYMBOL__INIT;
		struct lsc_frame f;

		if (i && v[i].addr == v[i - 1].addr)
			continue; /* the leaf reading of an address wins */
		if (lsc_symbolizer_lookup(s, v[i].addr - (v[i].is_return && !v[i].kernel),
					  v[i].kernel, &f))
			continue;
		sym.has_addr = 1;
		sym.addr = v[i].addr;
		sym.function = (char *)f.function;
		sym.file = (char *)f.file;
		sym.has_line = f.line != 0;
		sym.line = f.line;
		sym.has_kernel = sym.kernel = f.kind == LSC_FRAME_KERNEL;
		sym.has_jit = sym.jit = f.kind == LSC_FRAME_JIT;
		rec.body_case = LOOPSCOPE__RECORD__BODY_SYMBOL;
		rec.symbol = &sym;
		err = lsc_writer_append(w, &rec);
		if (!err)
			(*added)++;
	}
out:
	if (w) {
		int e = lsc_writer_close(w);

		if (!err)
			err = e;
	}
	free(v);
	lsc_symbolizer_free(s);
	lsc_recording_free(r);
	return err;
}
