/* SPDX-License-Identifier: GPL-2.0 */
/*
 * switch.bpf.h — the loop from the scheduler's switches alone (included at the end of
 * loop.bpf.c; the exporter's probe set, lsc_attach_opts.switch_loop): no program on any syscall.
 * A target thread that goes to sleep inside epoll_wait (its pt_regs' orig_ax, at the switch) is
 * a loop thread, and it is idle until it is switched back in; its busy time is the rest. That is
 * Node's own accounting of ELU (idle from before the provider's wait to after it returns), but
 * for the microseconds of a wait that found events at once and never slept, which count as busy
 * here. A turn is a sleep: a loop that never sleeps makes no turn, and is busy all along (a
 * whole window: frozen, as attach says of a loop that made no turn). The 1 ms timer's lag is
 * kept as poll_enter/poll_exit keep it, at these sleeps and wake-ups. The pool's queue and the
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

/* The loop thread (current) goes to sleep in its epoll wait: a turn ends. */
static __always_inline void switch_sleep(__u32 tid, struct thread_state *t, __u64 now)
{
	__u64 busy = now > t->busy_start_ns ? now - t->busy_start_ns : 0;
	__u32 slot = t->slot;
	struct lscb_loop *L;

	if (slot >= LSCB_MAX_LOOPS)
		return;
	L = &loops[slot];
	L->last_ns = now;
	L->iterations++;
	hist_add(slot, LSCB_HIST_BUSY, busy, 1);
	if (t->next_due_ns <= now)
		fire(t, now);
	t->enter_ns = now;
	t->in_poll = 1;
	t->timeout_ms = 0;
	L->wait_enter_ns = now;
	L->in_wait = 1;
	if (tid == target_tgid) {
		pool_sample(L, t, now);
		handles_sample(L, now);
	}
}

/* It is switched back in: its wait is over (the time it then waited for a CPU with it). */
static __always_inline void switch_wake(struct thread_state *t, __u64 now)
{
	__u32 slot = t->slot;
	struct lscb_loop *L;
	__u64 n;

	if (slot >= LSCB_MAX_LOOPS)
		return;
	L = &loops[slot];
	L->last_ns = now;
	L->in_wait = 0;
	t->in_poll = 0;
	if (now > t->enter_ns)
		L->idle_ns += now - t->enter_ns;
	t->busy_start_ns = now;
	/* asleep, the 1 ms timer would have woken it on time, once a period */
	if (t->next_due_ns <= now) {
		n = (now - t->next_due_ns) / LSCB_LAG_PERIOD_NS + 1;
		hist_add(slot, LSCB_HIST_LAG, LSCB_LAG_PERIOD_NS, n);
		t->last_fire_ns = t->next_due_ns + (n - 1) * LSCB_LAG_PERIOD_NS;
		t->next_due_ns = t->last_fire_ns + LSCB_LAG_PERIOD_NS;
	}
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
			t = loop_task(prev, (__u32)prev->pid, now);
			if (t)
				switch_sleep((__u32)prev->pid, t, now);
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
		t->enter_ns = attach_ns;
	}
	if (t->in_poll) {
		switch_wake(t, now);
	} else if (t->sys_enter_ns) {
		switch_blocking((__u32)next->pid, t, now);
		t->sys_enter_ns = 0;
		t->sys_nr = -1;
	}
	return 0;
}
