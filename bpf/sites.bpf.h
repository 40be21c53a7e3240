/*
 * sites.bpf.h — where libuv handles are made, for what keeps a process alive (included by
 * loop.bpf.c). One uprobe program at the entry of each of libuv's handle initialisers
 * (uv_timer_init, uv_tcp_init_ex, uv_pipe_init, uv_spawn, ...: the handle is the second argument
 * of every one): the user stack's id in the stacks map (the kernel's frame-pointer walk, about a
 * microsecond) is the site, kept by the handle's address in handle_sites; the handle walk
 * (handles_sample) counts the alive handles by type and site. The first time a site is seen its
 * stack is walked as a pool submission's (stack.bpf.h: CFI rows, JS frames' functions) and sent
 * to user space (LSCB_EV_HANDLE_SITE), which names it; a site is sent once (sites_sent).
 */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __s32);
	__type(value, __u8);
} sites_sent SEC(".maps");

__u64 sites_dropped; /* sites whose stack the ring buffer had no room for */

SEC("uprobe") /* BPF_KPROBE reads a uprobe's arguments too (libbpf 1.1 has no BPF_UPROBE) */
int BPF_KPROBE(on_handle_init, void *loop, void *handle)
{
	struct lscb_submit *e;
	__u64 h = (__u64)handle;
	__s32 site;
	__u8 one = 1;
	__u32 tid;

	if (!is_target(&tid) || !h)
		return 0;
	site = (__s32)bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	if (site < 0)
		return 0;
	bpf_map_update_elem(&handle_sites, &h, &site, BPF_ANY);
	if (bpf_map_lookup_elem(&sites_sent, &site))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&sites_dropped, 1);
		return 0;
	}
	bpf_map_update_elem(&sites_sent, &site, &one, BPF_ANY);
	e->type = LSCB_EV_HANDLE_SITE;
	e->tid = tid;
	e->t_ns = bpf_ktime_get_ns();
	e->weight = (__u32)site;
	/* at the function's entry, stopped at the uprobe's int3: the walk takes the probed
	 * instruction's unwind row (stack.bpf.h) */
	e->n = uw_stack(ctx, e->ips, e->sfis, e->prints, 1, 1);
	if (!v8_on) { /* not written by the walk: zeroed, not the ring's old bytes */
		volatile __u64 *sf = e->sfis, *pr = e->prints;

		for (int i = 0; i < LSCB_MAX_FRAMES; i++)
			sf[i] = pr[i] = 0;
	}
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}
