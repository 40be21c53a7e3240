/*
 * loop.c — what the agent computes from a loop's poll calls, on the loop's own thread, with the
 * times handed in (so it is unit-tested without LD_PRELOAD, on made-up timelines).
 *
 * - ELU per window, libuv's definition: 1 - (time blocked in epoll with a timeout) / wall time.
 *   A poll with timeout 0 (libuv's extra check when idle-time metrics are on, as in Node) is
 *   busy time, exactly as libuv counts it.
 * - Busy segments: from a poll's return to the next poll's entry: the stretches in which the loop
 *   runs callbacks and nothing else can happen (under steady load libuv only ever polls with
 *   timeout 0, so every poll counts).
 * - Iterations: one per poll, except that libuv with idle-time metrics on (as in Node) first polls
 *   with timeout 0 and, finding nothing, at once polls again to wait: that pair, back to back
 *   (MERGE_GAP_NS apart), is one iteration and one busy segment.
 * - Windows close at poll boundaries on the loop thread, or, when the loop waits in epoll past a
 *   window's end, on the writer thread, which claims the parked loop (owner LOOP_PARKED ->
 *   LOOP_CLAIMED), counts the wait so far and hands it back; the loop thread takes ownership back
 *   when epoll returns, waiting out a claim in progress (a few microseconds).
 * - Lag: what a 1 ms repeating timer (Node's monitorEventLoopDelay) would report: the interval
 *   between its firings. While the loop waits in epoll the timer would wake it on time; while it
 *   is busy the timer waits for the next poll boundary. A wait that returned after its timeout
 *   (the thread was runnable and another took the CPU: a busy machine), with or without events,
 *   leaves the timer due from the timeout on: it runs at the next poll boundary, late, and that
 *   lateness is lag a real timer sees too.
 */
#include "agent.h"

#include <string.h>

#define MERGE_GAP_NS 50000ULL

void lsc_loop_init(struct lsc_loop *L, int epfd, uint32_t tid, uint64_t now_ns)
{
	memset(L, 0, offsetof(struct lsc_loop, win));
	L->epfd = epfd;
	L->tid = tid;
	L->busy_start_ns = now_ns;
	L->next_due_ns = now_ns + LSC_AGENT_LAG_PERIOD_NS;
	L->last_fire_ns = now_ns;
	lsc_hist_init(&L->win[0].busy);
	lsc_hist_init(&L->win[0].lag);
	L->win[0].start_ns = now_ns;
	L->cur = 0;
	atomic_store(&L->owner, LOOP_OWNED);
	atomic_store(&L->ready[0], 0);
	atomic_store(&L->ready[1], 0);
	atomic_store(&L->merged, 0);
	atomic_store(&L->wall_pending, 0);
	L->npoll_frames = 0;
}

static void fire(struct lsc_loop *L, uint64_t t)
{
	lsc_hist_add(&L->win[L->cur].lag, t - L->last_fire_ns);
	L->last_fire_ns = t;
	L->next_due_ns = t + LSC_AGENT_LAG_PERIOD_NS;
}

uint64_t lsc_loop_poll_enter(struct lsc_loop *L, uint64_t t, int timeout)
{
	struct lsc_window *w = &L->win[L->cur];
	uint64_t busy = t > L->busy_start_ns ? t - L->busy_start_ns : 0;
	int pair = L->after_empty_check && busy < MERGE_GAP_NS;

	L->enter_ns = L->wait_start_ns = t;
	L->wait_timeout_ms = timeout;
	L->in_poll = 1;
	L->after_empty_check = 0;
	if (!pair) {
		w->iterations++;
		lsc_hist_add(&w->busy, busy);
		/* The timer fell due while the loop was busy: it runs now, before the poll. */
		if (L->next_due_ns <= t)
			fire(L, t);
	}
	if (timeout != 0)
		atomic_store_explicit(&L->owner, LOOP_PARKED, memory_order_release);
	return pair ? 0 : busy;
}

/* The wait from L->enter_ns to t was idle: count it, and the timer firings in it. A wait past
 * its own timeout (the thread runnable, not running) fires nothing after the timeout: the timer
 * then runs at the next poll boundary, late, as a real one would. */
