/*
 * unwind.c — unwinding a user stack in user space, from the registers and the copy of the top of
 * the stack that loop.bpf.c took at a syscall, with elfutils' unwinder (libdwfl: the modules of
 * the target from /proc/PID/maps, their CFI from the files). For code built without frame
 * pointers (Debian's libc and libuv among it), where the kernel's frame-pointer walk goes astray.
 */
#include "lsc_unwind.h"

#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>

struct lsc_unwinder {
	Dwfl *dwfl;
	int pid;
	/* the stack being unwound */
	uint32_t tid;
	const uint64_t *regs;
	uint64_t sp;
	const uint8_t *stack;
	size_t len;
	uint64_t *frames;
	int n, max;
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
	struct lsc_unwinder *u = arg;

	if (*thread_arg)
		return 0;
	*thread_arg = u;
	return (pid_t)u->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
	*thread_arg = arg;
	return true;
}

/* Only the copied stack: what is beyond it has changed since. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct lsc_unwinder *u = arg;

	if (addr < u->sp || addr + sizeof(*result) > u->sp + u->len)
		return false;
	memcpy(result, u->stack + (addr - u->sp), sizeof(*result));
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct lsc_unwinder *u = arg;
	/* DWARF numbers: 3 rbx, 6 rbp, 7 rsp, 12-15 r12-r15 */
	Dwarf_Word rbx = u->regs[0], rbp_rsp[2] = {u->regs[1], u->regs[2]}, r12_15[4];

	memcpy(r12_15, u->regs + 3, sizeof(r12_15));
	return dwfl_thread_state_registers(thread, 3, 1, &rbx) &&
	       dwfl_thread_state_registers(thread, 6, 2, rbp_rsp) &&
	       dwfl_thread_state_registers(thread, 12, 4, r12_15) &&
	       (dwfl_thread_state_register_pc(thread, u->regs[7]), true);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

int lsc_unwinder_new(int pid, struct lsc_unwinder **out)
{
	struct lsc_unwinder *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return -1;
	u->pid = pid;
	u->dwfl = dwfl_begin(&callbacks);
	if (!u->dwfl || dwfl_linux_proc_report(u->dwfl, pid) ||
	    dwfl_report_end(u->dwfl, NULL, NULL) ||
	    !dwfl_attach_state(u->dwfl, NULL, pid, &thread_callbacks, u)) {
		lsc_unwinder_free(u);
		return -1;
	}
	*out = u;
	return 0;
}

void lsc_unwinder_free(struct lsc_unwinder *u)
{
	if (!u)
		return;
	if (u->dwfl)
		dwfl_end(u->dwfl);
	free(u);
}

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct lsc_unwinder *u = arg;
	Dwarf_Addr pc;
	bool activation;

	if (u->n >= u->max || !dwfl_frame_pc(state, &pc, &activation) || !pc)
		return DWARF_CB_ABORT;
	/* Frames past the first are return addresses, as the kernel's stacks give them. */
	u->frames[u->n++] = pc;
	return DWARF_CB_OK;
}

int lsc_unwind(struct lsc_unwinder *u, uint32_t tid, const uint64_t regs[8], const uint8_t *stack,
	       size_t len, uint64_t *frames, int max)
{
	u->tid = tid;
	u->regs = regs;
	u->sp = regs[2];
	u->stack = stack;
	u->len = len;
	u->frames = frames;
	u->n = 0;
	u->max = max;
	dwfl_getthread_frames(u->dwfl, (pid_t)tid, frame_cb, u);
	return u->n;
}
