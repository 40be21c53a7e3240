/*
 * attach.c — the user-space half of `loopscope attach`: finds what to probe in the target (libuv's
 * static thread-pool queue and default loop, V8's GC tracer or refloop's USDT probes, from the
 * binary's symbol table, once), loads and attaches loop.bpf.c, and turns the kernel's totals into
 * the recording: a Window per loop per window (differences of cumulative counters and
 * histograms), blocking-call and GC events from the ring buffer, CPU samples, mappings with their
 * build-ids, a footer. Symbols are added afterwards by the caller (lsc_recording_symbolize).
 */
#include "lsc_attach.h"
#include "lsc_error.h"
#include "lsc_recording.h"
#include "lsc_unwind.h"
#include "target.h"

#include <linux/types.h>

#include "loop.h"
#include "loop.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#define MAX_NOTES 16

struct stack_entry {
	uint64_t hash;
	uint32_t id, n;
	uint64_t *frames;
};

struct acc {
	uint32_t stack, tid;
	uint64_t value;
};

struct loop_prev {
	uint64_t idle_ns, credit, iterations, long_runq;
	uint64_t hist[2][LSCB_HIST_BUCKETS];
	int written_thread;
};

struct lsc_attach {
	struct lsc_attach_opts o;
	struct loop_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link **perf_links;
	int *perf_fds, ncpus;
	struct lsc_writer *w;
	char exe[4096];
	char *notes[MAX_NOTES + 1];
	int nnotes;
	uint64_t t0, window_start, last_tick;
	struct loop_prev prev[LSCB_MAX_LOOPS];
	/* stacks interned into the recording */
	struct stack_entry *stacks;
	size_t stack_cap;
	uint32_t nstacks;
	/* blocking time per (stack, thread), written each window; CPU samples unwound here */
	struct acc *blk, *cpu;
	size_t nblk, blk_cap, ncpu, cpu_cap;
	/* the current window's GC and longest blocking call, for the status */
	uint64_t win_gc, win_gc_ns, win_top_ns;
	char win_top[128];
	uint64_t events, write_err;
	int gone;
	int shutdown_written, shutdown_split;
	struct lsc_unwinder *unw; /* NULL when elfutils cannot read the target */
};

/* ------------------------------------------------------------------ small things */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void note(struct lsc_attach *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (a->nnotes == MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	a->notes[a->nnotes] = strdup(buf);
	if (a->notes[a->nnotes])
		a->nnotes++;
}

static void put(struct lsc_attach *a, const Loopscope__Record *r)
{
	int err;

	if (!a->w)
		return;
	err = lsc_writer_append(a->w, r);
	if (err && !a->write_err)
		a->write_err = (uint64_t)-err;
}

static size_t eh_shstrndx(Elf *e)
{
	size_t n = 0;

	elf_getshdrstrndx(e, &n);
	return n;
}

/*
 * Syscall stacks (loop.bpf.c's leaf_rules): for each syscall instruction in the target's libc, the
 * CFA rule (rsp + n) and where rbp is saved, from libc's own unwind tables (libdw), keyed by the
 * address after the instruction in the target. Returns how many rules were loaded.
 */
static int leaf_rules_for(int map, const char *lib, uint64_t start, uint64_t end, uint64_t off)
{
	int fd = open(lib, O_RDONLY | O_CLOEXEC), nrules = 0;
	Elf_Scn *scn = NULL;
	Dwarf_CFI *cfi;
	Elf *e;

	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	cfi = e ? dwarf_getcfi_elf(e) : NULL;
	while (cfi && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		const uint8_t *b;
		const char *name;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		name = elf_strptr(e, eh_shstrndx(e), sh.sh_name);
		if (!name || strcmp(name, ".text"))
			continue;
		d = elf_getdata(scn, NULL);
		b = d ? d->d_buf : NULL;
		for (i = 0; b && i + 1 < d->d_size; i++) {
			struct {
				int32_t cfa_off, rbp_off;
				uint32_t rbp_saved, pad;
			} rule = {0, 0, 0, 0};
			uint64_t foff = sh.sh_offset + i, key;
			Dwarf_Frame *fr = NULL;
			Dwarf_Op mem[3], *ops;
			size_t nops;

			if (b[i] != 0x0f || b[i + 1] != 0x05 || foff < off ||
			    foff >= off + (end - start))
				continue;
			if (dwarf_cfi_addrframe(cfi, sh.sh_addr + i, &fr) || !fr)
				continue;
			if (dwarf_frame_cfa(fr, &ops, &nops) || nops != 1 ||
			    ops[0].atom != DW_OP_bregx || ops[0].number != 7 /* rsp */)
				goto next;
			rule.cfa_off = (int32_t)ops[0].number2;
			if (dwarf_frame_register(fr, 6 /* rbp */, mem, &ops, &nops))
				goto next;
			if (ops && nops >= 1 && ops[0].atom == DW_OP_call_frame_cfa) {
				rule.rbp_saved = 1;
				if (nops == 2 && ops[1].atom == DW_OP_plus_uconst)
					rule.rbp_off = (int32_t)ops[1].number;
				else if (nops == 3 && ops[1].atom == DW_OP_consts &&
					 ops[2].atom == DW_OP_plus)
					rule.rbp_off = (int32_t)(int64_t)ops[1].number;
				else if (nops != 1)
					goto next;
			} else if (nops != 0) {
				goto next; /* a rule this walk does not follow */
			}
			/* else unchanged: libdw reports rbp, which the ABI has callees keep, as
			 * undefined when the CFI does not mention it */
			key = start + (foff - off) + 2;
			if (bpf_map_update_elem(map, &key, &rule, BPF_ANY) == 0)
				nrules++;
		next:
			free(fr);
		}
	}
	if (e)
		elf_end(e);
	close(fd);
	return nrules;
}

static void leaf_rules(struct lsc_attach *a)
{
	char path[64], line[4608], file[4096], perms[8];
	unsigned long long start, end, off;
	int map = bpf_map__fd(a->skel->maps.leaf_rules), n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", a->o.pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		file[0] = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &start, &end, perms, &off,
			   file) == 5 &&
		    perms[2] == 'x' && strstr(file, "/libc.so"))
			n += leaf_rules_for(map, file, start, end, off);
	}
	if (f)
		fclose(f);
	if (!n)
		note(a,
		     "no unwind rules for libc's syscall wrappers: blocking-call stacks may stop "
		     "at the wrapper");
}

