/*
 * listeners.c — when a server starts closing. A SIGTERM, SIGINT or SIGHUP the program handles
 * starts its drain (signals.c); so does closing its last listening socket: `server.close()` in
 * Node, the first step of a graceful shutdown whichever way it was asked for (a message from a
 * cluster's primary, an HTTP admin route, a timer). The agent counts the sockets the program
 * puts in listening state (listen) and notices the close of one (close): when none is left,
 * the drain begins (docs/run.md "Shutdown").
 *
 * Cost: close() of a descriptor that is not one of the listeners is one atomic load and a
 * compare when the program listens on nothing, a scan of at most MAX_LISTENERS ints otherwise.
 * Async-signal-safe, no allocation, no lock: the set is an array of atomic ints.
 */
#include "preload.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define A	      lsc__A

#define MAX_LISTENERS 64

static _Atomic int fds[MAX_LISTENERS]; /* fd + 1; 0: free */

void lsc__shutdown_begins(int why)
{
	uint64_t none = 0;

	if (atomic_compare_exchange_strong(&A.shutdown_ns, &none, lsc__now_ns() - A.t0 + 1))
		atomic_store(&A.shutdown_why, why);
}

DECLARE_REAL(int, listen, int, int);
DECLARE_REAL(int, close, int);

EXPORT int listen(int fd, int backlog)
{
	int r, i, free_slot = 0, none;

	RESOLVE(listen);
	r = REAL(listen)(fd, backlog);
	if (r != 0 || fd < 0)
		return r;
	for (i = 0; i < MAX_LISTENERS; i++)
		if (atomic_load(&fds[i]) == fd + 1)
			return r; /* listen() again on one: already counted */
	for (i = 0; i < MAX_LISTENERS; i++) {
		none = 0;
		if (atomic_compare_exchange_strong(&fds[i], &none, fd + 1)) {
			atomic_fetch_add(&A.listeners, 1);
			free_slot = 1;
			break;
		}
	}
	(void)free_slot; /* more than MAX_LISTENERS: the rest are not watched */
	return r;
}

EXPORT int close(int fd)
{
	int i, mine;

	RESOLVE(close);
	if (atomic_load_explicit(&A.listeners, memory_order_relaxed) > 0 && fd >= 0)
		for (i = 0; i < MAX_LISTENERS; i++) {
			mine = fd + 1;
			if (atomic_compare_exchange_strong(&fds[i], &mine, 0)) {
				/* the last one: the server stops taking connections */
				if (atomic_fetch_sub(&A.listeners, 1) == 1 &&
				    atomic_load_explicit(&A.active, memory_order_relaxed))
					lsc__shutdown_begins(LSC_SHUTDOWN_CLOSED);
				break;
			}
		}
	return REAL(close)(fd);
}
