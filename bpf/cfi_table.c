/*
 * cfi_table.c — the hybrid unwinder's table for `attach`: each executable mapping of the target
 * read once (its file's .eh_frame, else .debug_frame, through libdw's CFI interpreter; the vDSO
 * from this process's own copy), and every row of its unwind rules compacted into the few shapes
 * loop.bpf.c's stack walk follows in the kernel (CFA from rsp or rbp, or from a saved rsp; where
 * rbp was saved; an undefined return address: the thread's root).
 *
 * Why: Debian's libc and libuv, and OpenSSL's assembly inside node, keep no frame pointers, so a
 * frame-pointer walk loses frames there or follows garbage; node's own code and V8's JIT keep
 * them (and JIT code has no CFI at all). The walk asks this table at each frame: a rule where
 * there is one, frame pointers where there is none. A row whose rule is the frame pointers'
 * (CFA = rbp + 16, rbp at CFA - 16) is stored as LSCB_UW_FP, and equal rows are merged, so a
 * function that keeps frame pointers costs its prologue and epilogue rows only.
 */
#include "cfi_table.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define RA_REG 16 /* x86-64's return-address column */

static int push(struct lsc_cfi_table *t, const struct lscb_uw_row *r)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 65536;
		struct lscb_uw_row *m;

		if (cap > LSCB_UW_MAX_ROWS)
			return -ENOSPC;
		m = realloc(t->rows, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		t->rows = m;
		t->cap = cap;
	}
	t->rows[t->n++] = *r;
	return 0;
}

/* Appends the rule r from pc on, unless it is the rule already in force (from a row of this
 * module: first is the module's first row). */
static void emit(struct lsc_cfi_table *t, size_t first, uint64_t pc, struct lscb_uw_row r)
{
	r.pc = pc;
	if (t->n > first) {
		struct lscb_uw_row *p = &t->rows[t->n - 1];

		if (p->pc == pc) { /* the gap after an FDE is where the next one begins */
			*p = r;
			return;
		}
		if (p->cfa_off == r.cfa_off && p->rbp_off == r.rbp_off && p->kind == r.kind &&
		    p->reg == r.reg)
			return;
	}
	push(t, &r);
}

static struct lscb_uw_row rule(int kind, int rbp)
{
	struct lscb_uw_row r = {0};

	r.kind = (uint8_t)(kind | rbp << 4);
	return r;
}

/* CFA + k, as libdw spells a register's offset rule; 0 and *k, or -1. */
static int cfa_plus(const Dwarf_Op *ops, size_t nops, int64_t *k)
{
	if (nops < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return -1;
	if (nops == 1)
		*k = 0;
	else if (nops == 2 && ops[1].atom == DW_OP_plus_uconst)
		*k = (int64_t)ops[1].number;
	else if (nops == 3 && (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu) &&
		 ops[2].atom == DW_OP_plus)
		*k = (int64_t)ops[1].number;
	else
		return -1;
	return 0;
}

/* A register plus an offset (DW_OP_bregN or DW_OP_bregx); the register, or -1. */
static int breg(const Dwarf_Op *op, int64_t *off)
{
	if (op->atom >= DW_OP_breg0 && op->atom <= DW_OP_breg31) {
		*off = (int64_t)op->number;
		return op->atom - DW_OP_breg0;
	}
	if (op->atom == DW_OP_bregx) {
		*off = (int64_t)op->number2;
		return (int)op->number;
	}
	return -1;
}

/* The register of a DW_CFA_expression rule that is a register plus an offset (libdw spells it
 * with the CFA pushed first, as DWARF evaluates it), or -1. */
static int expr_breg(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa)
		return breg(&ops[1], off);
	return nops == 1 ? breg(&ops[0], off) : -1;
}

/* A register saved at rsp + off (DW_CFA_expression: DW_OP_breg7 off); 0 and *off, or -1. */
static int at_rsp(Dwarf_Frame *fr, int reg, int64_t *off)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;

	if (dwarf_frame_register(fr, reg, mem, &ops, &nops) || expr_breg(ops, nops, off) != 7)
		return -1;
	return 0;
}

/* A signal frame (libc's __restore_rt): the interrupted thread's registers are in the
 * ucontext on the stack; the walk follows the kernel's layout of it, as the CFI spells it. */
static struct lscb_uw_row signal_rule(Dwarf_Frame *fr)
{
	struct lscb_uw_row r = rule(LSCB_UW_STOP, 0);
	int64_t sp, ip, bp;

