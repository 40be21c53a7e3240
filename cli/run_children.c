/*
 * run_children.c — the processes a `run` follows (docs/run.md "Children"): while the program
 * runs, its descendants as /proc shows them (a pass every 50 ms: pid, parent, executable,
 * command line, whether the agent is in its LD_PRELOAD); at the end, each follower's recording
 * (REC.PID, the same set id in its header) symbolized, and a Process record per descendant
 * appended to the recording of the process run started: recorded, or why not.
 *
 * Descendants, not only children: cluster workers are the primary's children, but a program
 * started through `npm start` or `sh -c` is a grandchild of run. A process that lives less than
 * one pass may be missed by the scan; its recording, if it made one, is still found.
 */
#include "cli.h"
#include "lsc_symbols.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return (int)n;
}

/* pid's parent and state from /proc/PID/stat; -1 when it is gone. */
static int stat_of(pid_t pid, pid_t *ppid, char *state)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 1, " %c %d", state, ppid) != 2)
		return -1;
	return 0;
}

static int ended(pid_t pid);

static struct lsc_run_child *known(struct lsc_run_tree *t, pid_t pid)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->d[i].pid == pid)
			return &t->d[i];
	return NULL;
}

static void describe(struct lsc_run_child *c, pid_t pid, pid_t ppid)
{
	char path[64], env[65536];
	int n, i;

	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->ppid = ppid;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = (int)readlink(path, c->exe, sizeof(c->exe) - 1);
	c->exe[n > 0 ? n : 0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small(path, c->cmdline, sizeof(c->cmdline));
	for (i = 0; i < n - 1; i++) /* arguments joined by spaces, for people */
		if (!c->cmdline[i])
			c->cmdline[i] = ' ';
	c->node = strstr(c->exe, "/node") != NULL;
	/* the agent in its environment: a child that dropped LD_PRELOAD cannot record */
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	n = read_small(path, env, sizeof(env));
	c->env_read = n >= 0; /* an empty environment reads as nothing */
	for (i = 0; i < n; i += (int)strlen(env + i) + 1)
		if (!strncmp(env + i, "LD_PRELOAD=", 11) && strstr(env + i, "libloopscope_agent"))
			c->agent = 1;
}

void lsc_run_tree_scan(struct lsc_run_tree *t)
{
	struct dirent *e;
	DIR *d;
	int grew = 1;
	pid_t cand[4096];
	pid_t par[4096];
	size_t nc = 0, i;

	/* A child seen between its fork and its exec is its parent's image: described again
	 * until two looks agree and its environment was read (it has exec'd, or will not). */
	for (i = 0; i < t->n; i++) {
		struct lsc_run_child now;

		if (t->d[i].settled || ended(t->d[i].pid))
			continue;
		describe(&now, t->d[i].pid, t->d[i].ppid);
		if (!now.exe[0])
			continue;
		now.settled = now.env_read && !strcmp(now.exe, t->d[i].exe) &&
			      !strcmp(now.cmdline, t->d[i].cmdline);
		t->d[i] = now;
	}
	d = opendir("/proc");

	while (d && (e = readdir(d)) && nc < 4096) {
		pid_t pid = (pid_t)atoi(e->d_name), ppid;
		char state;

		if (pid <= 0 || pid == t->root || known(t, pid) || stat_of(pid, &ppid, &state))
			continue;
		cand[nc] = pid;
		par[nc++] = ppid;
	}
	if (d)
		closedir(d);
	/* a descendant's parent is the root or a descendant: until no new one is found */
	while (grew) {
		grew = 0;
		for (i = 0; i < nc && t->n < LSC_RUN_MAX_CHILDREN; i++)
			if (cand[i] && (par[i] == t->root || known(t, par[i]))) {
				describe(&t->d[t->n++], cand[i], par[i]);
				cand[i] = 0;
				grew = 1;
			}
	}
}

/* Whether pid has ended (gone, or a zombie no one has collected yet). */
static int ended(pid_t pid)
{
	pid_t ppid;
	char state;

	return stat_of(pid, &ppid, &state) || state == 'Z' || state == 'X';
}

int lsc_run_wait(pid_t pid, int *status, struct lsc_run_tree *t)
{
	struct timespec step = {0, 50000000};
	pid_t r;

	t->root = pid;
	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		lsc_run_tree_scan(t);
		nanosleep(&step, NULL);
	}
}