/* ------------------------------------------------------------------ stacks */

/* The recording's id of this stack (leaf first, kernel frames first), writing it once. */
static uint32_t intern(struct lsc_attach *a, const uint64_t *f, uint32_t n, uint32_t nkernel)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Stack s = LOOPSCOPE__STACK__INIT;
	uint64_t h = lsc_hash_frames(f, n) ^ nkernel;
	size_t j, cap;

	if ((size_t)a->nstacks * 2 >= a->stack_cap) {
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
	put(a, &r);
	return s.id;
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
static void accumulate(struct acc **v, size_t *n, size_t *cap, uint32_t stack, uint32_t tid,
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

static void put_samples(struct lsc_attach *a, int kind, struct acc *v, size_t n, uint64_t period)
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
		s.has_kind = 1;
		s.kind = kind;
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
		put(a, &r);
	}
	free(stacks);
	free(tids);
	free(values);
}

/* ------------------------------------------------------------------ records */

static void put_thread(struct lsc_attach *a, uint32_t tid, int loop)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Thread t = LOOPSCOPE__THREAD__INIT;
	char path[96], name[64] = "";

	snprintf(path, sizeof(path), "/proc/%d/task/%u/comm", a->o.pid, tid);
	if (lsc__read_small(path, name, sizeof(name)) > 0)
		name[strcspn(name, "\n")] = 0;
	t.has_tid = t.has_loop = 1;
	t.tid = tid;
	t.name = name;
	t.loop = loop;
	r.body_case = LOOPSCOPE__RECORD__BODY_THREAD;
	r.thread = &t;
	put(a, &r);
}

static void put_header(struct lsc_attach *a, const char *runtime)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Header h = LOOPSCOPE__HEADER__INIT;
	char path[64], cmdline[8192], host[256] = "", *argv[256];
	struct timespec wall;
	int n, argc = 0, off = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", a->o.pid);
	n = lsc__read_small(path, cmdline, sizeof(cmdline));
	while (n > 0 && off < n && argc < 256) {
		argv[argc++] = cmdline + off;
		off += (int)strlen(cmdline + off) + 1;
	}
	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &wall);
	h.has_pid = h.has_start_unix_ns = h.has_start_mono_ns = 1;
	h.pid = (uint32_t)a->o.pid;
	h.executable = a->exe;
	h.argv = argv;
	h.n_argv = (size_t)argc;
	h.start_unix_ns = (uint64_t)wall.tv_sec * 1000000000ULL + (uint64_t)wall.tv_nsec;
	h.start_mono_ns = a->t0;
	h.clock = "monotonic";
	h.source = "bpf";
	h.loopscope_version = LSC_VERSION;
	h.hostname = host;
	h.runtime = (char *)runtime;
	h.notes = a->notes;
	h.n_notes = (size_t)a->nnotes;
	h.heap_mode = "off";
	r.body_case = LOOPSCOPE__RECORD__BODY_HEADER;
	r.header = &h;
	put(a, &r);
}

static void put_mappings(struct lsc_attach *a)
{
	char path[64], line[4608], file[4096], perms[8];
	unsigned long long start, end, off;
	uint8_t bid[64];
	uint32_t id = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", a->o.pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
		Loopscope__Mapping m = LOOPSCOPE__MAPPING__INIT;
		size_t n;

		file[0] = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &start, &end, perms, &off,
			   file) < 5 ||
		    perms[2] != 'x' || file[0] != '/')
			continue;
		m.has_id = m.has_start = m.has_end = m.has_file_offset = 1;
		m.id = ++id;
		m.start = start;
		m.end = end;
		m.file_offset = off;
		m.path = file;
		n = lsc__build_id(file, bid, sizeof(bid));
		if (n) {
			m.has_build_id = 1;
			m.build_id.data = bid;
			m.build_id.len = n;
		}
		r.body_case = LOOPSCOPE__RECORD__BODY_MAPPING;
		r.mapping = &m;
		put(a, &r);
	}
	if (f)
		fclose(f);
}