	if (at_rsp(fr, 7, &sp) || at_rsp(fr, RA_REG, &ip) || at_rsp(fr, 6, &bp) || ip != sp + 8 ||
	    sp != (int32_t)sp || bp != (int16_t)bp)
		return r;
	r = rule(LSCB_UW_SIGNAL, 0);
	r.cfa_off = (int32_t)sp;
	r.rbp_off = (int16_t)bp;
	return r;
}

/* The row of one frame state. */
static struct lscb_uw_row rule_of(Dwarf_Frame *fr)
{
	struct lscb_uw_row r = rule(LSCB_UW_STOP, 0);
	Dwarf_Op mem[3], *ops;
	Dwarf_Addr s, e;
	int64_t off, k, add = 0;
	size_t nops;
	bool signal;
	int reg, kind = LSCB_UW_CFA, rbp = LSCB_UW_RBP_LOST;

	if (dwarf_frame_info(fr, &s, &e, &signal) != RA_REG)
		return r;
	if (signal)
		return signal_rule(fr);
	/* the return address: at CFA - 8, or undefined where a thread begins */
	if (dwarf_frame_register(fr, RA_REG, mem, &ops, &nops))
		return r;
	if (nops == 0)
		return ops == mem ? rule(LSCB_UW_ROOT, 0) : r;
	if (cfa_plus(ops, nops, &k) || k != -8)
		return r;
	/* the CFA: a register plus an offset, or the value saved there plus add (OpenSSL keeps
	 * the caller's rsp in its frame); a PLT stub's expression taken as its usual rsp + 8 */
	if (dwarf_frame_cfa(fr, &ops, &nops) || nops < 1 || (reg = breg(&ops[0], &off)) < 0)
		return r;
	if (nops == 1) {
		kind = LSCB_UW_CFA;
	} else if ((nops == 2 || nops == 3) && ops[1].atom == DW_OP_deref &&
		   (nops == 2 || ops[2].atom == DW_OP_plus_uconst)) {
		kind = LSCB_UW_DEREF;
		add = nops == 3 ? (int64_t)ops[2].number : 0;
		if (add < 0 || add > 120 || add % 8)
			return r;
	} else if (nops > 2 && reg == 7 && breg(&ops[1], &k) == 16) {
		kind = LSCB_UW_CFA;
	} else {
		return r;
	}
	if (reg > 15 || off != (int32_t)off)
		return r;
	/* rbp: kept unless saved (the ABI has callees keep it) */
	if (dwarf_frame_register(fr, 6, mem, &ops, &nops))
		return r;
	if (nops == 0) {
		rbp = LSCB_UW_RBP_SAME;
		k = 0;
	} else if (cfa_plus(ops, nops, &k) == 0) {
		rbp = LSCB_UW_RBP_CFA;
	} else if (expr_breg(ops, nops, &k) == 6) {
		rbp = LSCB_UW_RBP_RBP;
	} else {
		k = 0;
	}
	if (k != (int16_t)k)
		rbp = LSCB_UW_RBP_LOST;
	if (kind == LSCB_UW_CFA && reg == 6 && off == 16 && rbp == LSCB_UW_RBP_CFA && k == -16)
		return rule(LSCB_UW_FP, 0);
	r = rule(kind, rbp);
	r.cfa_off = (int32_t)off;
	r.rbp_off = rbp == LSCB_UW_RBP_LOST ? 0 : (int16_t)k;
	r.reg = (uint8_t)(reg | (add / 8) << 4);
	return r;
}

/* The rows of the FDEs that begin at starts (sorted ELF addresses), those that fall in
 * [lo, hi) once biased; an FP row after each FDE that the next does not follow at once. */
static void add_fdes(struct lsc_cfi_table *t, Dwarf_CFI *cfi, const uint64_t *starts, size_t n,
		     uint64_t bias, uint64_t lo, uint64_t hi)
{
	size_t first = t->n, i;

	for (i = 0; i < n; i++) {
		uint64_t a = starts[i], next = i + 1 < n ? starts[i + 1] : UINT64_MAX;

		if (a + bias < lo || a + bias >= hi || a == next)
			continue;
		while (a < next) {
			Dwarf_Frame *fr = NULL;
			Dwarf_Addr s, e;
			bool sig;

			if (dwarf_cfi_addrframe(cfi, a, &fr) || !fr)
				break;
			if (dwarf_frame_info(fr, &s, &e, &sig) < 0 || e <= a) {
				free(fr);
				break;
			}
			emit(t, first, a + bias, rule_of(fr));
			free(fr);
			a = e;
		}
		if (a < next && a + bias < hi)
			emit(t, first, a + bias, rule(LSCB_UW_FP, 0));
	}
	emit(t, first, hi, rule(LSCB_UW_FP, 0)); /* past the mapping: JIT code, say */
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static Elf_Scn *section(Elf *e, const char *want, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;

		if (gelf_getshdr(scn, sh) && (name = elf_strptr(e, shstrndx, sh->sh_name)) &&
		    !strcmp(name, want))
			return scn;
	}
	return NULL;
}

