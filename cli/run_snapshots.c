/*
 * run_snapshots.c — `loopscope run --heap-snapshot-on SIGNAL|near-oom|exit` for Node.js: V8 heap
 * snapshots written beside the recording, through Node's own flags (docs/heap.md):
 *   SIGNAL    --heapsnapshot-signal=SIGNAL: one each time the process gets SIGNAL
 *   near-oom  --heapsnapshot-near-heap-limit=1: one when the heap nears its limit
 *   exit      --require of a small script that writes one from process.on('exit') (Node has no
 *             flag for it): when the program ends by itself or by process.exit(); a death by a
 *             signal's default action runs no 'exit' listener and writes none.
 * all with --diagnostic-dir set to the recording's directory, added to NODE_OPTIONS (whatever
 * the user's NODE_OPTIONS holds is kept, after ours). Node names them
 * Heap.DATE.TIME.PID.TID.SEQ.heapsnapshot; the exit script the same with SEQ "exit".
 *
 * At the end of the run, the snapshots of the run's processes (their PIDs are the agent's files
 * in the run directory) written since the run started are noted in the recording
 * (HeapSnapshotFile records): `report` and `heap` then find and read them.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The signals a snapshot can be asked on: not the ones that stop or kill the program by
 * default or that Node already uses (a handler on them would change what the program does). */
static const char *const usable[] = {"SIGUSR2", "SIGHUP",  "SIGWINCH",	"SIGURG",  "SIGPWR",
				     "SIGTTIN", "SIGTTOU", "SIGVTALRM", "SIGXCPU", "SIGXFSZ"};

int lsc_run_snap_option(const char *arg, struct lsc_run_snap *o)
{
	char buf[256], *tok, *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf) || !*arg)
		return lsc_usage_error("run", "--heap-snapshot-on takes SIGNAL, near-oom or exit");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char name[32];
		size_t i;

		if (!strcmp(tok, "exit")) {
			o->exit = 1;
			continue;
		}
		if (!strcmp(tok, "near-oom")) {
			o->near_oom = 1;
			continue;
		}
		snprintf(name, sizeof(name), "%s%s", strncmp(tok, "SIG", 3) ? "SIG" : "", tok);
		for (i = 0; i < sizeof(usable) / sizeof(usable[0]); i++)
			if (!strcmp(name, usable[i]))
				break;
		if (i == sizeof(usable) / sizeof(usable[0]))
			return lsc_usage_error(
				"run",
				"--heap-snapshot-on takes SIGUSR2 (or another signal that does not "
				"stop the program and Node does not use: SIGHUP, SIGWINCH, ...), "
				"near-oom or exit, not '%s'",
				tok);
		snprintf(o->signal, sizeof(o->signal), "%s", name);
	}
	return 0;
}

static const char exit_script[] =
	"'use strict';\n"
	"// loopscope run --heap-snapshot-on exit: a V8 heap snapshot when this process ends\n"
	"const dir = process.env.LOOPSCOPE_HEAP_SNAPSHOT_DIR;\n"
	"if (dir && require('worker_threads').isMainThread)\n"
	"  process.on('exit', () => {\n"
	"    const d = new Date(), p = (n) => String(n).padStart(2, '0');\n"
	"    const day = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`;\n"
	"    const time = `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;\n"
	"    try {\n"
	"      require('v8').writeHeapSnapshot(\n"
	"        `${dir}/Heap.${day}.${time}.${process.pid}.0.exit.heapsnapshot`);\n"
	"    } catch (e) {\n"
	"      process.emitWarning(`loopscope: no heap snapshot at exit: ${e.message}`);\n"
	"    }\n"
	"  });\n";

/* Appends s to buf as one NODE_OPTIONS word, double-quoted when it needs to be (Node reads
 * "..." with \" and \\ escapes). */
static void append_word(char *buf, size_t cap, const char *opt, const char *s)
{
	size_t n = strlen(buf);

	n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s=\"", n ? " " : "", opt);
	for (; *s && n + 3 < cap; s++) {
		if (*s == '"' || *s == '\\')
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	if (n + 2 < cap) {
		buf[n++] = '"';
		buf[n] = 0;
	}
}