/* ------------------------------------------------------------------ events */

static int on_event(void *ctx, void *data, size_t len)
{
	struct lsc_attach *a = ctx;
	const struct lscb_event *e = data;
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event ev = LOOPSCOPE__EVENT__INIT;
	Loopscope__BlockingEvent b = LOOPSCOPE__BLOCKING_EVENT__INIT;
	Loopscope__GcEvent g = LOOPSCOPE__GC_EVENT__INIT;
	char call[64];
	const char *name;
	uint32_t n;

	if (len < sizeof(*e) - sizeof(e->frames))
		return 0;
	a->events++;
	ev.has_t_ns = 1;
	ev.t_ns = e->t_ns > a->t0 ? e->t_ns - a->t0 : 0;
	if (e->type == LSCB_EV_BLOCKING) {
		uint64_t unwound[LSCB_MAX_FRAMES];
		const uint64_t *frames = (const uint64_t *)e->frames;
		int k = 0;

		n = e->nframes < LSCB_MAX_FRAMES ? e->nframes : LSCB_MAX_FRAMES;
		/* From the CFI where the code has no frame pointers: the deeper stack wins. */
		if (a->unw && e->stack_len)
			k = lsc_unwind(a->unw, e->tid, (const uint64_t *)e->regs, e->stack,
				       e->stack_len, unwound, LSCB_MAX_FRAMES);
		if (k > (int)n) {
			frames = unwound;
			n = (uint32_t)k;
		}
		name = lsc_syscall_name(e->nr);
		if (name)
			snprintf(call, sizeof(call), "%s", name);
		else
			snprintf(call, sizeof(call), "syscall %u", e->nr);
		b.call = call;
		b.has_duration_ns = b.has_stack_id = b.has_tid = b.has_result = 1;
		b.duration_ns = e->dur_ns;
		b.stack_id = intern(a, frames, n, 0);
		b.tid = e->tid;
		b.result = e->result;
		if (e->sched_known) {
			b.has_run_queue_ns = b.has_on_cpu_ns = b.has_switches = 1;
			b.run_queue_ns = e->runq_ns;
			b.on_cpu_ns = e->cpu_ns;
			b.switches = e->switches;
		}
		ev.body_case = LOOPSCOPE__EVENT__BODY_BLOCKING;
		ev.blocking = &b;
		accumulate(&a->blk, &a->nblk, &a->blk_cap, b.stack_id, e->tid, e->dur_ns);
		if (e->dur_ns > a->win_top_ns) {
			a->win_top_ns = e->dur_ns;
			snprintf(a->win_top, sizeof(a->win_top), "%s", call);
		}
	} else if (e->type == LSCB_EV_CPU) {
		/* --stacks dwarf: kernel frames, then the user stack unwound from its copy */
		uint64_t frames[127 + LSCB_MAX_FRAMES];
		int32_t kstack = (int32_t)e->result;
		uint32_t nk = 0;
		int k = 0;

		if (kstack >= 0 &&
		    bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.stacks), &kstack, frames) == 0)
			while (nk < 127 && frames[nk])
				nk++;
		if (a->unw && e->stack_len)
			k = lsc_unwind(a->unw, e->tid, (const uint64_t *)e->regs, e->stack,
				       e->stack_len, frames + nk, LSCB_MAX_FRAMES);
		accumulate(&a->cpu, &a->ncpu, &a->cpu_cap, intern(a, frames, nk + (uint32_t)k, nk),
			   e->tid, 1);
		return 0;
	} else if (e->type == LSCB_EV_GC) {
		g.has_kind = g.has_pause_ns = g.has_rss_bytes = 1;
		g.kind = e->nr;
		g.pause_ns = e->dur_ns;
		g.rss_bytes = e->rss_bytes;
		if (e->heap_before || e->heap_after) {
			g.has_heap_before = g.has_heap_after = 1;
			g.heap_before = e->heap_before;
			g.heap_after = e->heap_after;
		}
		ev.body_case = LOOPSCOPE__EVENT__BODY_GC;
		ev.gc = &g;
		a->win_gc++;
		a->win_gc_ns += e->dur_ns;
	} else {
		return 0;
	}
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &ev;
	put(a, &r);
	return 0;
}

/* ------------------------------------------------------------------ windows */

/* The moment the target began to stop (a signal to its own handler), once. */
static void put_shutdown(struct lsc_attach *a, uint64_t at, uint32_t sig)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Event ev = LOOPSCOPE__EVENT__INIT;
	Loopscope__ShutdownEvent se = LOOPSCOPE__SHUTDOWN_EVENT__INIT;
	char why[32];

	if (a->shutdown_written || at < a->t0)
		return;
	a->shutdown_written = 1;
	snprintf(why, sizeof(why), "SIG%s", sigabbrev_np((int)sig) ? sigabbrev_np((int)sig) : "?");
	se.reason = why;
	ev.has_t_ns = 1;
	ev.t_ns = at - a->t0;
	ev.body_case = LOOPSCOPE__EVENT__BODY_SHUTDOWN;
	ev.shutdown = &se;
	r.body_case = LOOPSCOPE__RECORD__BODY_EVENT;
	r.event = &ev;
	put(a, &r);
}

