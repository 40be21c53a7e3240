/*
 * v8_meta.c — V8's post-mortem metadata of a running node (the `v8dbg_*` symbols, read from its
 * memory), the range of its embedded builtins, its JIT code ranges from /proc/PID/maps, and
 * reads of its memory. What the layouts mean: v8.h.
 */
#include "v8_internal.h"

#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "v8_symbols.h" /* lsc_v8_meta[]: the symbols and the layout field each fills */

int lsc_v8_read(struct lsc_v8 *v, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};

	if (!addr || len == 0)
		return -1;
	return process_vm_readv(v->pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* One pass over the symbol tables: the metadata's addresses, and the builtins' extent. */
static void scan(Elf *elf, uint64_t *addr, uint64_t *blo, uint64_t *bhi)
{
	Elf_Scn *scn = NULL;

	*blo = UINT64_MAX;
	*bhi = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i, k;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(d, (int)i, &s) || !s.st_value || s.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, sh.sh_link, s.st_name);
			if (!name || (name[0] != 'v' && name[0] != 'B'))
				continue;
			if (!strncmp(name, "Builtins_", 9)) {
				if (s.st_value < *blo)
					*blo = s.st_value;
				if (s.st_value + s.st_size > *bhi)
					*bhi = s.st_value + s.st_size;
				continue;
			}
			if (strncmp(name, "v8dbg_", 6))
				continue;
			for (k = 0; k < LSC_V8_NMETA; k++)
				if (!strcmp(name + 6, lsc_v8_meta[k].sym)) {
					addr[k] = s.st_value;
					break;
				}
		}
	}
}

/* Where [lo, hi) of the binary's addresses is in its file (the PT_LOAD holding lo). */
static void file_range(Elf *elf, uint64_t lo, uint64_t hi, uint64_t *flo, uint64_t *fhi)
{
	size_t i, nph;

	*flo = *fhi = 0;
	if (elf_getphdrnum(elf, &nph))
		return;
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && lo >= ph.p_vaddr &&
		    lo < ph.p_vaddr + ph.p_filesz) {
			*flo = lo - ph.p_vaddr + ph.p_offset;
			*fhi = hi - ph.p_vaddr + ph.p_offset;
			return;
		}
	}
}

struct lsc_v8 *lsc_v8_open(int pid, Elf *elf, uint64_t bias, char *why, size_t whylen)
{
	uint64_t addr[LSC_V8_NMETA] = {0}, blo, bhi;
	struct lsc_v8 *v;
	size_t k, off = 0;
	char path[64];
	const char *hide;
	ssize_t n;

	why[0] = 0;
	if (!elf) {
		snprintf(why, whylen, "its symbols cannot be read");
		return NULL;
	}
	scan(elf, addr, &blo, &bhi);
	/* Tests simulate another V8 (a symbol this one lacks) by naming one to leave out. */
	hide = getenv("LOOPSCOPE_TEST_V8_HIDE");
	for (k = 0; hide && k < LSC_V8_NMETA; k++)
		if (!strcmp(hide, lsc_v8_meta[k].sym))
			addr[k] = 0;
	for (k = 0; k < LSC_V8_NMETA; k++)
		if (!addr[k] && off < whylen)
			off += (size_t)snprintf(why + off, whylen - off, "%sv8dbg_%s",
						off ? ", " : "no V8 metadata symbol ",
						lsc_v8_meta[k].sym);
	if (off)
		return NULL;
	if (!bhi) {
		snprintf(why, whylen, "no Builtins_* symbols (the embedded builtins)");
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	v->pid = pid;
	for (k = 0; k < LSC_V8_NMETA; k++) {
		int32_t val;

		if (lsc_v8_read(v, bias + addr[k], &val, sizeof(val))) {
			snprintf(why, whylen, "cannot read v8dbg_%s in its memory: %s",
				 lsc_v8_meta[k].sym, strerror(errno));
			free(v);
			return NULL;
		}
		memcpy((char *)&v->L + lsc_v8_meta[k].off, &val, sizeof(val));
	}
	/* Node 20 on x86-64: full 8-byte tagged values, Smis in the upper half. Another build
	 * (pointer compression) is not read rather than read wrongly. */
	if (v->L.tag != 1 || v->L.tag_mask != 3 || v->L.smi_shift != 31) {
		snprintf(
			why, whylen,
			"V8 tags values in a way this reader does not know (HeapObjectTag %u, mask "
			"%u, SmiShiftSize %u: pointer compression?)",
			v->L.tag, v->L.tag_mask, v->L.smi_shift);
		free(v);
		return NULL;
	}
	v->L.smi_shift = 32;
	v->builtins_lo = bias + blo;
	v->builtins_hi = bias + bhi;
	file_range(elf, blo, bhi, &v->builtins_off_lo, &v->builtins_off_hi);
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, v->exe, sizeof(v->exe) - 1);
	v->exe[n > 0 ? n : 0] = 0;
	lsc__v8_read_maps(v);
	return v;
}

