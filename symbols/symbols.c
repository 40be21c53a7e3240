/*
 * symbols.c — ELF modules, perf maps, kallsyms, and the per-process symbolizer (lsc_symbols.h).
 *
 * Symbol tables are read once with libelf into one sorted array per module; names point into
 * libelf's mapped string tables, which live as long as the module. DWARF line lookups go through
 * libdw, whose per-CU tables are also built once and kept. C++ names are demangled on first
 * lookup and cached on the symbol (with libstdc++'s __cxa_demangle, the demangler g++ ships).
 */
#include "lsc_symbols.h"
#include "lsc_error.h"

#include <ctype.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

struct sym {
	uint64_t start;
	uint64_t size;
	const char *name;
	char *demangled; /* lazily; owned */
	int rank;	 /* for one address, the lowest rank's name is kept */
};

struct segment {
	uint64_t vaddr, offset, filesz;
};

struct lsc_module {
	char *path;
	int fd;
	Elf *elf;
	int debug_fd;
	Elf *debug_elf;
	Dwarf *dwarf;
	struct sym *syms;
	size_t nsyms;
	struct segment seg[16];
	int nseg;
	uint8_t build_id[64];
	size_t build_id_len;
};

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* Prefer global names for one address (they are what people call), exported ones first. */
	return (x->rank > y->rank) - (x->rank < y->rank);
}

/* The functions of one symbol table; rank0 ranks its names among the module's tables. */
static int read_symbols(struct lsc_module *m, Elf *elf, int want_type, int rank0)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t cap = m->nsyms;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != (Elf64_Word)want_type ||
		    !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(data, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    s.st_shndx == SHN_UNDEF || s.st_value == 0)
				continue;
			name = elf_strptr(elf, sh.sh_link, s.st_name);
			if (!name || !*name)
				continue;
			if (m->nsyms == cap) {
				struct sym *ns;

				cap = cap ? cap * 2 : 1024;
				ns = realloc(m->syms, cap * sizeof(*ns));
				if (!ns)
					return -ENOMEM;
				m->syms = ns;
			}
			m->syms[m->nsyms++] = (struct sym){
				s.st_value, s.st_size, name, NULL,
				rank0 + (GELF_ST_BIND(s.st_info) != STB_GLOBAL ||
					 GELF_ST_VISIBILITY(s.st_other) != STV_DEFAULT)};
		}
	}
	return 0;
}

static void read_build_id(struct lsc_module *m)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(m->elf, scn))) {
		Elf_Data *data;
		GElf_Nhdr nh;
		size_t off = 0, noff, doff;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		while (data && (off = gelf_getnote(data, off, &nh, &noff, &doff)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    memcmp((char *)data->d_buf + noff, "GNU", 4) == 0 &&
			    nh.n_descsz <= sizeof(m->build_id)) {
				memcpy(m->build_id, (char *)data->d_buf + doff, nh.n_descsz);
				m->build_id_len = nh.n_descsz;
				return;
			}
		}
	}
}

static void open_dwarf(struct lsc_module *m)
{
	char path[512];
	size_t i, n;

	m->dwarf = dwarf_begin_elf(m->elf, DWARF_C_READ, NULL);
	if (m->dwarf || !m->build_id_len)
		return;
	/* Debian's -dbgsym packages put the DWARF in /usr/lib/debug/.build-id/xx/yyyy.debug. */
	n = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", m->build_id[0]);
	for (i = 1; i < m->build_id_len && n + 3 < sizeof(path); i++)
		n += snprintf(path + n, sizeof(path) - n, "%02x", m->build_id[i]);
	snprintf(path + n, sizeof(path) - n, ".debug");
	m->debug_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m->debug_fd < 0)
		return;
	m->debug_elf = elf_begin(m->debug_fd, ELF_C_READ_MMAP, NULL);
	if (m->debug_elf)
		m->dwarf = dwarf_begin_elf(m->debug_elf, DWARF_C_READ, NULL);
}

