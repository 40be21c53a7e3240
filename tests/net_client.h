/*
 * net_client.h — a blocking HTTP client for tests that run refloop's loop on the main thread and
 * talk to it from a second thread. Stopping is signalled back with uv_async, so no test waits on
 * a timer to guess that the other side is done.
 */
#ifndef LSC_NET_CLIENT_H
#define LSC_NET_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static __attribute__((unused)) int client_connect(int port, int rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static __attribute__((unused)) int client_send(int fd, const char *s)
{
	size_t n = strlen(s), done = 0;

	while (done < n) {
		ssize_t w = send(fd, s + done, n - done, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		done += w;
	}
	return 0;
}

/* Reads one response: its head into head (NUL-terminated), its body to body (up to cap bytes
 * kept; the rest read and dropped). Returns the body length, or -1 on EOF/garbage. */
static __attribute__((unused)) long client_read_response(int fd, char *head, size_t head_cap,
							 char *body, size_t cap)
{
	size_t len = 0;
	char *end, *cl;
	long clen, got;

	for (;;) {
		ssize_t r = recv(fd, head + len, 1, 0); /* byte by byte: never read past the head */

		if (r <= 0)
			return -1;
		len++;
		if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
			break;
		if (len == head_cap - 1)
			return -1;
	}
	head[len] = 0;
	end = head + len;
	cl = strcasestr(head, "content-length:");
	if (!cl || cl > end)
		return -1;
	clen = strtol(cl + 15, NULL, 10);
	for (got = 0; got < clen;) {
		char sink[65536];
		size_t want =
			(size_t)(clen - got) < sizeof(sink) ? (size_t)(clen - got) : sizeof(sink);
		ssize_t r = recv(fd, sink, want, 0);

		if (r <= 0)
			return -1;
		if (body && (size_t)got < cap)
			memcpy(body + got, sink, (size_t)r < cap - got ? (size_t)r : cap - got);
		got += r;
	}
	return clen;
}

#endif