static void close_window(struct lsc_attach *a, uint64_t now, struct lsc_attach_status *st)
{
	struct loop_bpf__bss *bss = a->skel->bss;
	uint32_t nloops = bss->nloops < LSCB_MAX_LOOPS ? bss->nloops : LSCB_MAX_LOOPS, i, k;
	uint64_t len = now - a->window_start;
	uint32_t fds, limit;
	double status_len = (double)len / 1e9;
	uint64_t rss = lsc__proc_rss(a->o.pid), rss_peak = lsc__proc_rss_peak(a->o.pid);

	fds = lsc__proc_fds(a->o.pid, &limit);
	for (i = 0; i < nloops; i++) {
		struct lscb_loop L = bss->loops[i];
		struct loop_prev *p = &a->prev[i];
		/* a loop that began during this window: its window begins with it */
		uint64_t start = L.first_ns > a->window_start ? L.first_ns : a->window_start, end;
		Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
		Loopscope__Window pw = LOOPSCOPE__WINDOW__INIT;
		Loopscope__Histogram busy, lag;
		Loopscope__HandleCount hc[LSCB_HANDLE_TYPES], *hcp[LSCB_HANDLE_TYPES];
		static uint32_t hidx[2][LSC_HIST_BUCKETS];
		static uint64_t hcnt[2][LSC_HIST_BUCKETS];
		struct lsc_hist hb, hl;
		uint64_t credit, idle;
		size_t nh = 0;
		int kind, frozen;

		if (!L.tid)
			continue;
		/* a process that has exited: a loop with no poll in this window has no window */
		if (a->gone && L.last_ns <= start)
			continue;
		if (!p->written_thread) {
			put_thread(a, L.tid, 1);
			p->written_thread = 1;
		}
		/* Idle: waits that ended, plus the one in progress so far, minus what the last
		 * window already counted of a wait that was then in progress. */
		credit = L.in_wait && now > L.wait_enter_ns && !a->gone ? now - L.wait_enter_ns : 0;
		idle = L.idle_ns - p->idle_ns + credit;
		idle = idle > p->credit ? idle - p->credit : 0;
		p->idle_ns = L.idle_ns;
		p->credit = credit;
		lsc_hist_init(&hb);
		lsc_hist_init(&hl);
		for (kind = 0; kind < 2; kind++)
			for (k = 0; k < LSCB_HIST_BUCKETS; k++) {
				uint64_t c = bss->hist[i][kind][k], d = c - p->hist[kind][k];

				if (!d)
					continue;
				p->hist[kind][k] = c;
				lsc_hist_add_n(kind ? &hl : &hb, lsc_hist_bucket_low(k), d);
			}
		pw.has_start_ns = pw.has_length_ns = pw.has_loop_tid = pw.has_elu = 1;
		pw.has_iterations = 1;
		/* a process that has exited: its loops ended at their last poll, not now */
		end = a->gone && L.last_ns > start && L.last_ns < now ? L.last_ns : now;
		len = end - start;
		pw.start_ns = start - a->t0;
		pw.length_ns = len;
		pw.loop_tid = L.tid;
		pw.elu = idle >= len ? 0 : 1.0 - (double)idle / (double)len;
		pw.iterations = L.iterations - p->iterations;
		p->iterations = L.iterations;
		pw.has_busy_long_runq_ns = 1;
		pw.busy_long_runq_ns = L.long_busy_runq_ns - p->long_runq;
		p->long_runq = L.long_busy_runq_ns;
		/* Frozen: no turn and no wait all window, busy since its last poll before the
		 * window began. A 1 ms timer due since then is that late so far: one lag value of
		 * at least the window's length (the turn that ends the freeze adds its own). */
		frozen = !pw.iterations && !L.in_wait && !a->gone && L.last_ns && now > L.last_ns &&
			 now - L.last_ns >= len;
		if (frozen) {
			lsc_hist_add(&hl, now - L.last_ns);
			pw.has_frozen = pw.frozen = 1;
		}
		lsc_hist_to_proto(&hb, &busy, hidx[0], hcnt[0]);
		pw.busy = &busy;
		lsc_hist_to_proto(&hl, &lag, hidx[1], hcnt[1]);
		pw.lag = &lag;
		if (L.pool_samples) {
			pw.has_pool_depth_max = pw.has_pool_threads = pw.has_pool_busy_max = 1;
			pw.pool_depth_max = L.pool_depth_max;
			pw.pool_threads = L.pool_threads;
			pw.pool_busy_max = L.pool_busy_max;
			/* a new maximum for the next window (the kernel side races us harmlessly)
			 */
			bss->loops[i].pool_depth_max = L.pool_depth;
			bss->loops[i].pool_busy_max = 0;
		}
		if (L.handles_known) {
			pw.has_active_handles = pw.has_active_reqs = 1;
			pw.active_handles = L.active_handles;
			pw.active_reqs = L.active_reqs;
			for (k = 1; k < LSCB_HANDLE_TYPES; k++) {
				if (!L.handles[k] || !lsc_handle_type_name(k))
					continue;
				loopscope__handle_count__init(&hc[nh]);
				hc[nh].type = (char *)lsc_handle_type_name(k);
				hc[nh].has_count = 1;
				hc[nh].count = L.handles[k];
				hcp[nh] = &hc[nh];
				nh++;
			}
			pw.handles = hcp;
			pw.n_handles = nh;
		}
		/* (a process that has exited has neither any more) */
		pw.has_rss_bytes = rss > 0;
		pw.has_rss_peak_bytes = rss_peak > 0;
		pw.has_open_fds = fds > 0;
		pw.rss_bytes = rss;
		pw.rss_peak_bytes = rss_peak;
		pw.open_fds = fds;
		if (limit) {
			pw.has_fd_limit = 1;
			pw.fd_limit = limit;
		}
		/* begun after the target was asked to stop: the drain (the event once, first) */
		if (bss->shutdown_ns && start >= bss->shutdown_ns) {
			put_shutdown(a, bss->shutdown_ns, bss->shutdown_sig);
			pw.has_shutdown = pw.shutdown = 1;
		}
		r.body_case = LOOPSCOPE__RECORD__BODY_WINDOW;
		r.window = &pw;
		put(a, &r);
		if (L.tid == (uint32_t)a->o.pid && st) {
			st->have_window = 1;
			st->frozen_s = frozen ? (double)(now - L.last_ns) / 1e9 : 0;
			st->elu = pw.elu;
			st->iterations = pw.iterations;
			st->window_s = status_len;
			st->busy = hb;
			st->lag = hl;
			st->pool_known = L.pool_samples > 0;
			st->pool_depth = L.pool_depth;
			st->pool_depth_max = L.pool_depth_max;
			st->pool_threads = L.pool_threads;
			st->pool_busy_max = L.pool_busy_max;
			st->handles_known = L.handles_known;
			st->active_handles = L.active_handles;
			st->active_reqs = L.active_reqs;
			memcpy(st->handles, L.handles, sizeof(st->handles));
		}
	}
	put_samples(a, LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, a->blk, a->nblk, 0);
	a->nblk = 0;
	if (st) {
		st->open_fds = fds;
		st->rss_bytes = rss;
		st->gc_count = a->win_gc;
		st->gc_pause_ns = a->win_gc_ns;
		snprintf(st->top_blocking, sizeof(st->top_blocking), "%s", a->win_top);
		st->top_blocking_ns = a->win_top_ns;
	}
	a->win_gc = a->win_gc_ns = a->win_top_ns = 0;
	a->win_top[0] = 0;
	a->window_start = now;
}