void lsc_v8_close(struct lsc_v8 *v)
{
	if (!v)
		return;
	lsc__v8_names_free(v);
	free(v);
}

const struct lsc_v8_layout *lsc_v8_layout(const struct lsc_v8 *v)
{
	return &v->L;
}

void lsc__v8_read_maps(struct lsc_v8 *v)
{
	char path[64], line[512];
	struct timespec ts;
	FILE *f;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	v->jit_read_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	snprintf(path, sizeof(path), "/proc/%d/maps", v->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	v->njit = 0;
	while (fgets(line, sizeof(line), f) && v->njit < V8_JIT_RANGES) {
		unsigned long long lo, hi, ino;
		char perms[8];
		int n = 0;

		if (sscanf(line, "%llx-%llx %7s %*s %*s %llu%n", &lo, &hi, perms, &ino, &n) < 4)
			continue;
		unsigned long long off = 0;
		size_t plen;

		while (line[n] == ' ')
			n++;
		plen = strcspn(line + n, "\n");
		if (perms[2] != 'x')
			continue;
		/* V8 copies the embedded builtins next to its code (short builtin calls): a
		 * mapping of the binary's file at their offsets, elsewhere than the binary */
		if (ino && plen == strlen(v->exe) && !strncmp(line + n, v->exe, plen) &&
		    sscanf(line, "%*x-%*x %*s %llx", &off) == 1 && v->builtins_off_hi &&
		    off < v->builtins_off_hi && off + (hi - lo) > v->builtins_off_lo) {
			uint64_t a = off < v->builtins_off_lo ? lo + v->builtins_off_lo - off : lo;
			uint64_t b = off + (hi - lo) > v->builtins_off_hi
					     ? lo + v->builtins_off_hi - off
					     : hi;

			v->jit[v->njit].lo = a;
			v->jit[v->njit].hi = b;
			v->jit[v->njit].kind = 2;
			v->njit++;
			continue;
		}
		/* anonymous (no inode, no path): JIT code */
		if (ino || plen)
			continue;
		v->jit[v->njit].lo = lo;
		v->jit[v->njit].hi = hi;
		v->jit[v->njit].kind = 1;
		v->njit++;
	}
	fclose(f);
}

int lsc_v8_is_js_ip(struct lsc_v8 *v, uint64_t ip)
{
	struct timespec ts;
	uint64_t now;
	int i, again = 0;

	if (ip >= v->builtins_lo && ip < v->builtins_hi)
		return 2;
	for (;;) {
		for (i = 0; i < v->njit; i++)
			if (ip >= v->jit[i].lo && ip < v->jit[i].hi)
				return v->jit[i].kind;
		if (again)
			return 0;
		/* Not in a range known: V8 may have mapped more code since; read the maps again,
		 * at most every 100 ms. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		if (now - v->jit_read_ns < 100000000ULL)
			return 0;
		lsc__v8_read_maps(v);
		again = 1;
	}
}