void lsc_run_wait_descendants(struct lsc_run_tree *t, double secs)
{
	struct timespec step = {0, 50000000};
	int waited = 0, live;
	size_t i;

	do {
		for (i = 0, live = 0; i < t->n; i++)
			live += t->d[i].agent && !ended(t->d[i].pid);
		if (!live)
			return;
		nanosleep(&step, NULL);
	} while (++waited < secs * 20);
	for (i = 0; i < t->n; i++)
		t->d[i].still_running = t->d[i].agent && !ended(t->d[i].pid);
}

/* The recording a follower wrote: REC.PID with the set's id. */
static int member(const char *output, const char *set_id, pid_t pid, char *path, size_t cap)
{
	struct lsc_recording *r;
	int ok;

	if (snprintf(path, cap, "%s.%d", output, (int)pid) >= (int)cap ||
	    lsc_recording_read(path, &r, NULL))
		return 0;
	ok = r->header && r->header->set_id && !strcmp(r->header->set_id, set_id);
	lsc_recording_free(r);
	return ok;
}

static const char *why_not(const struct lsc_run_child *c, int follow)
{
	if (follow == 2 && !c->node)
		return "not Node.js (run follows Node.js children; --follow-children for all)";
	if (c->env_read && !c->agent)
		return "its environment dropped LD_PRELOAD: the agent was not loaded (a program "
		       "that starts it with env: {} or a clean environment)";
	if (!c->env_read)
		return "it ended before run could look at it (under 50 ms), or it is another "
		       "user's (setuid)";
	return "the agent was loaded but wrote nothing (a static or setuid program, or its "
	       "recording could not be created: see its stderr)";
}

size_t lsc_run_finish_set(const char *output, const char *set_id, int follow,
			  const struct lsc_run_tree *t)
{
	struct lsc_writer *w = NULL;
	char path[4200];
	size_t i, recorded = 0, added;

	if (lsc_writer_append_to(output, &w))
		w = NULL;
	for (i = 0; i < t->n; i++) {
		const struct lsc_run_child *c = &t->d[i];
		Loopscope__Record rec = LOOPSCOPE__RECORD__INIT;
		Loopscope__Process p = LOOPSCOPE__PROCESS__INIT;
		char *argv[1] = {(char *)c->cmdline};
		int got = member(output, set_id, c->pid, path, sizeof(path));

		if (got && !c->still_running && lsc_recording_symbolize(path, NULL, NULL, &added))
			lsc_warn("could not add symbols to '%s'; 'loopscope symbolize' can retry",
				 path);
		if (got && c->still_running)
			lsc_warn("pid %d still runs: its recording '%s' may be incomplete "
				 "('loopscope symbolize' it once it ends)",
				 (int)c->pid, path);
		recorded += got;
		p.has_pid = p.has_parent_pid = p.has_recorded = p.has_node = 1;
		p.pid = (uint32_t)c->pid;
		p.parent_pid = (uint32_t)c->ppid;
		p.executable = (char *)c->exe;
		p.argv = argv;
		p.n_argv = 1;
		p.recorded = got;
		p.node = c->node;
		if (!got)
			p.why = (char *)why_not(c, follow);
		rec.body_case = LOOPSCOPE__RECORD__BODY_PROCESS;
		rec.process = &p;
		if (w && lsc_writer_append(w, &rec))
			lsc_warn("could not note pid %d in '%s'", (int)c->pid, output);
	}
	if (w && lsc_writer_close(w))
		lsc_warn("could not note the descendants in '%s'", output);
	return recorded;
}