/* ------------------------------------------------------------------ CPU samples */

/* CPU samples (counts) per (thread, user stack, kernel stack). */
static void put_stack_samples(struct lsc_attach *a, int counts, int kind, uint64_t period)
{
	int stacks = bpf_map__fd(a->skel->maps.stacks);
	struct lscb_cpu_key k, next, *prev = NULL;
	uint64_t ips[127], frames[254], v;
	struct acc *cpu = NULL;
	size_t n = 0, cap = 0;
	uint32_t i, nu, nk;

	while (bpf_map_get_next_key(counts, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(counts, &k, &v))
			continue;
		nk = nu = 0;
		if (k.kstack >= 0 && bpf_map_lookup_elem(stacks, &k.kstack, ips) == 0)
			for (i = 0; i < 127 && ips[i]; i++)
				frames[nk++] = ips[i];
		if (k.ustack >= 0 && bpf_map_lookup_elem(stacks, &k.ustack, ips) == 0)
			for (i = 0; i < 127 && ips[i]; i++)
				frames[nk + nu++] = ips[i];
		if (acc_push(&cpu, &n, &cap, intern(a, frames, nk + nu, nk), k.tid, v))
			break;
	}
	put_samples(a, kind, cpu, n, period);
	free(cpu);
}

/* Off-CPU time per (thread, kernel stack, user stack as walked at the switch). */
static void put_offcpu_samples(struct lsc_attach *a)
{
	int map = bpf_map__fd(a->skel->maps.offcpu), stacks = bpf_map__fd(a->skel->maps.stacks);
	struct lscb_off_key k, next, *prev = NULL;
	struct lscb_off_value v;
	uint64_t ips[127], frames[LSCB_MAX_FRAMES + 127];
	struct acc *off = NULL;
	size_t n = 0, cap = 0;
	uint32_t i, nk, nu;

	while (bpf_map_get_next_key(map, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(map, &k, &v))
			continue;
		nk = 0;
		if (k.kstack >= 0 && bpf_map_lookup_elem(stacks, &k.kstack, ips) == 0)
			for (i = 0; i < 127 && ips[i]; i++)
				frames[nk++] = ips[i];
		nu = v.n < LSCB_MAX_FRAMES ? v.n : LSCB_MAX_FRAMES;
		memcpy(frames + nk, v.frames, nu * sizeof(uint64_t));
		if (acc_push(&off, &n, &cap, intern(a, frames, nk + nu, nk), k.tid, v.ns))
			break;
	}
	put_samples(a, LOOPSCOPE__SAMPLE_KIND__OFFCPU, off, n, 0);
	free(off);
}