/* The FDEs' first addresses from .eh_frame_hdr's search table (as binutils and lld write it:
 * datarel sdata4 pairs); how many, or 0. */
static size_t hdr_starts(Elf *e, uint64_t **out)
{
	GElf_Shdr sh;
	Elf_Scn *scn = section(e, ".eh_frame_hdr", &sh);
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	const uint8_t *b = d ? d->d_buf : NULL;
	uint32_t count;
	size_t i, p = 4;

	*out = NULL;
	if (!b || d->d_size < 12 || b[0] != 1 || b[3] != 0x3b)
		return 0;
	p += (b[1] & 7) == 4 || b[1] == 0 ? 8 : 4; /* the pointer to .eh_frame, skipped */
	if ((b[2] & 0x0f) != 0x03 && (b[2] & 0x0f) != 0x0b)
		return 0;
	memcpy(&count, b + p, 4);
	p += 4;
	if (!count || p + (size_t)count * 8 > d->d_size || !(*out = malloc(count * 8ULL)))
		return 0;
	for (i = 0; i < count; i++) {
		int32_t loc;

		memcpy(&loc, b + p + i * 8, 4);
		(*out)[i] = sh.sh_addr + (uint64_t)(int64_t)loc;
	}
	return count;
}

/* The FDEs' first addresses in a .debug_frame (absolute addresses); how many, or 0. */
static size_t debug_frame_starts(Elf *e, uint64_t **out)
{
	GElf_Shdr sh;
	Elf_Scn *scn = section(e, ".debug_frame", &sh);
	Elf_Data *d = scn && sh.sh_type == SHT_PROGBITS ? elf_getdata(scn, NULL) : NULL;
	const unsigned char *ident = (const unsigned char *)elf_getident(e, NULL);
	Dwarf_Off off = 0, next;
	Dwarf_CFI_Entry en;
	size_t n = 0, cap = 0;

	*out = NULL;
	while (d && ident && dwarf_next_cfi(ident, d, false, off, &next, &en) == 0) {
		off = next;
		if (dwarf_cfi_cie_p(&en) || en.fde.end - en.fde.start < 8)
			continue;
		if (n == cap) {
			uint64_t *m = realloc(*out, (cap = cap ? cap * 2 : 1024) * 8);

			if (!m)
				break;
			*out = m;
		}
		memcpy(&(*out)[n++], en.fde.start, 8);
	}
	if (n)
		qsort(*out, n, 8, cmp_u64);
	return n;
}

/* The rows of one module (an ELF file or image) mapped at [lo, hi) from file offset off. */
static void add_elf(struct lsc_cfi_table *t, Elf *e, uint64_t lo, uint64_t hi, uint64_t off)
{
	GElf_Ehdr eh;
	size_t nph, i, n = 0;
	uint64_t bias = 0, *starts = NULL;
	Dwarf_CFI *cfi = NULL;
	Dwarf *dw = NULL;
	int found = 0;

	if (!gelf_getehdr(e, &eh) || eh.e_machine != EM_X86_64 || elf_getphdrnum(e, &nph))
		return;
	for (i = 0; i < nph && !found; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    off >= (ph.p_offset & ~4095ULL) && off < ph.p_offset + ph.p_filesz) {
			bias = lo + ph.p_offset - off - ph.p_vaddr;
			found = 1;
		}
	}
	if (!found)
		return;
	t->modules++;
	n = hdr_starts(e, &starts);
	if (n)
		cfi = dwarf_getcfi_elf(e);
	if (!cfi) { /* no .eh_frame: the file's .debug_frame */
		free(starts);
		n = debug_frame_starts(e, &starts);
		dw = n ? dwarf_begin_elf(e, DWARF_C_READ, NULL) : NULL;
		cfi = dw ? dwarf_getcfi(dw) : NULL;
	}
	if (cfi && n) {
		add_fdes(t, cfi, starts, n, bias, lo, hi);
		if (t->nobjs < LSCB_UW_MAX_OBJS)
			t->objs[t->nobjs++] = (struct lscb_uw_obj){lo, hi, 0, 0};
	} else {
		t->modules_without_cfi++;
	}
	if (dw)
		dwarf_end(dw);
	else if (cfi)
		dwarf_cfi_end(cfi);
	free(starts);
}

