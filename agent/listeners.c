/*
 * listeners.c — when a server starts closing. A SIGTERM, SIGINT or SIGHUP the program handles
 * starts its drain (signals.c); so does closing its last listening socket: `server.close()` in
 * Node, the first step of a graceful shutdown whichever way it was asked for (a message from a
 * cluster's primary, an HTTP admin route, a timer). docs/run.md "Shutdown".
 *
 * libuv closes descriptors with a raw syscall(SYS_close), which no interposer sees; but before
 * that it takes the descriptor out of its epoll set with epoll_ctl(EPOLL_CTL_DEL) through libc
 * (uv__platform_invalidate_fd), on the loop thread, in uv_close itself. So: listen() adds the
 * descriptor to a set, epoll_ctl(DEL) of one in the set removes it; when the set empties the
 * drain begins, on the loop thread, where its window is split at once. A DEL libuv batches
 * elsewhere (inside its poll, through io_uring) is caught at the main loop's next poll instead:
 * each listener is checked to be still listening (getsockopt SO_ACCEPTCONN) at most every
 * CHECK_NS; a number reused by another socket is then not listening either.
 *
 * Cost: epoll_ctl of another descriptor is a scan of MAX_LISTENERS ints when the program
 * listens at all; the check is one getsockopt per listener per CHECK_NS. No allocation, no lock:
 * the set is an array of atomic ints.
 */
#include "preload.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define A	      lsc__A
#define T	      lsc__T

#define MAX_LISTENERS 64
#define CHECK_NS      50000000ULL

static _Atomic int fds[MAX_LISTENERS]; /* fd + 1; 0: free */

void lsc__shutdown_begins(int why)
{
	uint64_t none = 0;

	if (atomic_compare_exchange_strong(&A.shutdown_ns, &none, lsc__now_ns() - A.t0 + 1))
		atomic_store(&A.shutdown_why, why);
}

/* fd left the set: the last one, and the program stops serving. */
static void gone(int slot)
{
	int was = atomic_exchange(&fds[slot], 0);

	if (!was)
		return;
	if (atomic_fetch_sub(&A.listeners, 1) == 1 &&
	    atomic_load_explicit(&A.active, memory_order_relaxed)) {
		lsc__shutdown_begins(LSC_SHUTDOWN_CLOSED);
		lsc__shutdown_split_here();
	}
}

DECLARE_REAL(int, listen, int, int);
DECLARE_REAL(int, epoll_ctl, int, int, int, struct epoll_event *);

EXPORT int listen(int fd, int backlog)
{
	int r, i, none;

	RESOLVE(listen);
	r = REAL(listen)(fd, backlog);
	if (r != 0 || fd < 0 || T.in_agent)
		return r;
	for (i = 0; i < MAX_LISTENERS; i++)
		if (atomic_load(&fds[i]) == fd + 1)
			return r; /* listen() again on one: counted already */
	for (i = 0; i < MAX_LISTENERS; i++) {
		none = 0;
		if (atomic_compare_exchange_strong(&fds[i], &none, fd + 1)) {
			atomic_fetch_add(&A.listeners, 1);
			break;
		}
	}
	return r; /* more than MAX_LISTENERS: the rest are not watched */
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int i, saved;

	RESOLVE(epoll_ctl);
	if (op == EPOLL_CTL_DEL && fd >= 0 &&
	    atomic_load_explicit(&A.listeners, memory_order_relaxed) > 0) {
		saved = errno;
		for (i = 0; i < MAX_LISTENERS; i++)
			if (atomic_load_explicit(&fds[i], memory_order_relaxed) == fd + 1) {
				gone(i);
				break;
			}
		errno = saved;
	}
	return REAL(epoll_ctl)(epfd, op, fd, ev);
}

void lsc__listeners_check(uint64_t now)
{
	static uint64_t last;
	int i, fd, on, saved;
	socklen_t len;

	if (atomic_load_explicit(&A.listeners, memory_order_relaxed) <= 0 || now - last < CHECK_NS)
		return;
	last = now;
	saved = errno;
	for (i = 0; i < MAX_LISTENERS; i++) {
		fd = atomic_load_explicit(&fds[i], memory_order_relaxed) - 1;
		if (fd < 0)
			continue;
		on = 0;
		len = sizeof(on);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on)
			gone(i);
	}
	errno = saved;
}
