/*
 * attach_stacks.c — the stacks `loopscope attach` records, and how whole they are: each stack
 * interned into the recording once; CPU samples, their user stacks walked in the kernel by the
 * hybrid unwinder (frame pointers where the code keeps them, the CFI table's rules where it does
 * not: cfi_table.c, stack.bpf.h), or with --stacks dwarf unwound here from a copy (unwind.c);
 * a blocking call's stack (the kernel's walk, or the copy's unwinding where that goes deeper);
 * off-CPU time by stack; and, per kind, how many stacks reach their thread's root (_start,
 * clone, clone3: the CFI says the return address is undefined there), the footer's stacks_*
 * counters, which `report --json` turns into shares. Split from attach_records.c.
 */
#include "attach_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ------------------------------------------------------------------ stacks in the recording */

/* The recording's id of this stack (leaf first, kernel frames first), writing it once. */
uint32_t lsc__at_intern(struct lsc_attach *a, const uint64_t *f, uint32_t n, uint32_t nkernel)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Stack s = LOOPSCOPE__STACK__INIT;
	uint64_t h = lsc_hash_frames(f, n) ^ nkernel;
	size_t j, cap;

	if ((size_t)a->stacks_held * 2 >= a->stack_cap) {
		struct stack_entry *old = a->stacks;
		size_t oldcap = a->stack_cap;

		cap = oldcap ? oldcap * 2 : 4096;
		a->stacks = calloc(cap, sizeof(*a->stacks));
		if (!a->stacks) {
			a->stacks = old;
			return 0;
		}
		a->stack_cap = cap;
		for (j = 0; j < oldcap; j++)
			if (old[j].hash) {
				size_t k = old[j].hash & (cap - 1);

				while (a->stacks[k].hash)
					k = (k + 1) & (cap - 1);
				a->stacks[k] = old[j];
			}
		free(old);
	}
	cap = a->stack_cap;
	for (j = h & (cap - 1); a->stacks[j].hash; j = (j + 1) & (cap - 1))
		if (a->stacks[j].hash == h && a->stacks[j].n == n &&
		    !memcmp(a->stacks[j].frames, f, n * sizeof(*f)))
			return a->stacks[j].id;
	a->stacks[j].frames = malloc(n ? n * sizeof(*f) : 1);
	if (!a->stacks[j].frames)
		return 0;
	memcpy(a->stacks[j].frames, f, n * sizeof(*f));
	a->stacks[j].hash = h;
	a->stacks[j].n = n;
	a->stacks[j].id = ++a->nstacks;
	a->stacks_held++;
	s.has_id = 1;
	s.id = a->stacks[j].id;
	s.frames = (uint64_t *)f;
	s.n_frames = n;
	if (nkernel) {
		s.has_kernel_frames = 1;
		s.kernel_frames = nkernel;
	}
	r.body_case = LOOPSCOPE__RECORD__BODY_STACK;
	r.stack = &s;
	lsc__at_put(a, &r);
	return s.id;
}

/* A new segment: its stacks are written again as they are used, with new ids (the table
 * holds one segment's stacks, not the session's). */
void lsc__at_forget_stacks(struct lsc_attach *a)
{
	size_t j;

	for (j = 0; j < a->stack_cap; j++)
		free(a->stacks[j].frames);
	if (a->stack_cap)
		memset(a->stacks, 0, a->stack_cap * sizeof(*a->stacks));
	a->stacks_held = 0;
	lsc__at_stretch_forget(a); /* their samples' stack ids were the old segment's */
}

/* Appends to a growing array of (stack, thread, value); 0, or -1 when memory ran out. */
static int acc_push(struct acc **v, size_t *n, size_t *cap, uint32_t stack, uint32_t tid,
		    uint64_t value)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct acc *m = realloc(*v, c * sizeof(*m));

		if (!m)
			return -1;
		*v = m;
		*cap = c;
	}
	(*v)[(*n)++] = (struct acc){stack, tid, value};
	return 0;
}

