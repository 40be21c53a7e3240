/*
 * v8_internal.h — what v8_meta.c (the metadata, the target's code ranges, memory reads) and
 * v8_names.c (functions resolved and cached) share.
 */
#ifndef LSC_BPF_V8_INTERNAL_H
#define LSC_BPF_V8_INTERNAL_H

#include "v8.h"

#define V8_JIT_RANGES 256
#define V8_FN_SLOTS   4096 /* the SFI address cache (open addressing, power of two) */

struct v8_range {
	uint64_t lo, hi;
	int kind; /* what lsc_v8_is_js_ip answers: 1 JIT code, 2 builtins */
};

/* The cache's key table is small and written at random places; the functions themselves (800
 * bytes each) go to a store filled in order, so that the pages touched are the ones used, each
 * written before it is read: a page read first, in lazily mapped memory, maps the shared zero
 * page, and the write after it copies the page and interrupts every CPU the process runs on (a
 * TLB shootdown), which in the agent's writer slowed Node's start by a few per cent. */
struct v8_fn_slot {
	uint64_t sfi; /* tagged; 0: free */
	uint64_t print;
	uint32_t at; /* the function's place in the store */
	uint8_t ok;
	uint8_t retry; /* its line unknown for now: its script's lines were not read yet */
};

struct v8_script; /* v8_names.c: line ends per Script address */

struct lsc_v8 {
	int pid;
	struct lsc_v8_layout L;
	uint64_t builtins_lo, builtins_hi;	   /* the embedded builtins, in the target */
	uint64_t builtins_off_lo, builtins_off_hi; /* the same in the binary's file */
	char exe[4096];				   /* /proc/PID/exe's target */
	struct v8_range jit[V8_JIT_RANGES];	   /* anonymous executable mappings */
	int njit;
	uint64_t jit_read_ns;
	struct v8_fn_slot *fns;	    /* [V8_FN_SLOTS], every page written once at the start */
	struct lsc_v8_fn *fn_store; /* [V8_FN_SLOTS * 3 / 4], filled from the start */
	uint32_t nfns;
	struct v8_script *scripts;
	uint32_t nscripts;
};

/* v8_meta.c: /proc/PID/maps read again (JIT code appears as V8 grows its code space). */
void lsc__v8_read_maps(struct lsc_v8 *v);
/* v8_names.c */
void lsc__v8_names_free(struct lsc_v8 *v);

#endif
