/*
 * lsc_symbols.h — turning addresses into function, file and line.
 *
 * A module is one ELF file (executable or shared object): its .symtab (local symbols too: libuv's
 * uv__io_poll is one) or, when stripped, its .dynsym; its build-id; DWARF line tables via libdw
 * where present (in the file or in /usr/lib/debug/.build-id/); C++ names demangled. A symmap is
 * a flat table from a perf map (/tmp/perf-PID.map: JIT frames) or /proc/kallsyms.
 * Every table is built once and sorted; a lookup is a binary search, with no file access.
 *
 * A symbolizer is one process's view: its mappings (address range, file offset, path), the
 * modules behind them (opened once per path), a perf map and kallsyms. Strings handed out are
 * borrowed until the owner is freed.
 */
#ifndef LSC_SYMBOLS_H
#define LSC_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

enum lsc_frame_kind {
	LSC_FRAME_UNKNOWN = 0,
	LSC_FRAME_NATIVE = 1,
	LSC_FRAME_JIT = 2,
	LSC_FRAME_KERNEL = 3,
};

struct lsc_frame {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when no line info */
	unsigned line;
	const char *module; /* path of the module, or NULL */
	uint64_t module_offset;
	int kind;
};

struct lsc_module;
int lsc_module_open(const char *path, struct lsc_module **out);
void lsc_module_free(struct lsc_module *m);
const char *lsc_module_path(const struct lsc_module *m);
const uint8_t *lsc_module_build_id(const struct lsc_module *m, size_t *len);
size_t lsc_module_nsymbols(const struct lsc_module *m);
/* The module's own (ELF virtual) address of a file offset, through its PT_LOAD segments. */
int lsc_module_offset_to_vaddr(const struct lsc_module *m, uint64_t offset, uint64_t *vaddr);
/* 0 and *f filled when vaddr is inside a known function; LSC_ENODATA otherwise (f->module set). */
int lsc_module_lookup(struct lsc_module *m, uint64_t vaddr, struct lsc_frame *f);
/* The address of a function by its (mangled) name; LSC_ENODATA when absent. */
int lsc_module_find(const struct lsc_module *m, const char *name, uint64_t *vaddr);

struct lsc_symmap;
int lsc_symmap_load_perf(const char *path, struct lsc_symmap **out);
int lsc_symmap_load_kallsyms(const char *path, struct lsc_symmap **out);
void lsc_symmap_free(struct lsc_symmap *m);
const char *lsc_symmap_lookup(const struct lsc_symmap *m, uint64_t addr, uint64_t *offset);

struct lsc_symbolizer;
int lsc_symbolizer_new(struct lsc_symbolizer **out);
void lsc_symbolizer_free(struct lsc_symbolizer *s);
int lsc_symbolizer_add_mapping(struct lsc_symbolizer *s, uint64_t start, uint64_t end,
			       uint64_t offset, const char *path);
/* Reads /proc/PID/maps (file-backed executable mappings). */
int lsc_symbolizer_add_process(struct lsc_symbolizer *s, int pid);
int lsc_symbolizer_set_perf_map(struct lsc_symbolizer *s, const char *path);
int lsc_symbolizer_set_kallsyms(struct lsc_symbolizer *s, const char *path);
/* Fills *f for addr (a kernel address when kernel is set). Always fills what it can: an address
 * in no known function keeps its module and offset. Returns 0 when a function was found. */
int lsc_symbolizer_lookup(struct lsc_symbolizer *s, uint64_t addr, int kernel, struct lsc_frame *f);

/* ---- recordings (finalize.c) */
struct lsc_recording;
/* A symbolizer over a recording's own mappings; files whose build-id differs are left out. */
int lsc_symbolizer_from_recording(const struct lsc_recording *r, struct lsc_symbolizer **out);
/* Appends a Symbol record for every stack address the recording does not name yet. perf_map and
 * kallsyms may be NULL (kallsyms: /proc/kallsyms). *added: how many were written. */
int lsc_recording_symbolize(const char *path, const char *perf_map, const char *kallsyms,
			    size_t *added);

#endif