/* Adds value to the (stack, thread) entry, made when new. */
void lsc__at_accumulate(struct acc **v, size_t *n, size_t *cap, uint32_t stack, uint32_t tid,
			uint64_t value)
{
	size_t i;

	for (i = *n; i-- > 0;)
		if ((*v)[i].stack == stack && (*v)[i].tid == tid) {
			(*v)[i].value += value;
			return;
		}
	acc_push(v, n, cap, stack, tid, value);
}

void lsc__at_put_samples(struct lsc_attach *a, int kind, struct acc *v, size_t n, uint64_t period)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Samples s = LOOPSCOPE__SAMPLES__INIT;
	uint32_t *stacks, *tids;
	uint64_t *values;
	size_t i;

	if (!n)
		return;
	stacks = malloc(n * sizeof(*stacks));
	tids = malloc(n * sizeof(*tids));
	values = malloc(n * sizeof(*values));
	if (stacks && tids && values) {
		for (i = 0; i < n; i++) {
			stacks[i] = v[i].stack;
			tids[i] = v[i].tid;
			values[i] = v[i].value;
		}
		s.has_kind = s.has_t_ns = 1;
		s.kind = kind;
		s.t_ns = lsc__at_mono_ns() - a->t0; /* what they count ends now */
		s.stack_id = stacks;
		s.n_stack_id = n;
		s.value = values;
		s.n_value = n;
		s.tid = tids;
		s.n_tid = n;
		if (period) {
			s.has_period = 1;
			s.period = period;
		}
		r.body_case = LOOPSCOPE__RECORD__BODY_SAMPLES;
		r.samples = &s;
		lsc__at_put(a, &r);
	}
	free(stacks);
	free(tids);
	free(values);
}

/* ------------------------------------------------------------------ the CFI table */

/* Before the programs load: the table of the target's code as it is mapped now, and the map
 * sized for it. Without one (elfutils cannot read the modules), frame pointers only. */
void lsc__at_cfi_open(struct lsc_attach *a)
{
	int e;

	if (!a->o.output) /* top: it shows no stacks */
		return;
	e = lsc__cfi_table_build(a->o.pid, &a->cfi);

	if (e || !a->cfi.n) {
		lsc__at_note(
			a,
			"no unwind tables could be read from PID %d's modules (%s): stacks are "
			"walked by frame pointers only, and may stop in code without them",
			a->o.pid, e ? strerror(-e) : "no CFI");
		lsc__cfi_table_release(&a->cfi);
		return;
	}
	if (bpf_map__set_max_entries(a->skel->maps.uw_rows, (uint32_t)a->cfi.n) ||
	    bpf_map__set_max_entries(a->skel->maps.uw_pages, (uint32_t)a->cfi.npages))
		lsc__cfi_table_release(&a->cfi);
}

/* Copies n entries of size each into an mmapable array map. */
static int fill(struct bpf_map *map, const void *src, size_t n, size_t size)
{
	size_t len = n * size;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);

	if (m == MAP_FAILED)
		return -errno;
	memcpy(m, src, len);
	munmap(m, len);
	return 0;
}

/* After the programs load: the rows and their index, copied into the maps; the walk uses them
 * once uw_nobjs says how many modules there are. */
void lsc__at_cfi_load(struct lsc_attach *a)
{
	int objs = bpf_map__fd(a->skel->maps.uw_objs), e = 0;
	uint32_t i;

	if (!a->cfi.n)
		return;
	e = fill(a->skel->maps.uw_rows, a->cfi.rows, a->cfi.n, sizeof(*a->cfi.rows));
	if (!e)
		e = fill(a->skel->maps.uw_pages, a->cfi.pages, a->cfi.npages,
			 sizeof(*a->cfi.pages));
	for (i = 0; !e && i < a->cfi.nobjs; i++)
		if (bpf_map_update_elem(objs, &i, &a->cfi.objs[i], BPF_ANY))
			e = -errno;
	if (e) { /* the walk finds no row: frame pointers everywhere */
		lsc__at_note(a,
			     "cannot fill the unwind table (%s): stacks are walked by frame "
			     "pointers only",
			     strerror(-e));
		return;
	}
	a->skel->bss->uw_nrows = (uint32_t)a->cfi.n;
	a->skel->bss->uw_nobjs = a->cfi.nobjs;
}

