/*
 * attach.c — the user-space half of `loopscope attach`: finds what to probe in the target (libuv's
 * static thread-pool queue and default loop, V8's GC tracer or refloop's USDT probes, from the
 * binary's symbol table, once; target.c), loads and attaches loop.bpf.c, reads the kernel's
 * totals each tick and stops. The recording it makes of them (windows, events, mappings, the
 * footer) is attach_records.c's, its stacks and samples attach_stacks.c's. Symbols are added
 * afterwards by the caller (lsc_recording_symbolize).
 */
#include "attach_internal.h"
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
		{"uv__work_submit", 0, 0, 0, NULL},
		{"uv_queue_work", 0, 0, 0, NULL},
	};
	struct lsc_attach *a;
	char path[64];
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
		lsc__at_note(a,
			     "%s: cannot read its symbols (%s): thread-pool, handle and GC probes "
			     "skipped; the loop is measured from syscalls",
			     a->exe, lsc_strerror(e));
	else if ((!w[0].found || !w[5].found) && (w[10].found || !no_loop))
		lsc__at_note(a,
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
		lsc__at_note(
			a,
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
	a->skel->rodata->cpu_fp = o->stacks_fp;
	if (w[0].found && w[3].found && w[4].found) {
		a->skel->rodata->addr_wq = bias + w[0].vaddr;
		a->skel->rodata->addr_slow_marker = w[1].found ? bias + w[1].vaddr : 0;
		a->skel->rodata->addr_slow_wq = w[2].found ? bias + w[2].vaddr : 0;
		a->skel->rodata->addr_idle_threads = bias + w[3].vaddr;
		a->skel->rodata->addr_nthreads = bias + w[4].vaddr;
	}
	if (w[5].found)
		a->skel->rodata->addr_default_loop = bias + w[5].vaddr;
	/* Node.js: its JS frames named from V8's own objects, no flag needed (attach_js.c). */
	if (w[6].found && w[7].found && !o->stacks_dwarf)
		lsc__at_js_open(a, elf, bias);
	/* Programs that will not be attached are not loaded either. */
	if (!o->cpu_hz)
		bpf_program__set_autoload(a->skel->progs.on_cpu_sample, false);
	if (o->switch_loop) {
		bpf_program__set_autoload(a->skel->progs.on_sys_enter, false);
		bpf_program__set_autoload(a->skel->progs.on_sys_exit, false);
	} else {
		bpf_program__set_autoload(a->skel->progs.on_switch_loop, false);
	}
	if (!o->offcpu) { /* nor their maps' room (16 MiB of off-CPU stacks, preallocated) */
		bpf_program__set_autoload(a->skel->progs.on_switch, false);
		bpf_map__set_max_entries(a->skel->maps.offcpu, 1);
	}
	lsc__at_cfi_open(a); /* stacks through code without frame pointers (attach_stacks.c) */
	/* Without a recording (top, the exporter) no stack is kept, and the exporter's probe set
	 * sends few events: the maps for them are not reserved either (34 MiB of kernel memory a
	 * session otherwise, per watched process). */
	if (!o->output) {
		if (!a->cfi.n) {
			bpf_map__set_max_entries(a->skel->maps.uw_rows, 1);
			bpf_map__set_max_entries(a->skel->maps.uw_pages, 1);
		}
		if (!o->cpu_hz && !o->offcpu && o->switch_loop) {
			bpf_map__set_max_entries(a->skel->maps.stacks, 1);
			bpf_map__set_max_entries(a->skel->maps.events, 1 << 18);
		}
		if (o->no_pool_probes)
			bpf_map__set_max_entries(a->skel->maps.pool_stamps, 1);
	}
	e = loop_bpf__load(a->skel);
	if (e) {
		snprintf(err, errlen, "cannot load the eBPF programs: %s%s", strerror(-e),
			 e == -EPERM || e == -EACCES
				 ? " (needs CAP_BPF and CAP_PERFMON: run as root, or grant them: "
				   "setcap cap_bpf,cap_perfmon+ep loopscope)"
				 : " (LOOPSCOPE_BPF_DEBUG=1 shows libbpf's log)");
		goto fail;
	}
	lsc__at_cfi_load(a);
	if (o->output && lsc_unwinder_new(o->pid, &a->unw))
		lsc__at_note(
			a,
			"elfutils cannot read the modules of PID %d: blocking-call stacks come from "
			"frame pointers only",
			o->pid);
	/* The recording starts now: the loop's first window, and the idle time of a wait already
	 * in progress, are counted from here. */
	a->t0 = a->window_start = a->last_tick = lsc__at_mono_ns();
	a->skel->bss->attach_ns = a->t0;
	if (o->switch_loop) {
		a->skel->links.on_switch_loop = bpf_program__attach(a->skel->progs.on_switch_loop);
		if (!a->skel->links.on_switch_loop) {
			snprintf(err, errlen, "cannot attach to the sched_switch tracepoint: %s",
				 strerror(errno));
			goto fail;
		}
	} else {
		a->skel->links.on_sys_enter = bpf_program__attach(a->skel->progs.on_sys_enter);
		a->skel->links.on_sys_exit = bpf_program__attach(a->skel->progs.on_sys_exit);
	}
	a->skel->links.on_signal = bpf_program__attach(a->skel->progs.on_signal);
	if (!a->skel->links.on_signal)
		lsc__at_note(
			a, "cannot attach to signal_deliver (%s): a stop request is not told apart",
			strerror(errno));
	if (o->offcpu)
		a->skel->links.on_switch = bpf_program__attach(a->skel->progs.on_switch);
	if ((!o->switch_loop && (!a->skel->links.on_sys_enter || !a->skel->links.on_sys_exit)) ||
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
			lsc__at_note(a, "V8's GCTracer could not be probed (%s%s): no GC events",
				     strerror(errno),
				     errno == EINVAL
					     ? "; another tracer may hold a conflicting uprobe, "
					       "see dmesg"
					     : "");
	} else if (w[9].found) {
		a->skel->links.on_refloop_gc_end =
			bpf_program__attach_usdt(a->skel->progs.on_refloop_gc_end, o->pid, a->exe,
						 "refloop", "gc__end", NULL);
		if (!a->skel->links.on_refloop_gc_end)
			lsc__at_note(
				a,
				"refloop's USDT probe gc__end could not be attached (%s): no GC "
				"events",
				strerror(errno));
	} else {
		lsc__at_note(
			a, "no GC probes for %s (neither V8's GCTracer nor refloop's USDT probes)",
			a->exe);
	}
	/* The pool's submissions: each job's stamp and its submitter (attach_pool.c). */
	lsc__at_pool_open(a, elf, bias, &w[11], &w[12]);
	/* Where handles are made (attach_sites.c): what keeps the process alive, by its maker. */
	lsc__at_sites_open(a);
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.events), lsc__at_on_event, a, NULL);
	if (!a->rb) {
		snprintf(err, errlen, "cannot open the event ring buffer: %s", strerror(errno));
		goto fail;
	}
	if (o->cpu_hz && open_perf(a, err, errlen))
		goto fail;
	if (o->output) {
		e = o->segmented ? lsc_writer_create(o->output, &a->w)
				 : lsc_writer_open(o->output, &a->w);
		if (!e && o->tee)
			e = lsc_writer_open(o->tee, &a->tee);
		if (e) {
			snprintf(err, errlen, "cannot create the recording '%s': %s",
				 a->w ? o->tee : o->output, lsc_strerror(e));
			goto fail;
		}
	}
	a->segment = 1;
	a->segment_start = a->t0;
	snprintf(a->runtime, sizeof(a->runtime), "%s", runtime_of(w));
	lsc__at_put_header(a);
	lsc__at_put_mappings(a);
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
	uint64_t now = lsc__at_mono_ns();
	int closed = 0;

	ring_buffer__consume(a->rb); /* records come without wakeups */
	if (!a->gone && !lsc__target_alive(a->o.pid))
		a->gone = 1;
	/* the first tick after the target began to stop closes the window: the run's part of it
	 * stays the run's, the windows after it are the drain's */
	if (now - a->window_start >= a->o.window_ns || a->gone ||
	    (a->skel->bss->shutdown_ns && !a->shutdown_split)) {
		a->shutdown_split |= a->skel->bss->shutdown_ns != 0;
		lsc__at_close_window(a, now, st);
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

int lsc_attach_rotate(struct lsc_attach *a, const char *path)
{
	struct lsc_writer *w;
	uint32_t i;
	int e;

	if (!a->w || !a->o.segmented)
		return -EINVAL;
	/* what the old segment counted goes in it: events, blocking time and CPU samples of the
	 * window just closed (already written), the pool's submitting stacks so far */
	ring_buffer__consume(a->rb);
	lsc__at_put_samples(a, LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, a->blk, a->nblk, 0);
	a->nblk = 0;
	if (a->o.cpu_hz) {
		lsc__at_put_samples(a, LOOPSCOPE__SAMPLE_KIND__CPU, a->cpu, a->ncpu,
				    1000000000ULL / a->o.cpu_hz);
		a->ncpu = 0;
	}
	lsc__at_pool_stop(a);
	e = lsc_writer_create(path, &w);
	if (e)
		return e;
	e = lsc_writer_close(a->w);
	if (e && !a->write_err)
		a->write_err = (uint64_t)-e;
	a->w = w;
	a->segment++;
	a->segment_start = a->window_start;
	/* the new file readable alone: what its records refer to is written again */
	lsc__at_forget_stacks(a); /* (JS names: fn_id writes each again at its first use) */
	for (i = 0; i < LSCB_MAX_LOOPS; i++)
		a->prev[i].written_thread = 0;
	lsc__at_put_header(a);
	if (!a->gone)
		lsc__at_put_mappings(a);
	return 0;
}

int lsc_attach_stop(struct lsc_attach *a)
{
	Loopscope__Record r = LOOPSCOPE__RECORD__INIT;
	Loopscope__Footer f = LOOPSCOPE__FOOTER__INIT;
	Loopscope__Counter counters[24], *counter_ptrs[24];
	int i, err = 0;
	size_t j;

	if (!a)
		return 0;
	if (a->w && a->skel) {
		ring_buffer__consume(a->rb); /* records come without wakeups */
		if (lsc__at_mono_ns() - a->window_start > a->o.window_ns / 10 && !a->gone)
			lsc__at_close_window(a, lsc__at_mono_ns(), NULL);
		lsc__at_put_samples(a, LOOPSCOPE__SAMPLE_KIND__BLOCKING_NS, a->blk, a->nblk, 0);
		if (a->skel->bss->shutdown_ns) /* when no window began after it */
			lsc__at_put_shutdown(a, a->skel->bss->shutdown_ns,
					     a->skel->bss->shutdown_sig);
		if (a->o.cpu_hz)
			lsc__at_put_samples(a, LOOPSCOPE__SAMPLE_KIND__CPU, a->cpu, a->ncpu,
					    1000000000ULL / a->o.cpu_hz);
		if (a->o.offcpu)
			lsc__at_put_offcpu_samples(a);
		lsc__at_pool_stop(a);
		if (!a->gone)
			lsc__at_put_mappings(a); /* libraries loaded since attach */
		f.n_counters = lsc__at_js_counters(a, counters, 24);
		f.n_counters +=
			lsc__at_pool_counters(a, counters + f.n_counters, 24 - f.n_counters);
		f.n_counters +=
			lsc__at_stack_counters(a, counters + f.n_counters, 24 - f.n_counters);
		for (j = 0; j < f.n_counters; j++)
			counter_ptrs[j] = &counters[j];
		f.counters = counter_ptrs;
		f.has_end_ns = f.has_dropped_events = f.has_dropped_stacks = 1;
		f.end_ns = lsc__at_mono_ns() - a->t0;
		f.dropped_events = a->skel->bss->dropped_events;
		f.dropped_stacks = 0;
		r.body_case = LOOPSCOPE__RECORD__BODY_FOOTER;
		r.footer = &f;
		lsc__at_put(a, &r);
	}
	for (i = 0; a->perf_links && i < a->ncpus; i++)
		bpf_link__destroy(a->perf_links[i]);
	for (i = 0; a->perf_fds && i < a->ncpus; i++)
		if (a->perf_fds[i] > 0)
			close(a->perf_fds[i]);
	free(a->perf_links);
	free(a->perf_fds);
	ring_buffer__free(a->rb);
	lsc__at_sites_close(a);
	loop_bpf__destroy(a->skel);
	lsc_unwinder_free(a->unw);
	lsc__cfi_table_release(&a->cfi);
	lsc__at_js_close(a);
	lsc__at_pool_close(a);
	if (a->w)
		err = lsc_writer_close(a->w);
	if (a->tee) {
		int e = lsc_writer_close(a->tee);

		err = err ? err : e;
	}
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
