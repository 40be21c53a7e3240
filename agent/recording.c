/*
 * recording.c — the start of the agent's recording: the file opened (created, or appended to
 * by the next image after an exec, never through a link or into another user's file), its
 * header (the program, its command line, the capture's settings), what the program is and the
 * notes that say what cannot be captured in it, and the run directory's PID file. Split from
 * preload.c, which calls these once, at the agent's start.
 */
#include "lsc_recording.h"
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define A lsc__A

/* libc's own, past the agent's wrappers (blocking.c), for the agent's own files */
DECLARE_REAL(int, open, const char *, int, ...);
DECLARE_REAL(ssize_t, read, int, void *, size_t);
DECLARE_REAL(ssize_t, write, int, const void *, size_t);

int lsc__write_header(const char *runtime, const char *note)
{
	static char exe[4096], cmdline[8192], host[256];
	char *argv[256];
	uint8_t buf[16384 + LSC_FILE_HEADER_SIZE];
	Loopscope__Record rec = LOOPSCOPE__RECORD__INIT;
	Loopscope__Header h = LOOPSCOPE__HEADER__INIT;
	struct timespec wall;
	struct stat st;
	size_t off = 0, n = 0, argc = 0;
	ssize_t k;
	int fd;

	k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[k > 0 ? k : 0] = 0;
	RESOLVE(open);
	RESOLVE(read);
	fd = REAL(open)("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		k = REAL(read)(fd, cmdline, sizeof(cmdline) - 1);
		close(fd);
		n = k > 0 ? (size_t)k : 0;
		cmdline[n] = 0;
		while (off < n && argc < 256) {
			argv[argc++] = cmdline + off;
			off += strlen(cmdline + off) + 1;
		}
	}
	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &wall);
	h.has_pid = 1;
	h.pid = (uint32_t)getpid();
	h.executable = exe;
	h.argv = argv;
	h.n_argv = argc;
	h.has_start_unix_ns = h.has_start_mono_ns = 1;
	h.start_unix_ns = (uint64_t)wall.tv_sec * 1000000000ULL + (uint64_t)wall.tv_nsec;
	h.start_mono_ns = A.t0;
	h.clock = "monotonic";
	h.source = "agent";
	h.loopscope_version = LSC_VERSION;
	h.hostname = host;
	h.runtime = (char *)runtime;
	if (note) {
		h.notes = (char **)&note;
		h.n_notes = 1;
	}
	h.heap_mode = A.cfg.heap_mode == LSC_HEAP_FULL	    ? "full"
		      : A.cfg.heap_mode == LSC_HEAP_SAMPLED ? "sampled"
							    : "off";
	if (A.cfg.heap_mode == LSC_HEAP_SAMPLED) {
		h.has_heap_sample_interval = 1;
		h.heap_sample_interval = A.cfg.sample_interval;
	}
	if (A.cfg.heap_mode != LSC_HEAP_OFF && A.cfg.js_heap_interval) {
		h.has_js_heap_sample_interval = 1; /* Node.js only: V8's sampling heap profiler */
		h.js_heap_sample_interval = A.cfg.js_heap_interval;
	}
	h.has_cpu_sample_hz = 1;
	h.cpu_sample_hz = A.cfg.cpu_hz;
	h.set_id = getenv("LOOPSCOPE_SET_ID");
	if (h.set_id && strlen(h.set_id) > 64)
		h.set_id = NULL;
	h.has_parent_pid = 1;
	h.parent_pid = (uint32_t)getppid();
	rec.body_case = LOOPSCOPE__RECORD__BODY_HEADER;
	rec.header = &h;
	off = 0;
	/* A new file gets the file header; an exec'd image appends to its predecessor's file. */
	if (fstat(A.fd, &st) == 0 && st.st_size == 0) {
		lsc_file_header(buf);
		off = LSC_FILE_HEADER_SIZE;
	}
	k = lsc_record_encode(&rec, buf + off, sizeof(buf) - off);
	if (k < 0)
		return -1;
	RESOLVE(write);
	return REAL(write)(A.fd, buf, off + (size_t)k) == (ssize_t)(off + (size_t)k) ? 0 : -1;
}

/* What the program is: Node.js (its V8 GC API, or what of it is missing), refloop, or another
 * libuv program; and its libuv's version. */
void lsc__runtime_and_notes(char *runtime, size_t cap, char *note, size_t note_cap)
{
	const char *(*uv_version)(void) =
		(const char *(*)(void))dlsym(RTLD_DEFAULT, "uv_version_string");
	const char *missing = NULL, *what = "unknown";
	int frames_missing = 0;

	note[0] = 0;
	if (lsc__node_lookup(&missing, &frames_missing))
		what = "node";
	else if (dlsym(RTLD_DEFAULT, "rl_observer_register"))
		what = "refloop";
	else if (uv_version)
		what = "libuv program";
	snprintf(runtime, cap, "%s (libuv %s)", what, uv_version ? uv_version() : "not found");
	if (missing)
		snprintf(note, note_cap,
			 "node: %s is not exported by this binary: no GC events (the rest is "
			 "recorded)",
			 missing);
	else if (frames_missing)
		snprintf(note, note_cap,
			 "node: this binary has no V8 post-mortem metadata (v8dbg_*) the agent can "
			 "read (another Node version, or pointer compression): JS frames stay "
			 "addresses; a perf map written by the program (--perf-basic-prof) still "
			 "names them");
}

/*
 * The recording: created here (a child's OUTPUT.PID) or by `loopscope run` (the main one), or
 * appended to by the next image after an exec. Never through a symbolic link, and an existing
 * file only when it can be this run's: a regular file with one link, owned by this user (a file
 * planted in a shared directory such as /tmp is another user's, or a hard link to one).
 */
int lsc__open_recording(const char *path)
{
	struct stat st;
	int fd;

	RESOLVE(open);
	fd = REAL(open)(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0 || errno != EEXIST)
		return fd >= 0 ? fd : -errno;
	fd = REAL(open)(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EEXIST : -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid()) {
		close(fd);
		return -EEXIST;
	}
	return fd;
}

/* `loopscope run` removes what the agent's processes leave behind (Node's perf maps) by PID:
 * every process the agent loads into, recording or not, leaves its PID in LOOPSCOPE_RUN_DIR. */
void lsc__note_pid(void)
{
	const char *dir = getenv("LOOPSCOPE_RUN_DIR");
	char path[4200];
	int fd;

	if (!dir || !*dir ||
	    snprintf(path, sizeof(path), "%s/%d", dir, (int)getpid()) >= (int)sizeof(path))
		return;
	RESOLVE(open);
	fd = REAL(open)(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}
