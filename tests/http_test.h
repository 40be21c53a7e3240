/*
 * http_test.h — what tests of an HTTP server need (the exporter's): a free port on 127.0.0.1 and
 * a GET with its status and body. On net_client.h's blocking client.
 */
#ifndef LSC_HTTP_TEST_H
#define LSC_HTTP_TEST_H

#include "net_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A TCP port free on 127.0.0.1 a moment ago. */
static __attribute__((unused)) int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		LSC_FAIL("no free port: %s", strerror(errno));
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* GET path from 127.0.0.1:port (Accept: accept, unless NULL); the body into buf; the status (0:
 * no answer). */
static __attribute__((unused)) int http_get(int port, const char *path_q, const char *accept,
					    char *buf, size_t cap)
{
	static char all[1 << 20];
	char req[4096];
	size_t n = 0;
	ssize_t r;
	int fd = client_connect(port, 0), status = 0;
	char *body;

	buf[0] = 0;
	if (fd < 0)
		return 0;
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%sConnection: close\r\n\r\n", path_q,
		 accept ? "Accept: " : "", accept ? accept : "", accept ? "\r\n" : "");
	if (client_send(fd, req)) {
		close(fd);
		return 0;
	}
	while (n < sizeof(all) - 1 && (r = read(fd, all + n, sizeof(all) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	all[n] = 0;
	if (sscanf(all, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	body = strstr(all, "\r\n\r\n");
	snprintf(buf, cap, "%s", body ? body + 4 : "");
	return status;
}

#endif