/* ------------------------------------------------------------------ how whole */

enum { ROOTS_CPU, ROOTS_OFFCPU, ROOTS_BLOCKING };

/* One stack of a kind, weighing w: counted, and counted rooted when it reaches its root. */
static void count_root(struct lsc_attach *a, int kind, const uint64_t *f, uint32_t n, uint64_t w)
{
	a->roots[kind][0] += w;
	if (lsc__cfi_table_rooted(&a->cfi, f, n))
		a->roots[kind][1] += w;
}

/* The footer's counters: per kind recorded, its stacks (or off-CPU nanoseconds) and those that
 * reach their thread's root. */
size_t lsc__at_stack_counters(struct lsc_attach *a, Loopscope__Counter *c, size_t cap)
{
	static const char *const names[3][2] = {
		{"stacks_cpu", "stacks_cpu_rooted"},
		{"stacks_offcpu_ns", "stacks_offcpu_rooted_ns"},
		{"stacks_blocking", "stacks_blocking_rooted"},
	};
	int on[3] = {a->o.cpu_hz != 0, a->o.offcpu, 1};
	size_t n = 0;
	int k, j;

	for (k = 0; k < 3; k++)
		for (j = 0; j < 2 && on[k] && n < cap; j++, n++) {
			loopscope__counter__init(&c[n]);
			c[n].name = (char *)names[k][j];
			c[n].has_value = 1;
			c[n].value = a->roots[k][j];
		}
	return n;
}

/* ------------------------------------------------------------------ samples and stacks */

/* The kernel frames of a stack id (leaf first) into out; how many. */
static uint32_t kernel_frames(struct lsc_attach *a, int32_t id, uint64_t *out)
{
	uint32_t n = 0;

	if (id >= 0 && bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.stacks), &id, out) == 0)
		while (n < 127 && out[n])
			n++;
	return n;
}

/* A CPU sample walked in the kernel: its kernel frames, then its user stack, JS frames named
 * (Node.js). */
void lsc__at_sample(struct lsc_attach *a, const struct lscb_jsample *j)
{
	uint64_t frames[127 + LSCB_MAX_FRAMES + 1];
	uint32_t nk = kernel_frames(a, j->kstack, frames),
		 n = j->n < LSCB_MAX_FRAMES ? j->n : LSCB_MAX_FRAMES, id;

	count_root(a, ROOTS_CPU, (const uint64_t *)j->ips, n, 1);
	n = lsc__at_js_name(a, (const uint64_t *)j->ips, (const uint64_t *)j->sfis,
			    (const uint64_t *)j->prints, n, frames + nk);
	id = lsc__at_intern(a, frames, nk + n, nk);
	lsc__at_accumulate(&a->cpu, &a->ncpu, &a->cpu_cap, id, j->tid, 1);
	lsc__at_stretch_sample(a, j->tid, j->t_ns, id);
}

/* --stacks dwarf: the kernel frames, then the user stack unwound here from its copy. */
void lsc__at_dwarf_sample(struct lsc_attach *a, const struct lscb_event *e)
{
	uint64_t frames[127 + LSCB_MAX_FRAMES];
	uint32_t nk = kernel_frames(a, (int32_t)e->result, frames), id;
	int k = 0;

	if (a->unw && e->stack_len > e->stack_skip)
		k = lsc_unwind(a->unw, e->tid, (const uint64_t *)e->regs, e->stack + e->stack_skip,
			       e->stack_len - e->stack_skip, frames + nk, LSCB_MAX_FRAMES);
	count_root(a, ROOTS_CPU, frames + nk, (uint32_t)k, 1);
	id = lsc__at_intern(a, frames, nk + (uint32_t)k, nk);
	lsc__at_accumulate(&a->cpu, &a->ncpu, &a->cpu_cap, id, e->tid, 1);
	lsc__at_stretch_sample(a, e->tid, e->t_ns, id);
}

