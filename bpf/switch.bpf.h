/* SPDX-License-Identifier: GPL-2.0 */
/*
 * switch.bpf.h — the loop from the scheduler's switches alone (included at the end of
 * loop.bpf.c; the exporter's probe set, lsc_attach_opts.switch_loop): no program on any syscall.
 * A target thread that goes to sleep inside epoll_wait (its pt_regs' orig_ax, at the switch) is
 * a loop thread, and it is idle until it is switched back in; its busy time is the rest. That is
 * Node's own accounting of ELU (idle from before the provider's wait to after it returns), but
 * for the microseconds of a wait that found events at once and never slept, which count as busy
 * here. A turn is a sleep: a loop that never sleeps makes no turn, and is busy all along (a
 * whole window: frozen, as attach says of a loop that made no turn). A sleep and its wake-up
 * are poll_enter and poll_exit (a wait with no timeout known), as the syscall probes' are: the
 * turns, the 1 ms timer's lag and the run-queue figures the same. The pool's queue and the
 * handles are walked when the main loop goes to sleep (it is the current task there). A loop
 * thread that sleeps in another system call for the threshold or longer is a blocking call of
 * that call, without its stack (the thread is not current when it comes back). A switch costs
 * the machine a task-storage lookup per side for the target's threads, and a tgid compare for
 * everyone else's; a loop-bound loop that never waits costs nothing.
 */

static __always_inline int is_epoll(long nr)
{
	return nr == NR_EPOLL_WAIT || nr == NR_EPOLL_PWAIT || nr == NR_EPOLL_PWAIT2;
}

/* A loop thread slept in another system call for the threshold or longer. */
static __always_inline void switch_blocking(__u32 tid, struct thread_state *t, __u64 now)
{
	struct lscb_event *e;
	__u64 dur = now - t->sys_enter_ns;

	if (dur < block_threshold_ns || t->slot >= LSCB_MAX_LOOPS)
		return;
	loops[t->slot & (LSCB_MAX_LOOPS - 1)].blocking++;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped_events, 1);
		return;
	}
	e->type = LSCB_EV_BLOCKING;
	e->tid = tid;
	e->t_ns = t->sys_enter_ns;
	e->dur_ns = dur;
	e->result = 0;
	e->nr = (__u32)t->sys_nr;
	e->heap_before = e->heap_after = e->rss_bytes = 0;
	e->sched_known = 0;
	e->runq_ns = e->cpu_ns = 0;
	e->switches = 0;
	e->nframes = 0;
	e->stack_len = 0;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch_loop, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct thread_state *t;
	__u64 now = 0;

	if (prev->tgid == target_tgid && prev->__state != 0 /* TASK_RUNNING: preempted */) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);
		long nr = regs ? BPF_CORE_READ(regs, orig_ax) : -1;

		now = bpf_ktime_get_ns();
		if (is_epoll(nr)) {
			/* a wait with no timeout known: the turn ends (poll_enter), the
			 * pool and handles walked (prev is current here) */
			t = loop_task(prev, (__u32)prev->pid, now);
			if (t)
				poll_enter((__u32)prev->pid, t, now, -1);
		} else if (nr >= 0 && (t = bpf_task_storage_get(&threads, prev, 0, 0)) &&
			   t->slot < LSCB_MAX_LOOPS) {
			t->sys_enter_ns = now;
			t->sys_nr = nr;
		}
	}
	if (next->tgid != target_tgid)
		return 0;
	t = bpf_task_storage_get(&threads, next, 0, 0);
	if (!now)
		now = bpf_ktime_get_ns();
	if (!t || t->slot >= LSCB_MAX_LOOPS) {
		/* a loop asleep in its wait since before attach, seen first as it wakes: idle
		 * since attach */
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(next);
		long nr = regs ? BPF_CORE_READ(regs, orig_ax) : -1;

		if (!is_epoll(nr) || !(t = loop_task(next, (__u32)next->pid, attach_ns)))
			return 0;
		t->in_poll = 1;
		t->timeout_nz = 1;
		t->timeout_ms = 0;
		t->enter_ns = attach_ns;
	}
	if (t->in_poll) {
		poll_exit(t, now, 1, next); /* the wait is over, its run-queue delay with it */
	} else if (t->sys_enter_ns) {
		switch_blocking((__u32)next->pid, t, now);
		t->sys_enter_ns = 0;
		t->sys_nr = -1;
	}
	return 0;
}
