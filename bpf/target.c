/*
 * target.c — the target process as attach.c needs to know it: whether it can be attached to at
 * all (one line saying why not), its /proc figures (RSS, fds), and its executable's ELF: the
 * symbols to probe, the load bias, build-ids. Split from attach.c, which loads and runs the
 * probes.
 */
#include "target.h"
#include "lsc_error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lsc__read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

uint64_t lsc__proc_rss(int pid)
{
	char path[64], buf[256];
	unsigned long long size, res;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	if (lsc__read_small(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%llu %llu", &size, &res) != 2)
		return 0;
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t lsc__proc_rss_peak(int pid)
{
	char path[64], buf[4096], *at;
	unsigned long long kib = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (lsc__read_small(path, buf, sizeof(buf)) <= 0 || !(at = strstr(buf, "\nVmHWM:")) ||
	    sscanf(at + 7, " %llu", &kib) != 1)
		return 0;
	return (uint64_t)kib * 1024;
}

uint32_t lsc__proc_fds(int pid, uint32_t *limit)
{
	char path[64], buf[4096], *p;
	struct dirent *d;
	uint32_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir)))
		n += d->d_name[0] != '.';
	if (dir)
		closedir(dir);
	*limit = 0;
	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	if (lsc__read_small(path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "Max open files")))
		*limit = (uint32_t)strtoul(p + 14, NULL, 10);
	return n;
}

/* Whether the process still runs: a zombie (exited, not yet reaped by its parent) does not,
 * though kill(pid, 0) still finds it. */
int lsc__target_alive(int pid)
{
	char path[64], buf[512], *p;

	if (kill(pid, 0) && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (lsc__read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strrchr(buf, ')'); /* the command name may hold anything; the state follows it */
	return !(p && (p[2] == 'Z' || p[2] == 'X'));
}

/* The real uid of PID from /proc/PID/status (its /proc directory is root's when it is not
 * dumpable), or -1. */
static long owner_uid(int pid)
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (lsc__read_small(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nUid:")))
		return -1;
	return strtol(p + 5, NULL, 10);
}

/*
 * Why PID cannot be attached to, in one line, before anything is loaded: no such process, one of
 * another user's without root, a kernel thread (no program, no loop: PID 2, kthreadd), a zombie,
 * a process whose executable the kernel will not show even to root. Returns 0 when none applies.
 */
int lsc__target_problem(int pid, char *err, size_t errlen)
{
	char path[64], buf[512], comm[64] = "?", *open_paren, *close_paren;
	unsigned long flags = 0;
	char exe[8], state = 0;
	int e;

	if (kill(pid, 0) && errno == ESRCH) {
		snprintf(err, errlen, "no process with PID %d", pid);
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (lsc__read_small(path, buf, sizeof(buf)) <= 0) {
		snprintf(err, errlen, "no process with PID %d", pid);
		return -ESRCH;
	}
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (open_paren && close_paren > open_paren) {
		snprintf(comm, sizeof(comm), "%.*s", (int)(close_paren - open_paren - 1),
			 open_paren + 1);
		/* after ") ": state, ppid, pgrp, session, tty_nr, tpgid, flags */
		if (sscanf(close_paren + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) < 1)
			state = 0;
	}
	if (flags & 0x00200000UL) { /* PF_KTHREAD */
		snprintf(err, errlen,
			 "PID %d (%s) is a kernel thread: it runs no program and no event loop to "
			 "attach to",
			 pid, comm);
		return -EINVAL;
	}
	if (state == 'Z' || state == 'X') {
		snprintf(
			err, errlen,
			"PID %d (%s) is a zombie: it has exited and waits for its parent to collect "
			"its status; there is nothing left to attach to",
			pid, comm);
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (readlink(path, exe, sizeof(exe)) >= 0)
		return 0;
	e = errno;
	if (e == ENOENT)
		snprintf(err, errlen,
			 "PID %d (%s) has no program left to attach to (it is exiting)", pid, comm);
	else if ((e == EACCES || e == EPERM) && geteuid() == 0)
		snprintf(err, errlen,
			 "PID %d (%s) cannot be traced: the kernel refuses even root access to "
			 "%s (%s; the process is protected, e.g. in another user namespace or by a "
			 "security module)",
			 pid, comm, path, strerror(e));
	else if ((e == EACCES || e == EPERM) && owner_uid(pid) == (long)getuid())
		snprintf(err, errlen,
			 "PID %d (%s) cannot be traced by this user although it is its own (it is "
			 "not dumpable: setuid, or it changed its credentials): run as root",
			 pid, comm);
	else if (e == EACCES || e == EPERM)
		snprintf(err, errlen, "PID %d (%s) belongs to another user: run as root", pid,
			 comm);
	else
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
	return -e;
}

/* ------------------------------------------------------------------ ELF: symbols, build-ids */

/* One pass over .symtab and .dynsym. Returns 0, or -errno when the file cannot be read. */
int lsc__elf_find(const char *path, struct want *w, size_t nw, int *is_dyn, uint64_t *base_vaddr,
		  Elf **keep)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	size_t i, k, nph;
	Elf *e;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || !gelf_getehdr(e, &eh)) {
		if (e)
			elf_end(e);
		close(fd);
		return LSC_ENOTREC;
	}
	*is_dyn = eh.e_type == ET_DYN;
	*base_vaddr = UINT64_MAX;
	if (elf_getphdrnum(e, &nph) == 0)
		for (i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD &&
			    ph.p_vaddr < *base_vaddr)
				*base_vaddr = ph.p_vaddr;
		}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(d, (int)i, &s) || !s.st_value || s.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(e, sh.sh_link, s.st_name);
			if (!name || !*name)
				continue;
			for (k = 0; k < nw; k++)
				if (!w[k].found &&
				    (w[k].sub ? GELF_ST_TYPE(s.st_info) == STT_FUNC &&
							strstr(name, w[k].name) &&
							strstr(name, w[k].cls)
					      : strcmp(name, w[k].name) == 0)) {
					w[k].vaddr = s.st_value;
					w[k].found = 1;
				}
		}
	}
	if (!keep) {
		elf_end(e);
		close(fd);
		return 0;
	}
	*keep = e; /* for vaddr_to_offset; the fd stays open with it */
	return 0;
}

