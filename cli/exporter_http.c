/*
 * exporter_http.c — the exporter's HTTP side, on libmicrohttpd (Debian's libmicrohttpd12): GET
 * /metrics answers with the latest exposition the main loop published, in OpenMetrics when the
 * scraper's Accept header asks for application/openmetrics-text, else in Prometheus's text
 * format. The server runs on a thread of its own; a scrape takes a lock only to copy the
 * published text, so it never holds up the attach sessions' ticks (nor they a scrape).
 */
#include "exporter.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CT_OM	"application/openmetrics-text; version=1.0.0; charset=utf-8"

static struct MHD_Daemon *daemon_;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *text, *om;
static size_t text_len, om_len;

void ex_http_publish(char *t, size_t tl, char *o, size_t ol)
{
	char *old_t, *old_o;

	pthread_mutex_lock(&lock);
	old_t = text;
	old_o = om;
	text = t;
	text_len = tl;
	om = o;
	om_len = ol;
	pthread_mutex_unlock(&lock);
	free(old_t);
	free(old_o);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     const char *body, size_t len, int copy)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ok;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ok = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	static const char index_page[] = "loopscope exporter: the metrics are at /metrics\n";
	static const char not_found[] = "not found: the metrics are at /metrics\n";
	static const char not_allowed[] = "only GET and HEAD\n";
	const char *accept;
	enum MHD_Result ok;
	int want_om;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, 405, "text/plain", not_allowed, sizeof(not_allowed) - 1, 0);
	if (!strcmp(url, "/"))
		return reply(c, 200, "text/plain", index_page, sizeof(index_page) - 1, 0);
	if (strcmp(url, "/metrics"))
		return reply(c, 404, "text/plain", not_found, sizeof(not_found) - 1, 0);
	accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	want_om = accept && strstr(accept, "application/openmetrics-text");
	pthread_mutex_lock(&lock);
	if (want_om && om)
		ok = reply(c, 200, CT_OM, om, om_len, 1);
	else if (text)
		ok = reply(c, 200, CT_TEXT, text, text_len, 1);
	else
		ok = reply(c, 200, CT_TEXT, "", 0, 1);
	pthread_mutex_unlock(&lock);
	return ok;
}

/* addr ("HOST:PORT", "[::1]:PORT", ":PORT") resolved, numeric only; 0, or -1 with one line. */
static int resolve(const char *addr, struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM};
	char host[256];
	const char *colon = strrchr(addr, ':');
	int e;

	if (!colon || !colon[1] || (size_t)(colon - addr) >= sizeof(host)) {
		snprintf(err, errlen, "--listen '%s': give HOST:PORT (127.0.0.1:9464, :9464)",
			 addr);
		return -1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:9464 */
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	e = getaddrinfo(*host ? host : NULL, colon + 1, &hints, res);
	if (e || !*res) {
		snprintf(err, errlen, "--listen '%s': %s (give HOST:PORT, numeric)", addr,
			 gai_strerror(e));
		return -1;
	}
	return 0;
}

int ex_http_check(const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res = NULL;

	if (resolve(addr, &res, err, errlen))
		return -1;
	freeaddrinfo(res);
	return 0;
}

int ex_http_start(const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res = NULL;

	if (resolve(addr, &res, err, errlen))
		return -1;
	/* no MHD_USE_ERROR_LOG: a failure is the one line below, not libmicrohttpd's too */
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
					   (res->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				   0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
				   res->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	freeaddrinfo(res);
	if (!daemon_) {
		snprintf(err, errlen,
			 "cannot listen on %s (in use, or not an address of this host): pick "
			 "another with --listen",
			 addr);
		return -1;
	}
	return 0;
}

void ex_http_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	ex_http_publish(NULL, 0, NULL, 0);
}