int lsc_run_snap_prepare(struct lsc_run_snap *o, const char *output, const char *rundir)
{
	char tmp[PATH_MAX];
	int fd;
	ssize_t w;

	if (!lsc_run_snap_wanted(o))
		return 0;
	snprintf(tmp, sizeof(tmp), "%s", output);
	snprintf(o->dir, sizeof(o->dir), "%s", dirname(tmp));
	if (!o->exit)
		return 0;
	if (snprintf(o->script, sizeof(o->script), "%s/exit-snapshot.js", rundir) >=
	    (int)sizeof(o->script))
		return lsc_fail("cannot write the exit snapshot's script: the path is too long");
	fd = open(o->script, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return lsc_fail("cannot write '%s': %s", o->script, strerror(errno));
	w = write(fd, exit_script, sizeof(exit_script) - 1);
	if (close(fd) || w != (ssize_t)sizeof(exit_script) - 1)
		return lsc_fail("cannot write '%s': %s", o->script, strerror(errno ? errno : EIO));
	return 0;
}

void lsc_run_snap_env(const struct lsc_run_snap *o)
{
	static char opts[8192];
	const char *old = getenv("NODE_OPTIONS");
	char n[16];

	if (!lsc_run_snap_wanted(o))
		return;
	opts[0] = 0;
	append_word(opts, sizeof(opts), "--diagnostic-dir", o->dir);
	if (o->signal[0])
		append_word(opts, sizeof(opts), "--heapsnapshot-signal", o->signal);
	if (o->near_oom) {
		snprintf(n, sizeof(n), "1");
		append_word(opts, sizeof(opts), "--heapsnapshot-near-heap-limit", n);
	}
	if (o->exit) {
		append_word(opts, sizeof(opts), "--require", o->script);
		setenv("LOOPSCOPE_HEAP_SNAPSHOT_DIR", o->dir, 1);
	}
	if (old && *old && strlen(opts) + strlen(old) + 2 < sizeof(opts)) {
		strcat(opts, " ");
		strcat(opts, old);
	}
	setenv("NODE_OPTIONS", opts, 1);
}

/* The PID in a name Node gives a snapshot (Heap.DATE.TIME.PID.TID.SEQ.heapsnapshot), or 0. */
static unsigned long snapshot_pid(const char *name, int *at_exit)
{
	const char *p = name;
	size_t len = strlen(name);
	char *end;
	unsigned long pid;
	int dots;

	if (strncmp(name, "Heap.", 5) || len < 19 || strcmp(name + len - 13, ".heapsnapshot"))
		return 0;
	for (dots = 0; dots < 3 && (p = strchr(p, '.')); dots++)
		p++;
	if (!p)
		return 0;
	pid = strtoul(p, &end, 10);
	if (end == p || *end != '.')
		return 0;
	*at_exit = strstr(end, ".exit.heapsnapshot") != NULL;
	return pid;
}

/* Whether the agent listed pid in the run directory (a process of this run). */
static int of_the_run(const char *rundir, unsigned long pid)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%lu", rundir, pid);
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

size_t lsc_run_snap_finish(const struct lsc_run_snap *o, const char *output, const char *rundir,
			   const struct timespec *start)
{
	struct lsc_writer *w = NULL;
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	if (!lsc_run_snap_wanted(o) || !(d = opendir(o->dir)))
		return 0;
	while ((e = readdir(d))) {
		Loopscope__HeapSnapshotFile f = LOOPSCOPE__HEAP_SNAPSHOT_FILE__INIT;
		Loopscope__Record rec = LOOPSCOPE__RECORD__INIT;
		char path[PATH_MAX], trigger[64];
		unsigned long pid;
		struct stat st;
		int at_exit = 0;

		pid = snapshot_pid(e->d_name, &at_exit);
		if (!pid || !of_the_run(rundir, pid) ||
		    snprintf(path, sizeof(path), "%s/%s", o->dir, e->d_name) >= (int)sizeof(path) ||
		    lstat(path, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		    st.st_mtim.tv_sec < start->tv_sec)
			continue;
		snprintf(trigger, sizeof(trigger), "%s",
			 at_exit		       ? "exit"
			 : o->signal[0] && o->near_oom ? "signal or near-oom"
			 : o->signal[0]		       ? o->signal
						       : "near-oom");
		f.path = e->d_name;
		f.has_pid = f.has_unix_ns = f.has_bytes = 1;
		f.pid = (uint32_t)pid;
		f.unix_ns =
			(uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
		f.bytes = (uint64_t)st.st_size;
		f.trigger = trigger;
		rec.body_case = LOOPSCOPE__RECORD__BODY_HEAP_SNAPSHOT;
		rec.heap_snapshot = &f;
		if (!w && lsc_writer_append_to(output, &w)) {
			lsc_warn("could not note the heap snapshots in '%s'", output);
			break;
		}
		if (lsc_writer_append(w, &rec))
			lsc_warn("could not note '%s' in '%s'", e->d_name, output);
		else
			n++;
	}
	closedir(d);
	if (w && lsc_writer_close(w))
		lsc_warn("could not note the heap snapshots in '%s'", output);
	if (n)
		fprintf(stderr,
			"loopscope: %zu heap snapshot%s written beside the recording ('loopscope "
			"report %s' reads %s)\n",
			n, n == 1 ? "" : "s", output, n == 1 ? "it" : "them");
	return n;
}