int lsc__vaddr_to_offset(Elf *e, uint64_t v, uint64_t *off)
{
	size_t i, nph;

	if (elf_getphdrnum(e, &nph))
		return -1;
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && v >= ph.p_vaddr &&
		    v < ph.p_vaddr + ph.p_filesz) {
			*off = v - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -1;
}

size_t lsc__build_id(const char *path, uint8_t *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t i, nph, len = 0;
	Elf *e;

	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (e && elf_getphdrnum(e, &nph) == 0)
		for (i = 0; i < nph && !len; i++) {
			GElf_Phdr ph;
			Elf_Data *d;
			GElf_Nhdr nh;
			size_t off = 0, name_off, desc_off;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			d = elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
			while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0)
				if (nh.n_type == NT_GNU_BUILD_ID && nh.n_descsz <= cap) {
					memcpy(out, (char *)d->d_buf + desc_off, nh.n_descsz);
					len = nh.n_descsz;
					break;
				}
		}
	if (e)
		elf_end(e);
	close(fd);
	return len;
}

/* The address the target's executable is loaded at, minus its ELF addresses (PIE), from maps. */
uint64_t lsc__load_bias(int pid, const char *exe, int is_dyn, uint64_t base_vaddr)
{
	char path[64], line[4608], file[4096];
	unsigned long long start, end, off;
	uint64_t bias = 0;
	FILE *f;

	if (!is_dyn)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		file[0] = 0;
		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %4095[^\n]", &start, &end, &off,
			   file) >= 3 &&
		    off == 0 && !strcmp(file, exe)) {
			bias = start - (base_vaddr & ~0xfffULL);
			break;
		}
	}
	if (f)
		fclose(f);
	return bias;
}