static void idle_until(struct lsc_loop *L, uint64_t t)
{
	struct lsc_window *w = &L->win[L->cur];
	uint64_t n, due_by = t;

	if (t <= L->enter_ns)
		return;
	w->idle_ns += t - L->enter_ns;
	L->idle_total_ns += t - L->enter_ns;
	L->enter_ns = t;
	if (L->wait_timeout_ms > 0 &&
	    L->wait_start_ns + (uint64_t)L->wait_timeout_ms * 1000000ULL < due_by)
		due_by = L->wait_start_ns + (uint64_t)L->wait_timeout_ms * 1000000ULL;
	/* Waiting in epoll, the timer would have woken the loop on time, once per period. */
	if (L->next_due_ns <= due_by) {
		n = (due_by - L->next_due_ns) / LSC_AGENT_LAG_PERIOD_NS + 1;
		lsc_hist_add_n(&w->lag, LSC_AGENT_LAG_PERIOD_NS, n);
		L->last_fire_ns = L->next_due_ns + (n - 1) * LSC_AGENT_LAG_PERIOD_NS;
		L->next_due_ns = L->last_fire_ns + LSC_AGENT_LAG_PERIOD_NS;
	}
}

void lsc_loop_poll_exit(struct lsc_loop *L, uint64_t t, int timeout, int nevents)
{
	int parked = LOOP_PARKED;

	/* Take the loop back from the writer, waiting for a window close in progress. */
	while (timeout != 0 &&
	       !atomic_compare_exchange_weak_explicit(&L->owner, &parked, LOOP_OWNED,
						      memory_order_acquire, memory_order_relaxed))
		parked = LOOP_PARKED;
	L->in_poll = 0;
	L->busy_start_ns = t;
	if (timeout == 0) {
		L->after_empty_check = nevents == 0;
		return;
	}
	idle_until(L, t);
}

int lsc_loop_close_parked(struct lsc_loop *L, uint64_t t, uint64_t window_ns)
{
	int parked = LOOP_PARKED, closed = 0;

	if (!atomic_compare_exchange_strong_explicit(&L->owner, &parked, LOOP_CLAIMED,
						     memory_order_acquire, memory_order_relaxed))
		return 0;
	if (t >= L->win[L->cur].start_ns + window_ns) {
		idle_until(L, t);
		closed = lsc_loop_maybe_close_window(L, t, window_ns);
		/* Parked in epoll, the loop has not touched its handles since it last took stock
		 * of them: the new window starts with the same counts. */
		if (closed)
			lsc_loop_carry_handles(&L->win[L->cur], &L->win[!L->cur]);
	}
	atomic_store_explicit(&L->owner, LOOP_PARKED, memory_order_release);
	return closed;
}

void lsc_loop_carry_handles(struct lsc_window *to, const struct lsc_window *from)
{
	to->active_handles = from->active_handles;
	to->active_reqs = from->active_reqs;
	memcpy(to->handles, from->handles, sizeof(to->handles));
	to->handles_known = from->handles_known;
}

int lsc_loop_maybe_close_window(struct lsc_loop *L, uint64_t t, uint64_t window_ns)
{
	struct lsc_window *w = &L->win[L->cur], *nw;
	int other = !L->cur;

	if (t < w->start_ns + window_ns)
		return 0;
	w->end_ns = t;
	if (atomic_load_explicit(&L->ready[other], memory_order_acquire)) {
		/* The writer has not taken the previous window yet: keep filling this one. */
		atomic_fetch_add_explicit(&L->merged, 1, memory_order_relaxed);
		return 0;
	}
	atomic_store_explicit(&L->ready[L->cur], 1, memory_order_release);
	L->cur = other;
	nw = &L->win[other];
	nw->start_ns = t;
	nw->end_ns = 0;
	nw->idle_ns = 0;
	nw->iterations = 0;
	nw->handles_known = 0;
	lsc_hist_init(&nw->busy);
	lsc_hist_init(&nw->lag);
	return 1;
}

int lsc_loop_take_window(struct lsc_loop *L)
{
	int i;

	for (i = 0; i < 2; i++)
		if (atomic_load_explicit(&L->ready[i], memory_order_acquire))
			return i;
	return -1;
}

void lsc_loop_release_window(struct lsc_loop *L, int i)
{
	atomic_store_explicit(&L->ready[i], 0, memory_order_release);
}
