/*
 * cmd_top.c — `loopscope top -p PID`: a live view of a running process's event loop, refreshed
 * every second from the same eBPF programs as `attach` (nothing is recorded). On a terminal it
 * is a full-screen view (ncurses; `q` quits); with output piped, one line a second.
 */
#include "cli.h"
#include "lsc_attach.h"

#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = sig;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* The handles by type, "tcp 11, timer 2, ...", into buf. */
static void handles_text(const struct lsc_attach_status *st, char *buf, size_t cap)
{
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 1; i < LSC_ATTACH_HANDLE_TYPES && off < cap; i++)
		if (st->handles[i] && lsc_handle_type_name((unsigned)i))
			off += (size_t)snprintf(buf + off, cap - off, "%s%s %u", off ? ", " : "",
						lsc_handle_type_name((unsigned)i), st->handles[i]);
}

static void line(const struct lsc_attach_status *st)
{
	char handles[256];

	handles_text(st, handles, sizeof(handles));
	if (!st->have_window) /* other loops turn; the main one waits since before attach */
		printf("%.0f s  main loop: no epoll activity yet\n", st->elapsed_s);
	else if (st->frozen_s > 0)
		printf("%.0f s  FROZEN: no loop turn for %.1f s (lag >= that)\n", st->elapsed_s,
		       st->frozen_s);
	if (st->have_window)
		printf("%.0f s  ELU %.2f  iter/s %.0f  busy p50/p99/max %.1f/%.1f/%.1f ms  lag "
		       "p50/p99/max %.1f/%.1f/%.1f ms  pool depth %u (max %u) idle %u busy %u wait "
		       "p99/max %.1f/%.1f ms  handles %u [%s]  fds "
		       "%u  GC %llu (%.1f ms)  RSS %.1f MiB  top blocking %s %.1f ms\n",
		       st->elapsed_s, st->elu, st->window_s > 0 ? st->iterations / st->window_s : 0,
		       ms(lsc_hist_quantile(&st->busy, 0.5)),
		       ms(lsc_hist_quantile(&st->busy, 0.99)), ms(st->busy.max),
		       ms(lsc_hist_quantile(&st->lag, 0.5)), ms(lsc_hist_quantile(&st->lag, 0.99)),
		       ms(st->lag.max), st->pool_depth, st->pool_depth_max,
		       st->pool_threads >= st->pool_busy_max ? st->pool_threads - st->pool_busy_max
							     : 0,
		       st->pool_busy_max, ms(st->pool_wait_p99_ns), ms(st->pool_wait_max_ns),
		       st->active_handles, handles, st->open_fds, (unsigned long long)st->gc_count,
		       ms(st->gc_pause_ns), st->rss_bytes / 1048576.0,
		       st->top_blocking[0] ? st->top_blocking : "-", ms(st->top_blocking_ns));
	if (st->nloops > 1 || (st->nloops && !st->loops[0].main)) { /* a row per loop */
		unsigned i;

		for (i = 0; i < st->nloops; i++)
			printf("    loop %s%u  ELU %.2f  lag p99 %.1f ms  busy p99 %.1f ms%s\n",
			       st->loops[i].main ? "main, thread " : "thread ", st->loops[i].tid,
			       st->loops[i].elu, ms(st->loops[i].lag_p99_ns),
			       ms(st->loops[i].busy_p99_ns),
			       st->loops[i].frozen_s > 0 ? "  FROZEN" : "");
	}
	fflush(stdout);
}