/*
 * A blocking call's stack: the kernel's walk, unless it stopped short of the root and the CFI
 * unwinding of the stack's copy (elfutils) goes deeper; for Node.js, JS frames named on
 * whichever won. Its id in the recording.
 */
uint32_t lsc__at_blocking_stack(struct lsc_attach *a, const struct lscb_event *e)
{
	uint64_t unwound[LSCB_MAX_FRAMES], named[LSCB_MAX_FRAMES + 1];
	const uint64_t *frames = (const uint64_t *)e->frames;
	uint32_t n = e->nframes < LSCB_MAX_FRAMES ? e->nframes : LSCB_MAX_FRAMES;
	int k = 0;

	if (a->unw && e->stack_len > e->stack_skip && !lsc__cfi_table_rooted(&a->cfi, frames, n))
		k = lsc_unwind(a->unw, e->tid, (const uint64_t *)e->regs, e->stack + e->stack_skip,
			       e->stack_len - e->stack_skip, unwound, LSCB_MAX_FRAMES);
	if (k > (int)n) {
		frames = unwound;
		n = (uint32_t)k;
	}
	count_root(a, ROOTS_BLOCKING, frames, n, 1);
	if (a->js) { /* Node.js: JS frames named, on whichever stack won */
		uint64_t sfis[LSCB_MAX_FRAMES] = {0}, prints[LSCB_MAX_FRAMES] = {0},
			 ips[LSCB_MAX_FRAMES];
		uint32_t i, j = 0, m = e->nframes < LSCB_MAX_FRAMES ? e->nframes : LSCB_MAX_FRAMES;

		for (i = 0; i < n && j < m; i++) {
			uint32_t at = j;

			while (at < m && e->frames[at] != frames[i])
				at++;
			if (at < m) {
				sfis[i] = e->sfis[at];
				prints[i] = e->prints[at];
				j = at + 1;
			}
		}
		memcpy(ips, frames, n * sizeof(*frames));
		n = lsc__at_js_name(a, ips, sfis, prints, n, named);
		frames = named;
	}
	return lsc__at_intern(a, frames, n, 0);
}

/* Off-CPU time per (thread, kernel stack, user stack as walked at the switch). */
void lsc__at_put_offcpu_samples(struct lsc_attach *a)
{
	int map = bpf_map__fd(a->skel->maps.offcpu);
	struct lscb_off_key k, next, *prev = NULL;
	struct lscb_off_value v;
	uint64_t frames[LSCB_MAX_FRAMES + 127];
	struct acc *off = NULL;
	size_t n = 0, cap = 0;
	uint32_t nk, nu;

	while (bpf_map_get_next_key(map, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(map, &k, &v))
			continue;
		nk = kernel_frames(a, k.kstack, frames);
		nu = v.n < LSCB_MAX_FRAMES ? v.n : LSCB_MAX_FRAMES;
		memcpy(frames + nk, v.frames, nu * sizeof(uint64_t));
		count_root(a, ROOTS_OFFCPU, frames + nk, nu, v.ns);
		if (acc_push(&off, &n, &cap, lsc__at_intern(a, frames, nk + nu, nk), k.tid, v.ns))
			break;
	}
	lsc__at_put_samples(a, LOOPSCOPE__SAMPLE_KIND__OFFCPU, off, n, 0);
	free(off);
}

/* A probe's stack as the recording names it (leaf first): its JS frames named (Node.js) into
 * buf, else its addresses as walked; *n: how many. */
const uint64_t *lsc__at_submit_frames(struct lsc_attach *a, const struct lscb_submit *s,
				      uint64_t *buf, uint32_t *n)
{
	const uint64_t *ips = (const uint64_t *)s->ips;

	*n = s->n < LSCB_MAX_FRAMES ? s->n : LSCB_MAX_FRAMES;
	if (!a->js || !*n)
		return ips;
	*n = lsc__at_js_name(a, ips, (const uint64_t *)s->sfis, (const uint64_t *)s->prints, *n,
			     buf);
	return buf;
}
