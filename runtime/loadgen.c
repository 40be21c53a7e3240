/*
 * loadgen.c — the scenarios' built-in load: a bounded HTTP/1.1 keep-alive client on loopback,
 * run in a forked child process so that the program under study stays a server and nothing else
 * (its CPU, heap, threads and file descriptors are its own; the client's are not).
 *
 * The child uses plain non-blocking sockets and poll(2), no libuv, and stops by itself: at its
 * deadline, after its request budget, or when the parent dies (PR_SET_PDEATHSIG). A slow-reader
 * mode reads each connection at a fixed byte rate from a small receive buffer, which is what
 * makes a server that ignores backpressure pile up memory.
 */
#include "refloop_app.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define HEAD_CAP  8192

enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_HEAD, C_BODY };

struct client {
	int fd;
	enum cstate state;
	size_t sent;
	char head[HEAD_CAP];
	size_t head_len;
	uint64_t body_left;
	uint64_t read_total;
	double start;
	double retry_at;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void client_reset(struct client *c, double retry_at)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = C_IDLE;
	c->retry_at = retry_at;
}

static void client_connect(struct client *c, const struct sockaddr_in *addr, uint64_t read_bps)
{
	int one = 1, small = 16384;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return client_reset(c, now_s() + 0.05);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (read_bps)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (connect(c->fd, (const struct sockaddr *)addr, sizeof(*addr)) && errno != EINPROGRESS)
		return client_reset(c, now_s() + 0.05);
	c->state = C_CONNECTING;
	c->start = now_s();
	c->read_total = 0;
}

/* Returns 1 when a whole response head is in c->head, 0 when more is needed, -1 on garbage. */
static int parse_head(struct client *c)
{
	char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4), *cl;
	size_t head_len, extra;

	if (!end)
		return c->head_len == HEAD_CAP ? -1 : 0;
	*end = 0;
	cl = strcasestr(c->head, "\r\ncontent-length:");
	if (!cl)
		return -1;
	c->body_left = strtoull(cl + 17, NULL, 10);
	head_len = (size_t)(end - c->head) + 4;
	extra = c->head_len - head_len;
	c->body_left = extra > c->body_left ? 0 : c->body_left - extra;
	return 1;
}

/* How many bytes this connection may read now under its rate limit. */
static size_t allowance(const struct client *c, uint64_t read_bps, size_t cap)
{
	double allowed;

	if (!read_bps)
		return cap;
	allowed = (now_s() - c->start) * (double)read_bps - (double)c->read_total;
	if (allowed < 1)
		return 0;
	return allowed < cap ? (size_t)allowed : cap;
}

static int run(const struct rl_load_opts *o)
{
	static struct client cl[MAX_CONNS];
	static char sink[65536];
	struct pollfd pfd[MAX_CONNS];
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(o->port)};
	char req[512];
	int nconn = o->conns > MAX_CONNS ? MAX_CONNS : o->conns, i, reqlen;
	double deadline = o->duration_s > 0 ? now_s() + o->duration_s : 0;
	uint64_t issued = 0;

	if (inet_pton(AF_INET, o->host, &addr.sin_addr) != 1)
		return 1;
	reqlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", o->path,
			  o->host, o->port);
	for (i = 0; i < nconn; i++) {
		cl[i].fd = -1;
		client_reset(&cl[i], 0);
	}
	for (;;) {
		double t = now_s();
		int timeout = 100, active = 0;

		if (deadline && t >= deadline)
			break;
		for (i = 0; i < nconn; i++) {
			struct client *c = &cl[i];
			short ev = 0;

			if (c->state == C_IDLE) {
				if (o->max_requests && issued >= o->max_requests)
					goto skip;
				if (t < c->retry_at) {
					timeout = 10;
					goto skip;
				}
				client_connect(c, &addr, o->read_bps);
			}
			if (c->state == C_CONNECTING || c->state == C_SENDING)
				ev = POLLOUT;
			else if (allowance(c, o->read_bps, 1))
				ev = POLLIN;
			else
				timeout = 10;
			active++;
		skip:
			pfd[i] = (struct pollfd){c->fd, ev, 0};
		}
		if (!active && o->max_requests && issued >= o->max_requests)
			break;
		if (poll(pfd, nconn, timeout) < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < nconn; i++) {
			struct client *c = &cl[i];
			ssize_t n;

			if (c->fd < 0 || !pfd[i].revents)
				continue;
			if (pfd[i].revents & (POLLERR | POLLNVAL)) {
				client_reset(c, now_s() + 0.05);
				continue;
			}
			if (c->state == C_CONNECTING) {
				c->state = C_SENDING;
				c->sent = 0;
				issued++;
			}
			if (c->state == C_SENDING) {
				n = send(c->fd, req + c->sent, reqlen - c->sent, MSG_NOSIGNAL);
				if (n < 0 && errno != EAGAIN) {
					client_reset(c, now_s() + 0.05);
					continue;
				}
				if (n > 0)
					c->sent += n;
				if (c->sent == (size_t)reqlen) {
					c->state = C_HEAD;
					c->head_len = 0;
				}
				continue;
			}
			if (c->state == C_HEAD) {
				n = recv(c->fd, c->head + c->head_len, HEAD_CAP - c->head_len, 0);
				if (n <= 0) {
					if (n == 0 || errno != EAGAIN)
						client_reset(c, now_s() + 0.05);
					continue;
				}
				c->head_len += n;
				c->read_total += n;
				switch (parse_head(c)) {
				case -1:
					client_reset(c, now_s() + 0.05);
					continue;
				case 0:
					continue;
				}
				c->state = C_BODY;
			} else {
				size_t want = allowance(c, o->read_bps, sizeof(sink));

				if (want > c->body_left)
					want = c->body_left;
				n = want ? recv(c->fd, sink, want, 0) : 0;
				if (n < 0 && errno == EAGAIN)
					continue;
				if (want && n <= 0) {
					client_reset(c, now_s() + 0.05);
					continue;
				}
				c->body_left -= n;
				c->read_total += n;
			}
			if (c->state == C_BODY && c->body_left == 0) {
				/* Response complete: the next request on the same connection. */
				if (o->max_requests && issued >= o->max_requests) {
					client_reset(c, 0);
					continue;
				}
				c->state = C_SENDING;
				c->sent = 0;
				issued++;
			}
		}
	}
	return 0;
}

int rl_load_spawn(const struct rl_load_opts *o, pid_t *pid)
{
	pid_t parent = getpid(), p;

	fflush(NULL);
	p = fork();
	if (p < 0)
		return -errno;
	if (p > 0) {
		*pid = p;
		return 0;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	_exit(run(o));
}
