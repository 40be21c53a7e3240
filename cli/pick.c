/*
 * pick.c — the one recording a command that reads one works on (flame, diff, heap, leaks): the
 * recording named, or with --pid PID another process of the set it heads (sets.c); with --loop
 * SEL, the view of the one loop SEL selects (analysis/lsc_loops.h). A set read without --pid
 * says, once, which process this is and which others there are.
 */
#include "cli.h"
#include "lsc_loops.h"

#include <stdlib.h>
#include <string.h>

static int loop_view(struct lsc_pick *p, const char *cmd, const char *src, const char *sel)
{
	struct lsc_loop_id *loops = calloc(LSC_MAX_LOOPS, sizeof(*loops)), *hit = NULL;
	size_t n, i, hits = 0;
	char keys[300] = "";
	int err;

	if (!loops)
		return lsc_fail("out of memory");
	n = lsc_loops_list(p->rec, loops, LSC_MAX_LOOPS);
	if (lsc_loop_matches(&loops[0], sel) < 0) {
		free(loops);
		return lsc_usage_error(cmd, "--loop '%s': %s", sel, lsc_strerror(LSC_EBADLOOP));
	}
	for (i = 0; i < n; i++) {
		if (lsc_loop_matches(&loops[i], sel) == 1 && hits++ == 0)
			hit = &loops[i];
		if (strlen(keys) < sizeof(keys) - 60)
			snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s",
				 i ? ", " : "", loops[i].key);
	}
	if (hits != 1) {
		free(loops);
		return lsc_fail("--loop '%s' selects %zu loops of '%s'; %s is of one: %s", sel,
				hits, src, cmd, keys[0] ? keys : "it has no loop windows");
	}
	snprintf(p->loop_name, sizeof(p->loop_name), "%s", hit->name);
	err = lsc_recording_loop_view(p->rec, hit, &p->view);
	free(loops);
	if (err)
		return lsc_fail("cannot read the loop '%s' of '%s': %s", sel, src,
				lsc_strerror(err));
	p->rec = p->view;
	return 0;
}

int lsc_cli_pick(const char *cmd, const char *path, int pid, const char *loop, struct lsc_pick *p)
{
	int k = 0;
	size_t i;

	memset(p, 0, sizeof(*p));
	if (lsc_cli_read_set(path, &p->set))
		return -1;
	if (pid && (k = lsc_cli_set_member(&p->set, path, pid)) < 0) {
		lsc_cli_set_free(&p->set);
		return -1;
	}
	if (!pid && p->set.n > 1) {
		char pids[300] = "";

		for (i = 1; i < p->set.n && strlen(pids) < sizeof(pids) - 16; i++)
			snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%u",
				 i > 1 ? ", " : "",
				 p->set.r[i]->header ? p->set.r[i]->header->pid : 0);
		lsc_warn("'%s' heads a set of %zu processes; this is pid %u's (--pid for another: "
			 "%s)",
			 path, p->set.n, p->set.r[0]->header ? p->set.r[0]->header->pid : 0, pids);
	}
	p->whole = p->rec = p->set.r[k];
	p->sym = lsc_cli_symbolizer(p->whole);
	if (loop && loop_view(p, cmd, path, loop)) {
		lsc_cli_pick_free(p);
		return -1;
	}
	return 0;
}

void lsc_cli_pick_free(struct lsc_pick *p)
{
	lsc_recording_view_free(p->view);
	lsc_symbolizer_free(p->sym);
	lsc_cli_set_free(&p->set);
	memset(p, 0, sizeof(*p));
}