int lsc_module_open(const char *path, struct lsc_module **out)
{
	struct lsc_module *m;
	struct stat st;
	size_t i, nph, w;
	int err = 0;

	*out = NULL;
	elf_version(EV_CURRENT);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->debug_fd = -1;
	m->path = strdup(path);
	/* Paths come from recordings, which anyone can write: a FIFO would block the open, a
	 * device would be mapped. Only a regular file can be a module. */
	m->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (m->fd < 0) {
		err = -errno;
		goto out;
	}
	if (fstat(m->fd, &st) || !S_ISREG(st.st_mode)) {
		err = LSC_ENOELF;
		goto out;
	}
	m->elf = elf_begin(m->fd, ELF_C_READ_MMAP, NULL);
	if (!m->elf || elf_kind(m->elf) != ELF_K_ELF) {
		err = LSC_ENOELF;
		goto out;
	}
	if (elf_getphdrnum(m->elf, &nph) == 0)
		for (i = 0; i < nph && m->nseg < 16; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(m->elf, (int)i, &ph) && ph.p_type == PT_LOAD)
				m->seg[m->nseg++] =
					(struct segment){ph.p_vaddr, ph.p_offset, ph.p_filesz};
		}
	read_build_id(m);
	open_dwarf(m);
	err = read_symbols(m, m->elf, SHT_SYMTAB, 0);
	/* A stripped library: its exported names, and its local functions (libc's start_thread,
	 * clone3) from its debug file's symbol table (Debian's libc6-dbg) when installed, their
	 * exported names kept where both name one address. */
	if (!err && m->nsyms == 0) {
		err = read_symbols(m, m->elf, SHT_DYNSYM, 0);
		if (!err && m->debug_elf)
			err = read_symbols(m, m->debug_elf, SHT_SYMTAB, 2);
	}
	if (err)
		goto out;
	if (m->nsyms)
		qsort(m->syms, m->nsyms, sizeof(*m->syms), sym_cmp);
	/* One entry per address; a symbol without a size reaches to the next one. */
	for (i = 0, w = 0; i < m->nsyms; i++)
		if (w == 0 || m->syms[i].start != m->syms[w - 1].start)
			m->syms[w++] = m->syms[i];
	m->nsyms = w;
	for (i = 0; i + 1 < m->nsyms; i++)
		if (m->syms[i].size == 0)
			m->syms[i].size = m->syms[i + 1].start - m->syms[i].start;
out:
	if (err) {
		lsc_module_free(m);
		return err;
	}
	*out = m;
	return 0;
}

void lsc_module_free(struct lsc_module *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nsyms; i++)
		free(m->syms[i].demangled);
	free(m->syms);
	if (m->dwarf)
		dwarf_end(m->dwarf);
	if (m->debug_elf)
		elf_end(m->debug_elf);
	if (m->debug_fd >= 0)
		close(m->debug_fd);
	if (m->elf)
		elf_end(m->elf);
	if (m->fd >= 0)
		close(m->fd);
	free(m->path);
	free(m);
}

const char *lsc_module_path(const struct lsc_module *m)
{
	return m->path;
}

const uint8_t *lsc_module_build_id(const struct lsc_module *m, size_t *len)
{
	*len = m->build_id_len;
	return m->build_id_len ? m->build_id : NULL;
}

size_t lsc_module_nsymbols(const struct lsc_module *m)
{
	return m->nsyms;
}

int lsc_module_offset_to_vaddr(const struct lsc_module *m, uint64_t offset, uint64_t *vaddr)
{
	int i;

	for (i = 0; i < m->nseg; i++)
		if (offset >= m->seg[i].offset && offset < m->seg[i].offset + m->seg[i].filesz) {
			*vaddr = offset - m->seg[i].offset + m->seg[i].vaddr;
			return 0;
		}
	return LSC_ENODATA;
}

static const char *sym_name(struct sym *s)
{
	if (!s->demangled && s->name[0] == '_' && s->name[1] == 'Z') {
		int status = -1;

		s->demangled = __cxa_demangle(s->name, NULL, NULL, &status);
		if (status != 0) {
			free(s->demangled);
			s->demangled = NULL;
		}
	}
	return s->demangled ? s->demangled : s->name;
}