static void screen(const struct lsc_attach_status *st, int pid)
{
	char handles[256];
	int y = 0;

	handles_text(st, handles, sizeof(handles));
	erase();
	mvprintw(y++, 0, "loopscope top: PID %d, %.0f s (q quits)", pid, st->elapsed_s);
	y++;
	if (!st->have_window)
		mvprintw(y++, 0,
			 "event loop   main: no epoll activity yet (idle since before attach)");
	else
		mvprintw(y++, 0, "event loop   ELU %.2f   %.0f iterations/s", st->elu,
			 st->window_s > 0 ? st->iterations / st->window_s : 0);
	if (st->frozen_s > 0)
		printw("   FROZEN: no loop turn for %.1f s", st->frozen_s);
	mvprintw(y++, 0, "busy         p50 %7.1f ms   p99 %7.1f ms   max %7.1f ms",
		 ms(lsc_hist_quantile(&st->busy, 0.5)), ms(lsc_hist_quantile(&st->busy, 0.99)),
		 ms(st->busy.max));
	mvprintw(y++, 0, "lag          p50 %7.1f ms   p99 %7.1f ms   max %7.1f ms",
		 ms(lsc_hist_quantile(&st->lag, 0.5)), ms(lsc_hist_quantile(&st->lag, 0.99)),
		 ms(st->lag.max));
	if (st->pool_known)
		mvprintw(y++, 0, "thread pool  queue %u (max %u)   threads %u   busy %u   idle %u",
			 st->pool_depth, st->pool_depth_max, st->pool_threads, st->pool_busy_max,
			 st->pool_threads >= st->pool_busy_max
				 ? st->pool_threads - st->pool_busy_max
				 : 0);
	if (st->pool_known)
		mvprintw(y++, 0,
			 "             wait p99 %7.1f ms   max %7.1f ms   (%llu jobs taken)",
			 ms(st->pool_wait_p99_ns), ms(st->pool_wait_max_ns),
			 (unsigned long long)st->pool_waits);
	else
		mvprintw(y++, 0, "thread pool  - (no libuv symbols)");
	mvprintw(y++, 0, "handles      %u active, %u requests   %s", st->active_handles,
		 st->active_reqs, handles);
	mvprintw(y++, 0, "process      %u fds   RSS %.1f MiB", st->open_fds,
		 st->rss_bytes / 1048576.0);
	mvprintw(y++, 0, "GC           %llu pauses, %.1f ms in the last second",
		 (unsigned long long)st->gc_count, ms(st->gc_pause_ns));
	mvprintw(y++, 0, "blocking     %s%s", st->top_blocking[0] ? st->top_blocking : "none", "");
	if (st->top_blocking[0])
		printw(" (%.1f ms, the longest in the last second)", ms(st->top_blocking_ns));
	if (st->nloops > 1 || (st->nloops && !st->loops[0].main)) { /* a row per loop */
		unsigned i;

		y++;
		mvprintw(y++, 0, "loops        thread    ELU   lag p99    busy p99");
		for (i = 0; i < st->nloops; i++)
			mvprintw(y++, 0, "  %-10s %-9u %.2f %7.1f ms %8.1f ms%s",
				 st->loops[i].main ? "main" : "other", st->loops[i].tid,
				 st->loops[i].elu, ms(st->loops[i].lag_p99_ns),
				 ms(st->loops[i].busy_p99_ns),
				 st->loops[i].frozen_s > 0 ? "  FROZEN" : "");
	}
	mvprintw(y + 1, 0, "events %llu, dropped %llu", (unsigned long long)st->events,
		 (unsigned long long)st->dropped);
	refresh();
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"anyway", no_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lsc_attach_opts o = {.block_threshold_ns = 1000000ULL, .window_ns = 1000000000ULL};
	const char *const *notes;
	struct lsc_attach_status st;
	struct lsc_attach *a;
	struct sigaction sa;
	char err[512];
	int c, tty = isatty(1), e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (lsc_cli_parse_pid("top", optarg, &o.pid))
				return LSC_EXIT_USAGE;
			break;
		case 'A':
			o.any_target = 1;
			break;
		case 'h':
			return lsc_help("top");
		default:
			return lsc_usage_error("top", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (!o.pid)
		return lsc_usage_error("top", "which process? (loopscope top -p PID)");
	e = lsc_attach_start(&o, &a, err, sizeof(err));
	if (e)
		return lsc_fail("%s", err);
	for (notes = lsc_attach_notes(a); *notes; notes++)
		lsc_warn("%s", *notes);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (tty) {
		initscr();
		cbreak();
		noecho();
		nodelay(stdscr, TRUE);
		curs_set(0);
		mvprintw(0, 0, "loopscope top: PID %d, attaching...", o.pid);
		refresh();
	}
	memset(&st, 0, sizeof(st));
	while (!stop_requested && !st.target_gone) {
		struct timespec step = {0, 100000000};

		if (lsc_attach_tick(a, &st) > 0) {
			if ((st.have_window || st.nloops) && tty)
				screen(&st, o.pid);
			else if (st.have_window || st.nloops)
				line(&st);
			else if (tty) {
				mvprintw(0, 0,
					 "loopscope top: PID %d, %.0f s: no epoll activity yet (a "
					 "loop idle since before attach shows up when it wakes)",
					 o.pid, st.elapsed_s);
				refresh();
			} else {
				printf("%.0f s  no epoll activity yet\n", st.elapsed_s);
				fflush(stdout);
			}
		}
		if (tty && getch() == 'q')
			break;
		nanosleep(&step, NULL);
	}
	if (tty)
		endwin();
	lsc_attach_stop(a);
	if (st.target_gone)
		fprintf(stderr, "loopscope: PID %d exited\n", o.pid);
	else /* where to look next: a recording, its report and flame graphs */
		fprintf(stderr,
			"loopscope: to see why, record it: loopscope attach -p %d -d 30, then "
			"loopscope report and loopscope flame on the recording\n",
			o.pid);
	return LSC_EXIT_OK;
}