/* ------------------------------------------------------------------ attach, tick, stop */

static int open_perf(struct lsc_attach *a, char *err, size_t errlen)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.freq = 1,
		.sample_freq = a->o.cpu_hz,
	};
	int cpu;

	a->ncpus = libbpf_num_possible_cpus();
	if (a->ncpus <= 0)
		return -EINVAL;
	a->perf_fds = calloc((size_t)a->ncpus, sizeof(int));
	a->perf_links = calloc((size_t)a->ncpus, sizeof(*a->perf_links));
	if (!a->perf_fds || !a->perf_links)
		return -ENOMEM;
	for (cpu = 0; cpu < a->ncpus; cpu++) {
		a->perf_fds[cpu] =
			(int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (a->perf_fds[cpu] < 0) {
			if (errno == ENODEV) /* a possible CPU that is offline */
				continue;
			snprintf(err, errlen, "perf_event_open for CPU samples: %s%s",
				 strerror(errno),
				 errno == EACCES || errno == EPERM
					 ? " (needs CAP_PERFMON: run as root, or --cpu-hz 0)"
					 : "");
			return -errno;
		}
		a->perf_links[cpu] = bpf_program__attach_perf_event(a->skel->progs.on_cpu_sample,
								    a->perf_fds[cpu]);
		if (!a->perf_links[cpu]) {
			snprintf(err, errlen, "cannot attach the CPU sampler: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static const char *runtime_of(struct want *w)
{
	/* w[6..]: V8's GC tracer; w[0]: libuv's queue */
	if (w[6].found)
		return "node";
	return w[0].found ? "libuv program" : "unknown";
}

/* libbpf's own messages go to stderr only with LOOPSCOPE_BPF_DEBUG=1: errors reach the user as
 * one line of ours. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static int debug = -1;

	if (debug < 0)
		debug = getenv("LOOPSCOPE_BPF_DEBUG") != NULL;
	return debug ? vfprintf(stderr, fmt, ap) : 0;
}

int lsc_attach_start(const struct lsc_attach_opts *o, struct lsc_attach **out, char *err,
		     size_t errlen)
{
	struct want w[] = {
		{"wq", 0, 0, 0, NULL},
		{"run_slow_work_message", 0, 0, 0, NULL},
		{"slow_io_pending_wq", 0, 0, 0, NULL},
		{"idle_threads", 0, 0, 0, NULL},
		{"nthreads", 0, 0, 0, NULL},
		{"default_loop_struct", 0, 0, 0, NULL},
		{"StartObservablePauseEv", 1, 0, 0, "8internal8GCTracer"},
		{"StopObservablePauseEv", 1, 0, 0, "8internal8GCTracer"},
		{"PerformGarbageCollectionENS0_16GarbageCollector", 1, 0, 0, "8internal4Heap"},
		{"rl_observer_register", 0, 0, 0, NULL},
		{"uv_run", 0, 0, 0, NULL},
	};
	struct lsc_attach *a;
	char path[64], runtime[160];
	uint64_t base_vaddr = 0, bias, off;
	int is_dyn = 0, e, no_loop;
	Elf *elf = NULL;
	ssize_t k;

	*out = NULL;
	if (o->pid <= 0) {
		snprintf(err, errlen, "no process with PID %d", o->pid);
		return -ESRCH;
	}
	e = lsc__target_problem(o->pid, err, errlen);
	if (!e)
		e = lsc__no_privileges(err, errlen);
	if (e)
		return e;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->o = *o;
	snprintf(path, sizeof(path), "/proc/%d/exe", o->pid);
	k = readlink(path, a->exe, sizeof(a->exe) - 1);
	if (k <= 0) {
		e = errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
		free(a);
		return -e;
	}
	a->exe[k] = 0;
	/* Symbols: one pass over the binary's tables. */
	e = lsc__elf_find(path, w, sizeof(w) / sizeof(w[0]), &is_dyn, &base_vaddr, &elf);
	/* No libuv (neither its symbols, exported uv_run included, nor a libuv.so mapped): no loop
	 * to measure. Unknown when the symbols cannot be read. */
	no_loop = !e &&
		  lsc__target_no_loop(o->pid, w[0].found || w[5].found || w[10].found, err, errlen);
	if (e)
		note(a,
		     "%s: cannot read its symbols (%s): thread-pool, handle and GC probes "
		     "skipped; the loop is measured from syscalls",
		     a->exe, lsc_strerror(e));
	else if ((!w[0].found || !w[5].found) && (w[10].found || !no_loop))
		note(a,
		     "%s has no libuv symbols (wq, default_loop_struct): thread-pool and "
		     "handle probes skipped; the loop is measured from syscalls",
		     a->exe);
	bias = e ? 0 : lsc__load_bias(o->pid, a->exe, is_dyn, base_vaddr);
	/* Said at once, unless asked to record anyway. */
	if (no_loop) {
		if (!o->any_target) {
			if (elf)
				elf_end(elf);
			while (a->nnotes)
				free(a->notes[--a->nnotes]);
			free(a);
			return LSC_ENOLOOP;
		}
		note(a,
		     "%s has no libuv: recorded with --anyway; no event loop to measure, CPU "
		     "samples and system calls only",
		     a->exe);
		err[0] = 0;
	}

	libbpf_set_print(libbpf_log);
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	a->skel = loop_bpf__open();
	if (!a->skel) {
		snprintf(err, errlen, "cannot open the eBPF object: %s", strerror(errno));
		goto fail;
	}
	a->skel->rodata->target_tgid = (uint32_t)o->pid;
	a->skel->rodata->block_threshold_ns = o->block_threshold_ns;
	a->skel->rodata->cpu_dwarf = o->stacks_dwarf;
	if (w[0].found && w[3].found && w[4].found) {
		a->skel->rodata->addr_wq = bias + w[0].vaddr;
		a->skel->rodata->addr_slow_marker = w[1].found ? bias + w[1].vaddr : 0;
		a->skel->rodata->addr_slow_wq = w[2].found ? bias + w[2].vaddr : 0;
		a->skel->rodata->addr_idle_threads = bias + w[3].vaddr;
		a->skel->rodata->addr_nthreads = bias + w[4].vaddr;
	}
	if (w[5].found)
		a->skel->rodata->addr_default_loop = bias + w[5].vaddr;
	/* Programs that will not be attached are not loaded either. */
	if (!o->cpu_hz)
		bpf_program__set_autoload(a->skel->progs.on_cpu_sample, false);
	if (!o->offcpu)
		bpf_program__set_autoload(a->skel->progs.on_switch, false);
	e = loop_bpf__load(a->skel);
	if (e) {
		snprintf(err, errlen, "cannot load the eBPF programs: %s%s", strerror(-e),
			 e == -EPERM || e == -EACCES
				 ? " (needs CAP_BPF and CAP_PERFMON: run as root, or grant them: "
				   "setcap cap_bpf,cap_perfmon+ep loopscope)"
				 : " (LOOPSCOPE_BPF_DEBUG=1 shows libbpf's log)");
		goto fail;
	}
	leaf_rules(a);
	if (lsc_unwinder_new(o->pid, &a->unw))
		note(a,
		     "elfutils cannot read the modules of PID %d: blocking-call stacks come from "
		     "frame pointers only",
		     o->pid);
	/* The recording starts now: the loop's first window, and the idle time of a wait already
	 * in progress, are counted from here. */
	a->t0 = a->window_start = a->last_tick = mono_ns();
	a->skel->bss->attach_ns = a->t0;
	a->skel->links.on_sys_enter = bpf_program__attach(a->skel->progs.on_sys_enter);
	a->skel->links.on_sys_exit = bpf_program__attach(a->skel->progs.on_sys_exit);
	a->skel->links.on_signal = bpf_program__attach(a->skel->progs.on_signal);
	if (!a->skel->links.on_signal)
		note(a, "cannot attach to signal_deliver (%s): a stop request is not told apart",
		     strerror(errno));
	if (o->offcpu)
		a->skel->links.on_switch = bpf_program__attach(a->skel->progs.on_switch);
	if (!a->skel->links.on_sys_enter || !a->skel->links.on_sys_exit ||
	    (o->offcpu && !a->skel->links.on_switch)) {
		snprintf(err, errlen, "cannot attach to the syscall tracepoints: %s",
			 strerror(errno));
		goto fail;
	}
	/* GC: V8's tracer by offset, or refloop's USDT probe. */
	if (w[6].found && w[7].found && elf) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo);
		struct bpf_link *l1 = NULL, *l2 = NULL, *l3 = NULL;

		if (lsc__vaddr_to_offset(elf, w[6].vaddr, &off) == 0)
			l1 = bpf_program__attach_uprobe_opts(a->skel->progs.on_v8_pause_start,
							     o->pid, a->exe, off, &uo);
		if (lsc__vaddr_to_offset(elf, w[7].vaddr, &off) == 0)
			l2 = bpf_program__attach_uprobe_opts(a->skel->progs.on_v8_pause_stop,
							     o->pid, a->exe, off, &uo);
		if (w[8].found && lsc__vaddr_to_offset(elf, w[8].vaddr, &off) == 0)
			l3 = bpf_program__attach_uprobe_opts(a->skel->progs.on_v8_perform_gc,
							     o->pid, a->exe, off, &uo);
		a->skel->links.on_v8_pause_start = l1;
		a->skel->links.on_v8_pause_stop = l2;
		a->skel->links.on_v8_perform_gc = l3;
		if (!l1 || !l2)
			note(a, "V8's GCTracer could not be probed (%s%s): no GC events",
			     strerror(errno),
			     errno == EINVAL ? "; another tracer may hold a conflicting uprobe, "
					       "see dmesg"
					     : "");
	} else if (w[9].found) {
		a->skel->links.on_refloop_gc_end =
			bpf_program__attach_usdt(a->skel->progs.on_refloop_gc_end, o->pid, a->exe,
						 "refloop", "gc__end", NULL);
		if (!a->skel->links.on_refloop_gc_end)
			note(a,
			     "refloop's USDT probe gc__end could not be attached (%s): no GC "
			     "events",
			     strerror(errno));
	} else {
		note(a, "no GC probes for %s (neither V8's GCTracer nor refloop's USDT probes)",
		     a->exe);
	}
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.events), on_event, a, NULL);
	if (!a->rb) {
		snprintf(err, errlen, "cannot open the event ring buffer: %s", strerror(errno));
		goto fail;
	}
	if (o->cpu_hz && open_perf(a, err, errlen))
		goto fail;
	if (o->output) {
		e = lsc_writer_open(o->output, &a->w);
		if (e) {
			snprintf(err, errlen, "cannot create the recording '%s': %s", o->output,
				 lsc_strerror(e));
			goto fail;
		}
	}
	snprintf(runtime, sizeof(runtime), "%s", runtime_of(w));
	put_header(a, runtime);
	put_mappings(a);
	if (elf)
		elf_end(elf);
	*out = a;
	return 0;
