/*
 * node_names.c — the writer's side of node_frames.c: a JS frame's function named from V8's own
 * objects in this process, as `attach` names them from outside (bpf/v8_names.c, compiled in here
 * too: one reader of V8's layouts for both capture paths).
 *
 * The layouts come from V8's post-mortem metadata, which the node binary exports (`v8dbg_*`,
 * dlsym: no ELF reading in the agent); memory is read with process_vm_readv on this process, so
 * an object the main thread's GC is moving meanwhile gives a failed read or a print that no longer
 * matches (the frame stays unnamed), never a fault. A frame is taken as JS when node_frames.c saw
 * it interpreted, or when its address is in code V8 generated: an anonymous executable mapping
 * (/proc/self/maps is read again when an address is in no executable mapping known, at most
 * every millisecond).
 * Functions with JS linkage that V8 implements itself (no Script: RegExp.prototype.test) keep their
 * code's symbol, as under attach.
 *
 * Runs on the writer's thread only (the cache in struct lsc_v8 is not shared).
 */
#include "writer.h"

#include "v8_internal.h"
#include "v8_symbols.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define A	 lsc__A

#define MAPS_CAP 4096

static struct lsc_v8 V;
static struct exec_map {
	uint64_t lo, hi;
	int jit; /* anonymous: V8's code; else a file's (node's, a library's) */
} maps[MAPS_CAP];
static int nmaps;
static int state; /* 0: not tried; 1: the layouts are known; -1: not Node, or no metadata */
static uint64_t named, unnamed, moved;

int lsc_v8_read(struct lsc_v8 *v, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};

	if (!addr || !len)
		return -1;
	return syscall(SYS_process_vm_readv, (long)v->pid, &local, 1L, &remote, 1L, 0L) == (long)len
		       ? 0
		       : -1;
}

static int init(void)
{
	size_t k;

	if (state)
		return state > 0;
	state = -1;
	for (k = 0; k < LSC_V8_NMETA; k++) {
		char name[96];
		const int *at;

		snprintf(name, sizeof(name), "v8dbg_%s", lsc_v8_meta[k].sym);
		if (!(at = dlsym(RTLD_DEFAULT, name)))
			return 0;
		memcpy((char *)&V.L + lsc_v8_meta[k].off, at, sizeof(*at));
	}
	/* Node 20 on x86-64: full 8-byte tagged values, Smis in the upper half (as bpf/v8_meta.c
	 * takes them); pointer compression or another tagging is not read rather than misread */
	if (V.L.tag != 1 || V.L.tag_mask != 3 || V.L.smi_shift != 31)
		return 0;
	V.L.smi_shift = 32;
	V.pid = A.pid;
	state = 1;
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A hexadecimal number at *p, which moves past it. */
static uint64_t hex(const char **p, const char *end)
{
	uint64_t v = 0;

	for (; *p < end; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			break;
	}
	return v;
}

/* One line of /proc/self/maps: "lo-hi perms offset dev inode   path". */
static void map_line(const char *p, const char *end)
{
	uint64_t lo, hi;
	const char *perms;
	int field = 0;

	lo = hex(&p, end);
	if (p >= end || *p++ != '-')
		return;
	hi = hex(&p, end);
	if (p + 5 > end || *p++ != ' ')
		return;
	perms = p;
	if (perms[2] != 'x')
		return;
	/* offset, dev, inode: an anonymous mapping has inode 0 and no path */
	for (; p < end && field < 3; field++) {
		while (p < end && *p != ' ')
			p++;
		while (p < end && *p == ' ')
			p++;
	}
	if (nmaps == MAPS_CAP)
		return;
	maps[nmaps].lo = lo;
	maps[nmaps].hi = hi;
	maps[nmaps].jit = 0;
	if (p < end && *p == '0' && (p + 1 >= end || p[1] == ' ' || p[1] == '\n')) {
		p++;
		while (p < end && *p == ' ')
			p++;
		maps[nmaps].jit = p >= end || *p == '\n'; /* no path: not a file's, not [vdso] */
	}
	nmaps++;
}

/* V8's code ranges: the anonymous executable mappings, from /proc/self/maps (raw reads: the
 * agent's own, not interposed calls). */
static void read_maps(void)
{
	static char buf[1 << 16];
	char *line = buf;
	size_t have = 0;
	long fd, n;

	V.jit_read_ns = now_ns();
	fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	nmaps = 0;
	for (;;) {
		char *nl;

		n = syscall(SYS_read, fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		line = buf;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			map_line(line, nl + 1);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf))
			have = 0; /* a line longer than the buffer: dropped */
	}
	syscall(SYS_close, fd);
}

/* Whether ip is in V8's generated code. An address in no executable mapping known is in one
 * mapped since: the maps are read again, at most every millisecond. */
static int in_jit(uint64_t ip)
{
	int i, again = 0;

	for (;;) {
		for (i = 0; i < nmaps; i++)
			if (ip >= maps[i].lo && ip < maps[i].hi)
				return maps[i].jit;
		if (again || now_ns() - V.jit_read_ns < 1000000ULL)
			return 0;
		read_maps();
		again = 1;
	}
}

const struct lsc_v8_fn *lsc__node_name(uint64_t ip, uint64_t sfi, uint64_t print)
{
	const struct lsc_v8_fn *fn;
	int r;

	if (!init())
		return NULL;
	/* bit 1: node_frames.c found the frame interpreted (its address is the interpreter's) */
	if (!(sfi & 2) && !in_jit(ip))
		return NULL;
	r = lsc_v8_resolve(&V, sfi & ~2ULL, print, &fn);
	if (r == -2)
		moved++;
	if (r) {
		unnamed++;
		return NULL;
	}
	if (fn->native)
		return NULL; /* named by its code's symbol */
	named++;
	return fn;
}

void lsc__node_names_counts(uint64_t *n_named, uint64_t *n_unnamed, uint64_t *n_moved)
{
	*n_named = named;
	*n_unnamed = unnamed;
	*n_moved = moved;
}