int lsc_module_lookup(struct lsc_module *m, uint64_t vaddr, struct lsc_frame *f)
{
	size_t lo = 0, hi = m->nsyms;
	struct sym *s;

	memset(f, 0, sizeof(*f));
	f->module = m->path;
	f->module_offset = vaddr;
	f->kind = LSC_FRAME_NATIVE;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->syms[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return LSC_ENODATA;
	s = &m->syms[lo - 1];
	if (vaddr >= s->start + (s->size ? s->size : 1))
		return LSC_ENODATA;
	f->function = sym_name(s);
	if (m->dwarf) {
		Dwarf_Die cu;
		Dwarf_Line *line;
		int ln;

		if (dwarf_addrdie(m->dwarf, vaddr, &cu) && (line = dwarf_getsrc_die(&cu, vaddr)) &&
		    dwarf_lineno(line, &ln) == 0) {
			f->file = dwarf_linesrc(line, NULL, NULL);
			f->line = (unsigned)ln;
		}
	}
	return 0;
}

int lsc_module_find(const struct lsc_module *m, const char *name, uint64_t *vaddr)
{
	size_t i;

	for (i = 0; i < m->nsyms; i++)
		if (strcmp(m->syms[i].name, name) == 0) {
			*vaddr = m->syms[i].start;
			return 0;
		}
	return LSC_ENODATA;
}

/* ------------------------------------------------------------------ perf maps and kallsyms */

struct symmap_entry {
	uint64_t start, size;
	char *name;
};

struct lsc_symmap {
	struct symmap_entry *v;
	size_t n;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct symmap_entry *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* perf map: "START SIZE name with spaces" (hex, no 0x); kallsyms: "ADDR TYPE name [module]". */
static int symmap_load(const char *path, int kallsyms, struct lsc_symmap **out)
{
	struct lsc_symmap *m;
	char *line = NULL;
	size_t cap = 0, vcap = 0, i;
	FILE *f;
	int err = 0;

	*out = NULL;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	m = calloc(1, sizeof(*m));
	if (!m) {
		fclose(f);
		return -ENOMEM;
	}
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *e;
		uint64_t start, size = 0;

		line[strcspn(line, "\n")] = 0;
		start = strtoull(p, &e, 16);
		if (e == p || *e != ' ')
			continue;
		p = e + 1;
		if (kallsyms) {
			if (!isalpha((unsigned char)*p) || p[1] != ' ' || !strchr("tTwW", *p))
				continue;
			p += 2;
			p[strcspn(p, "\t ")] = 0;
		} else {
			size = strtoull(p, &e, 16);
			if (e == p || *e != ' ')
				continue;
			p = e + 1;
		}
		if (!*p || start == 0)
			continue;
		if (m->n == vcap) {
			struct symmap_entry *nv;

			vcap = vcap ? vcap * 2 : 4096;
			nv = realloc(m->v, vcap * sizeof(*nv));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			m->v = nv;
		}
		m->v[m->n].start = start;
		m->v[m->n].size = size;
		m->v[m->n].name = strdup(p);
		if (!m->v[m->n].name) {
			err = -ENOMEM;
			break;
		}
		m->n++;
	}
	free(line);
	fclose(f);
	if (!err && m->n == 0)
		err = kallsyms ? -EPERM
			       : LSC_ENOSYMS; /* kallsyms shows zeros to the unprivileged */
	if (err) {
		lsc_symmap_free(m);
		return err;
	}
	qsort(m->v, m->n, sizeof(*m->v), entry_cmp);
	for (i = 0; i + 1 < m->n; i++)
		if (m->v[i].size == 0)
			m->v[i].size = m->v[i + 1].start - m->v[i].start;
	*out = m;
	return 0;
}

int lsc_symmap_load_perf(const char *path, struct lsc_symmap **out)
{
	return symmap_load(path, 0, out);
}

int lsc_symmap_load_kallsyms(const char *path, struct lsc_symmap **out)
{
	return symmap_load(path ? path : "/proc/kallsyms", 1, out);
}

void lsc_symmap_free(struct lsc_symmap *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		free(m->v[i].name);
	free(m->v);
	free(m);
}

const char *lsc_symmap_lookup(const struct lsc_symmap *m, uint64_t addr, uint64_t *offset)
{
	size_t lo = 0, hi = m ? m->n : 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= m->v[lo - 1].start + (m->v[lo - 1].size ? m->v[lo - 1].size : 1))
		return NULL;
	if (offset)
		*offset = addr - m->v[lo - 1].start;
	return m->v[lo - 1].name;
}

/* ------------------------------------------------------------------ symbolizer */

struct mapping {
	uint64_t start, end, offset;
	struct lsc_module *module; /* NULL when the file could not be opened */
	char *path;
};