fail:
	e = errno ? -errno : -EINVAL;
	if (elf)
		elf_end(elf);
	lsc_attach_stop(a);
	return e;
}

const char *const *lsc_attach_notes(const struct lsc_attach *a)
{
	return (const char *const *)a->notes;
}

int lsc_attach_tick(struct lsc_attach *a, struct lsc_attach_status *st)
{
	uint64_t now = mono_ns();
	int closed = 0;

	ring_buffer__consume(a->rb); /* records come without wakeups */
	if (!a->gone && !lsc__target_alive(a->o.pid))
		a->gone = 1;
	/* the first tick after the target began to stop closes the window: the run's part of it
	 * stays the run's, the windows after it are the drain's */
	if (now - a->window_start >= a->o.window_ns || a->gone ||
	    (a->skel->bss->shutdown_ns && !a->shutdown_split)) {
		a->shutdown_split |= a->skel->bss->shutdown_ns != 0;
		close_window(a, now, st);
		closed = 1;
	}
	if (st) {
		st->elapsed_s = (double)(now - a->t0) / 1e9;
		st->events = a->events;
		st->dropped = a->skel->bss->dropped_events;
		st->target_gone = a->gone;
	}
	a->last_tick = now;
	return closed;
}

int lsc_attach_stop(struct lsc_attach *a)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Footer f = LOOPSCOPE__FOOTER__INIT;
	int i, err = 0;
	size_t j;

	if (!a)
		return 0;
	if (a->w && a->skel) {
		ring_buffer__consume(a->rb); /* records come without wakeups */
		if (mono_ns() - a->window_start > a->o.window_ns / 10 && !a->gone)
			close_window(a, mono_ns(), NULL);
		put_samples(a, LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, a->blk, a->nblk, 0);
		if (a->skel->bss->shutdown_ns) /* when no window began after it */
			put_shutdown(a, a->skel->bss->shutdown_ns, a->skel->bss->shutdown_sig);
		if (a->o.cpu_hz && !a->o.stacks_dwarf)
			put_stack_samples(a, bpf_map__fd(a->skel->maps.cpu_counts),
					  LOOPSCOPE__SAMPLE_KIND__CPU, 1000000000ULL / a->o.cpu_hz);
		if (a->o.cpu_hz && a->o.stacks_dwarf)
			put_samples(a, LOOPSCOPE__SAMPLE_KIND__CPU, a->cpu, a->ncpu,
				    1000000000ULL / a->o.cpu_hz);
		if (a->o.offcpu)
			put_offcpu_samples(a);
		if (!a->gone)
			put_mappings(a); /* libraries loaded since attach */
		f.has_end_ns = f.has_dropped_events = f.has_dropped_stacks = 1;
		f.end_ns = mono_ns() - a->t0;
		f.dropped_events = a->skel->bss->dropped_events;
		f.dropped_stacks = 0;
		r.body_case = LOOPSCOPE__RECORD__BODY_FOOTER;
		r.footer = &f;
		put(a, &r);
	}
	for (i = 0; a->perf_links && i < a->ncpus; i++)
		bpf_link__destroy(a->perf_links[i]);
	for (i = 0; a->perf_fds && i < a->ncpus; i++)
		if (a->perf_fds[i] > 0)
			close(a->perf_fds[i]);
	free(a->perf_links);
	free(a->perf_fds);
	ring_buffer__free(a->rb);
	loop_bpf__destroy(a->skel);
	lsc_unwinder_free(a->unw);
	if (a->w)
		err = lsc_writer_close(a->w);
	if (!err && a->write_err)
		err = -(int)a->write_err;
	for (j = 0; j < a->stack_cap; j++)
		free(a->stacks[j].frames);
	free(a->stacks);
	free(a->blk);
	free(a->cpu);
	for (i = 0; i < a->nnotes; i++)
		free(a->notes[i]);
	free(a);
	return err;
}
