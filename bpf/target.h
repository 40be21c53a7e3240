/*
 * target.h — what attach.c learns about the target process before and while probing it: its
 * /proc files, whether it can be attached to, and its executable's ELF (target.c).
 */
#ifndef LSC_BPF_TARGET_H
#define LSC_BPF_TARGET_H

#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

struct want {
	const char *name; /* exact; or, when sub, a function whose mangled name has both name and */
	int sub;	  /* the class below in it (V8's mangled names carry lengths that change) */
	uint64_t vaddr;
	int found;
	const char *cls;
};

/* A small /proc file into buf (NUL-terminated); its length or -errno. */
int lsc__read_small(const char *path, char *buf, size_t cap);
uint64_t lsc__proc_rss(int pid);
/* The kernel's high-water mark of its RSS (VmHWM): the peak between two window ends too. */
uint64_t lsc__proc_rss_peak(int pid);
uint32_t lsc__proc_fds(int pid, uint32_t *limit);
/* Still running (a zombie is not). */
int lsc__target_alive(int pid);
/* Why PID cannot be attached to, as one line in err (-errno), or 0. */
int lsc__target_problem(int pid, char *err, size_t errlen);
/* One pass over .symtab and .dynsym filling w; the ELF kept open in *keep (keep NULL: closed).
 * 0 or -errno. */
int lsc__elf_find(const char *path, struct want *w, size_t nw, int *is_dyn, uint64_t *base_vaddr,
		  Elf **keep);
int lsc__vaddr_to_offset(Elf *e, uint64_t v, uint64_t *off);
size_t lsc__build_id(const char *path, uint8_t *out, size_t cap);
/* The executable's load address minus its ELF addresses (PIE), from /proc/PID/maps. */
uint64_t lsc__load_bias(int pid, const char *exe, int is_dyn, uint64_t base_vaddr);

/* Whether the ELF file at path has libuv's uv_run (statically linked: Node, refloop). */
int lsc__exe_has_libuv(const char *path);
/* Whether PID maps a shared libuv. */
int lsc__maps_libuv(int pid);
/* 0 when PID runs libuv (its symbols in the executable, uv_symbols, or a libuv.so mapped);
 * otherwise LSC_ENOLOOP with one line in err naming the process, its children and --anyway. */
int lsc__target_no_loop(int pid, int uv_symbols, char *err, size_t errlen);

/* -EPERM with one line in err when this process cannot load eBPF programs; 0 otherwise. */
int lsc__no_privileges(char *err, size_t errlen);

#endif