/* Whether PID maps a shared libuv (libuv.so.1): a libuv program linked dynamically. */
int lsc__maps_libuv(int pid)
{
	char path[64], line[4608];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libuv.so") != NULL || strstr(line, "/libuv-") != NULL;
	if (f)
		fclose(f);
	return found;
}

/* The command name of PID ("node"), from /proc/PID/comm. */
static void comm_of(int pid, char *buf, size_t cap)
{
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	n = lsc__read_small(path, buf, cap);
	if (n <= 0)
		snprintf(buf, cap, "?");
	else if (buf[n - 1] == '\n')
		buf[n - 1] = 0;
}

int lsc__exe_has_libuv(const char *path)
{
	struct want w = {"uv_run", 0, 0, 0, NULL};
	uint64_t base;
	int dyn;

	return lsc__elf_find(path, &w, 1, &dyn, &base, NULL) == 0 && w.found;
}

/* Whether PID's executable has libuv's uv_run, or it maps a shared libuv. */
static int runs_libuv(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return lsc__exe_has_libuv(path) || lsc__maps_libuv(pid);
}

/* Up to 4 children of PID that run libuv, as " 4242 (node), 4243 (node)" into buf; how many
 * there are. */
static int children_of(int pid, char *buf, size_t cap)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t off = 0;
	int n = 0;

	buf[0] = 0;
	while (d && (e = readdir(d))) {
		char path[300], st[512], comm[64], *p;
		int child = atoi(e->d_name), ppid = 0;

		if (child <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", child);
		if (lsc__read_small(path, st, sizeof(st)) <= 0 || !(p = strrchr(st, ')')) ||
		    sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid != pid || !runs_libuv(child))
			continue;
		if (n++ < 4 && off < cap) {
			comm_of(child, comm, sizeof(comm));
			off += (size_t)snprintf(buf + off, cap - off, "%s %d (%s)", off ? "," : "",
						child, comm);
		}
	}
	if (d)
		closedir(d);
	return n;
}

int lsc__target_no_loop(int pid, int uv_symbols, char *err, size_t errlen)
{
	char comm[64], kids[256];
	int n;

	if (uv_symbols || lsc__maps_libuv(pid))
		return 0;
	comm_of(pid, comm, sizeof(comm));
	n = children_of(pid, kids, sizeof(kids));
	if (n == 1)
		snprintf(err, errlen,
			 "PID %d (%s) has no libuv: it runs no Node.js or libuv event loop to "
			 "measure; its child%s does: loopscope attach -p %d (or add --anyway to "
			 "record this one's CPU and system calls regardless)",
			 pid, comm, kids, atoi(kids));
	else if (n)
		snprintf(err, errlen,
			 "PID %d (%s) has no libuv: it runs no Node.js or libuv event loop to "
			 "measure; its children%s do: attach to one of them (or add --anyway to "
			 "record this one's CPU and system calls regardless)",
			 pid, comm, kids);
	else
		snprintf(err, errlen,
			 "PID %d (%s) has no libuv: it runs no Node.js or libuv event loop to "
			 "measure; add --anyway to record its CPU and system calls regardless",
			 pid, comm);
	return LSC_ENOLOOP;
}

/* CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, which held both before 5.8) in this process's
 * effective set, from /proc/self/status: said before anything else about the target is, since
 * nothing can be attached without them. */
int lsc__no_privileges(char *err, size_t errlen)
{
	char buf[4096], *p;
	unsigned long long eff;

	if (lsc__read_small("/proc/self/status", buf, sizeof(buf)) <= 0 ||
	    !(p = strstr(buf, "\nCapEff:")) || sscanf(p + 8, "%llx", &eff) != 1)
		return 0; /* unknown: loading will say */
	if ((eff >> 21 & 1) || ((eff >> 38 & 1) && (eff >> 39 & 1)))
		return 0;
	snprintf(err, errlen,
		 "cannot load the eBPF programs: this process lacks CAP_BPF and CAP_PERFMON: run "
		 "as root, or grant them: setcap cap_bpf,cap_perfmon+ep loopscope");
	return -EPERM;
}