struct lsc_symbolizer {
	struct mapping *maps;
	size_t nmaps;
	struct lsc_module **modules;
	size_t nmodules;
	struct lsc_symmap *perf, *kallsyms;
};

int lsc_symbolizer_new(struct lsc_symbolizer **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void lsc_symbolizer_free(struct lsc_symbolizer *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nmodules; i++)
		lsc_module_free(s->modules[i]);
	for (i = 0; i < s->nmaps; i++)
		free(s->maps[i].path);
	free(s->modules);
	free(s->maps);
	lsc_symmap_free(s->perf);
	lsc_symmap_free(s->kallsyms);
	free(s);
}

static struct lsc_module *module_for(struct lsc_symbolizer *s, const char *path)
{
	struct lsc_module *m, **nm;
	size_t i;

	for (i = 0; i < s->nmodules; i++)
		if (strcmp(lsc_module_path(s->modules[i]), path) == 0)
			return s->modules[i];
	if (lsc_module_open(path, &m))
		return NULL;
	nm = realloc(s->modules, (s->nmodules + 1) * sizeof(*nm));
	if (!nm) {
		lsc_module_free(m);
		return NULL;
	}
	s->modules = nm;
	s->modules[s->nmodules++] = m;
	return m;
}

int lsc_symbolizer_add_mapping(struct lsc_symbolizer *s, uint64_t start, uint64_t end,
			       uint64_t offset, const char *path)
{
	struct mapping *nm = realloc(s->maps, (s->nmaps + 1) * sizeof(*nm));

	if (!nm)
		return -ENOMEM;
	s->maps = nm;
	nm[s->nmaps] = (struct mapping){start, end, offset, module_for(s, path), strdup(path)};
	s->nmaps++;
	return 0;
}

int lsc_symbolizer_add_process(struct lsc_symbolizer *s, int pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!err && getline(&line, &cap, f) > 0) {
		unsigned long long start, end, off;
		char perms[8];
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &pos) <
			    4 ||
		    !pos || perms[2] != 'x')
			continue;
		line[strcspn(line, "\n")] = 0;
		if (line[pos] == '/')
			err = lsc_symbolizer_add_mapping(s, start, end, off, line + pos);
	}
	free(line);
	fclose(f);
	return err;
}

int lsc_symbolizer_set_perf_map(struct lsc_symbolizer *s, const char *path)
{
	lsc_symmap_free(s->perf);
	s->perf = NULL;
	return lsc_symmap_load_perf(path, &s->perf);
}

int lsc_symbolizer_set_kallsyms(struct lsc_symbolizer *s, const char *path)
{
	lsc_symmap_free(s->kallsyms);
	s->kallsyms = NULL;
	return lsc_symmap_load_kallsyms(path, &s->kallsyms);
}

int lsc_symbolizer_lookup(struct lsc_symbolizer *s, uint64_t addr, int kernel, struct lsc_frame *f)
{
	uint64_t off;
	size_t i;

	memset(f, 0, sizeof(*f));
	if (kernel) {
		f->kind = LSC_FRAME_KERNEL;
		f->module = "[kernel]";
		f->function = lsc_symmap_lookup(s->kallsyms, addr, &off);
		f->module_offset = addr;
		return f->function ? 0 : LSC_ENODATA;
	}
	for (i = 0; i < s->nmaps; i++) {
		struct mapping *m = &s->maps[i];
		uint64_t vaddr;

		if (addr < m->start || addr >= m->end)
			continue;
		f->module = m->path;
		f->module_offset = addr - m->start + m->offset;
		f->kind = LSC_FRAME_NATIVE;
		if (!m->module ||
		    lsc_module_offset_to_vaddr(m->module, addr - m->start + m->offset, &vaddr))
			return LSC_ENODATA;
		if (lsc_module_lookup(m->module, vaddr, f) == 0) {
			f->module = m->path;
			return 0;
		}
		f->module = m->path;
		f->module_offset = addr - m->start + m->offset;
		return LSC_ENODATA;
	}
	/* Outside every file mapping: JIT code, if the runtime wrote a perf map. */
	f->function = lsc_symmap_lookup(s->perf, addr, &off);
	if (f->function) {
		f->kind = LSC_FRAME_JIT;
		return 0;
	}
	f->module_offset = addr;
	return LSC_ENODATA;
}
