/*
 * cfi_table.h — the hybrid unwinder's table of a target's code (cfi_table.c builds it from the
 * modules' CFI; loop.bpf.c's stack walk reads it from a map): for each address range of code that
 * does not keep frame pointers, the rule that finds its caller's frame, sorted by address.
 */
#ifndef LSC_BPF_CFI_TABLE_H
#define LSC_BPF_CFI_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "loop.h"

struct lsc_cfi_table {
	struct lscb_uw_row *rows; /* sorted by pc; a row holds up to the next one */
	size_t n, cap;
	uint32_t modules, modules_without_cfi; /* executable file mappings read, and without CFI */
	/* the index (loop.h): modules with rows, sorted, and rows begun by each page's start */
	struct lscb_uw_obj objs[LSCB_UW_MAX_OBJS];
	uint32_t nobjs;
	uint64_t *pages;
	size_t npages;
};

/* The rows of every executable mapping of PID now (its files' .eh_frame, or .debug_frame, and
 * the vDSO's). 0, or -errno when /proc/PID/maps cannot be read; a module without CFI adds none. */
int lsc__cfi_table_build(int pid, struct lsc_cfi_table *t);
void lsc__cfi_table_release(struct lsc_cfi_table *t);
/* The row in force at pc, or NULL: frame pointers. */
const struct lscb_uw_row *lsc__cfi_table_find(const struct lsc_cfi_table *t, uint64_t pc);
/* Whether a stack (leaf first, return addresses after the first) ends at its thread's root: the
 * outermost frame's rule says the return address is undefined (_start, clone, clone3). */
int lsc__cfi_table_rooted(const struct lsc_cfi_table *t, const uint64_t *frames, uint32_t n);

#endif