/* The vDSO is the same image in every process of this machine: ours, read from memory. */
static void add_vdso(struct lsc_cfi_table *t, uint64_t lo, uint64_t hi)
{
	unsigned long at = getauxval(AT_SYSINFO_EHDR);
	char line[512];
	unsigned long long s, e;
	char *copy = NULL;
	FILE *f;
	Elf *elf;

	if (!at || !(f = fopen("/proc/self/maps", "re")))
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[vdso]") && sscanf(line, "%llx-%llx", &s, &e) == 2 && s == at &&
		    e - s == hi - lo && (copy = malloc(e - s)))
			memcpy(copy, (const void *)at, e - s);
	fclose(f);
	if (!copy)
		return;
	elf = elf_memory(copy, hi - lo);
	if (elf) {
		add_elf(t, elf, lo, hi, 0);
		elf_end(elf);
	}
	free(copy);
}

static int cmp_row(const void *a, const void *b)
{
	const struct lscb_uw_row *x = a, *y = b;

	return (x->pc > y->pc) - (x->pc < y->pc);
}

static int cmp_obj(const void *a, const void *b)
{
	const struct lscb_uw_obj *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* How many rows begin at or before pc. */
static size_t upper_bound(const struct lsc_cfi_table *t, uint64_t pc)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The index: each module's pages (4 KiB) with how many rows begin by their start. */
static int index_pages(struct lsc_cfi_table *t)
{
	size_t total = 0, at = 0, k;
	uint32_t i;

	qsort(t->objs, t->nobjs, sizeof(*t->objs), cmp_obj);
	for (i = 0; i < t->nobjs; i++)
		total += ((t->objs[i].hi - t->objs[i].lo) >> LSCB_UW_PAGE_SHIFT) + 2;
	t->pages = malloc(total * sizeof(*t->pages));
	if (!t->pages)
		return -ENOMEM;
	for (i = 0; i < t->nobjs; i++) {
		struct lscb_uw_obj *o = &t->objs[i];
		uint64_t span = o->hi - o->lo;

		o->page0 = (uint32_t)at;
		o->npages =
			(uint32_t)((span + (1u << LSCB_UW_PAGE_SHIFT) - 1) >> LSCB_UW_PAGE_SHIFT);
		for (k = 0; k <= o->npages; k++) {
			uint64_t a = o->lo + ((uint64_t)k << LSCB_UW_PAGE_SHIFT);

			t->pages[at++] = upper_bound(t, a < o->hi ? a : o->hi);
		}
	}
	t->npages = at;
	return 0;
}

int lsc__cfi_table_build(int pid, struct lsc_cfi_table *t)
{
	char path[64], line[4608], file[4096], perms[8];
	unsigned long long lo, hi, off;
	size_t i, w;
	FILE *f;

	memset(t, 0, sizeof(*t));
	elf_version(EV_CURRENT);
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		int fd;
		Elf *e;

		file[0] = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &lo, &hi, perms, &off,
			   file) < 5 ||
		    perms[2] != 'x')
			continue;
		if (!strcmp(file, "[vdso]")) {
			add_vdso(t, lo, hi);
			continue;
		}
		/* the mapped file itself, even replaced or deleted since */
		snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, lo, hi);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && file[0] == '/')
			fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		if (e && elf_kind(e) == ELF_K_ELF)
			add_elf(t, e, lo, hi, off);
		if (e)
			elf_end(e);
		close(fd);
	}
	fclose(f);
	qsort(t->rows, t->n, sizeof(*t->rows), cmp_row);
	/* one row per address: a module's end marker gives way to a module that begins there */
	for (i = 0, w = 0; i < t->n; i++) {
		if (w && t->rows[w - 1].pc == t->rows[i].pc &&
		    LSCB_UW_KIND(&t->rows[w - 1]) == LSCB_UW_FP) {
			t->rows[w - 1] = t->rows[i];
			continue;
		}
		if (w && t->rows[w - 1].pc == t->rows[i].pc)
			continue;
		t->rows[w++] = t->rows[i];
	}
	t->n = w;
	return index_pages(t);
}

void lsc__cfi_table_release(struct lsc_cfi_table *t)
{
	free(t->rows);
	free(t->pages);
	memset(t, 0, sizeof(*t));
}

const struct lscb_uw_row *lsc__cfi_table_find(const struct lsc_cfi_table *t, uint64_t pc)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->rows[lo - 1] : NULL;
}

int lsc__cfi_table_rooted(const struct lsc_cfi_table *t, const uint64_t *frames, uint32_t n)
{
	const struct lscb_uw_row *r;

	if (!n)
		return 0;
	r = lsc__cfi_table_find(t, n == 1 ? frames[0] : frames[n - 1] - 1);
	return r && LSCB_UW_KIND(r) == LSCB_UW_ROOT;
}
