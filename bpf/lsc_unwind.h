/*
 * lsc_unwind.h — unwinding a target's user stack in user space from registers and a stack copy
 * (unwind.c, elfutils' libdwfl).
 */
#ifndef LSC_UNWIND_H
#define LSC_UNWIND_H

#include <stddef.h>
#include <stdint.h>

struct lsc_unwinder;

/* For the process pid (its modules read from /proc/pid/maps now); 0 or -1. */
int lsc_unwinder_new(int pid, struct lsc_unwinder **out);
void lsc_unwinder_free(struct lsc_unwinder *u);
/* regs: rbx, rbp, rsp, r12, r13, r14, r15, rip; stack: len bytes copied from rsp. Fills frames
 * (leaf first, return addresses after the first) and returns how many. */
int lsc_unwind(struct lsc_unwinder *u, uint32_t tid, const uint64_t regs[8], const uint8_t *stack,
	       size_t len, uint64_t *frames, int max);

#endif
