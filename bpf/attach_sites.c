/*
 * attach_sites.c — where the handles that keep a process alive were made (sites.bpf.h is the
 * kernel side): the uprobes at libuv's handle initialisers, each new site's stack (JS frames
 * named, as a pool submission's) kept by its id, and at each window the alive handles by type
 * and site written as Window.alive_sites. The report's shutdown-hang finding names them ("2
 * timers made at start (server.c:89)"). Probed only when recording, not for `top` or the
 * exporter's switch-only loop; a symbol the executable lacks is skipped, and when none could be
 * probed a note says so and the sites are not written.
 */
#include "attach_internal.h"

#include <pthread.h>

/* libuv's handle initialisers, the handle their second argument (uv.h 1.44 to 1.46), for the
 * handles that keep a process alive: uv__stream_init is where uv_tcp_init(_ex), uv_pipe_init and
 * uv_tty_init meet (uv_tcp_init's own code is inlined into callers' view otherwise), and
 * uv__udp_init_ex where both UDP ones do. Not the loop's own plumbing (prepare, check, idle,
 * async): each probe costs the stop about 80 ms (an RCU grace period to remove it). */
static const char *const inits[] = {
	"uv_timer_init",  "uv__stream_init", "uv__udp_init_ex",	 "uv_spawn",
	"uv_signal_init", "uv_poll_init",    "uv_fs_event_init", "uv_fs_poll_init",
};
#define NINITS	  (sizeof(inits) / sizeof(inits[0]))
#define MAX_SITES 1024 /* sites kept; beyond them a site's handles go without a stack */

struct site {
	int32_t id; /* the stacks map's */
	uint32_t n;
	uint64_t *frames; /* named (JS frames as attach_js.c names them) */
};

struct lsc_at_sites {
	struct site v[MAX_SITES];
	size_t n;
	struct bpf_link *links[NINITS];
};

void lsc__at_sites_open(struct lsc_attach *a)
{
	struct want w[NINITS];
	int is_dyn = 0, probed = 0;
	uint64_t base = 0, off;
	Elf *elf = NULL;
	size_t i;

	/* LOOPSCOPE_NO_HANDLE_SITES: without the probes (bench/attach_overhead.sh's comparison) */
	if (!a->o.output || a->o.switch_loop || !a->skel->rodata->addr_default_loop ||
	    getenv("LOOPSCOPE_NO_HANDLE_SITES"))
		return;
	a->sites = calloc(1, sizeof(*a->sites));
	if (!a->sites)
		return;
	for (i = 0; i < NINITS; i++)
		w[i] = (struct want){inits[i], 0, 0, 0, NULL};
	if (lsc__elf_find(a->exe, w, NINITS, &is_dyn, &base, &elf) == 0) {
		for (i = 0; i < NINITS; i++) {
			LIBBPF_OPTS(bpf_uprobe_opts, uo);

			if (!w[i].found || lsc__vaddr_to_offset(elf, w[i].vaddr, &off))
				continue;
			a->sites->links[i] = bpf_program__attach_uprobe_opts(
				a->skel->progs.on_handle_init, a->o.pid, a->exe, off, &uo);
			probed += a->sites->links[i] != NULL;
		}
		elf_end(elf);
	}
	if (probed) {
		a->skel->bss->sites_on = 1;
		return;
	}
	lsc__at_note(a,
		     "%s: libuv's handle initialisers could not be probed: what keeps the process "
		     "alive is counted by type, not by where it was made",
		     a->exe);
	free(a->sites);
	a->sites = NULL;
}

static void *detach(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* Each uprobe's removal waits for an RCU grace period (tens of milliseconds here, 80 ms a
 * probe measured): removed one after the other they held a stop back over a second; each in
 * its own thread, the waits overlap. */
static void detach_all(struct bpf_link **links, size_t n)
{
	pthread_t t[NINITS];
	int started[NINITS] = {0};
	size_t i;

	for (i = 0; i < n; i++)
		if (links[i])
			started[i] = pthread_create(&t[i], NULL, detach, links[i]) == 0;
	for (i = 0; i < n; i++) {
		if (started[i])
			pthread_join(t[i], NULL);
		else if (links[i])
			bpf_link__destroy(links[i]);
	}
}

void lsc__at_sites_close(struct lsc_attach *a)
{
	size_t i;

	if (!a->sites)
		return;
	detach_all(a->sites->links, NINITS);
	for (i = 0; i < a->sites->n; i++)
		free(a->sites->v[i].frames);
	free(a->sites);
	a->sites = NULL;
}

void lsc__at_site_event(struct lsc_attach *a, const struct lscb_submit *s)
{
	uint64_t named[LSCB_MAX_FRAMES + 1];
	const uint64_t *frames;
	struct site *st;
	uint32_t n;

	if (!a->sites || !s->n || a->sites->n == MAX_SITES)
		return;
	frames = lsc__at_submit_frames(a, s, named, &n);
	st = &a->sites->v[a->sites->n];
	st->frames = malloc(n * sizeof(*frames));
	if (!st->frames)
		return;
	memcpy(st->frames, frames, n * sizeof(*frames));
	st->n = n;
	st->id = (int32_t)s->weight;
	a->sites->n++;
}

/* The recording's stack id of a site; 0 when its stack is not known. */
static uint32_t site_stack(struct lsc_attach *a, int32_t id)
{
	size_t i;

	if (id < 0)
		return 0;
	for (i = 0; i < a->sites->n; i++)
		if (a->sites->v[i].id == id)
			return lsc__at_intern(a, a->sites->v[i].frames, a->sites->v[i].n, 0);
	return 0;
}

size_t lsc__at_sites_window(struct lsc_attach *a, const struct lscb_loop *L,
			    Loopscope__HandleSite *hs, Loopscope__HandleSite **hsp, size_t cap)
{
	size_t n = 0;
	uint32_t i;

	if (!a->sites || !L->handles_known)
		return 0;
	for (i = 0; i < L->nsites && i < LSCB_SITES && n < cap; i++) {
		const char *type = lsc_handle_type_name(L->sites[i].type);

		loopscope__handle_site__init(&hs[n]);
		hs[n].type = (char *)(type ? type : "unknown");
		hs[n].has_count = 1;
		hs[n].count = L->sites[i].count;
		hs[n].stack_id = site_stack(a, L->sites[i].site);
		hs[n].has_stack_id = hs[n].stack_id != 0;
		hsp[n] = &hs[n];
		n++;
	}
	return n;
}
