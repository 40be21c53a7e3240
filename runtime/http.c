/*
 * http.c — refloop's net/http module: an HTTP/1.1 server with keep-alive over uv_tcp, streaming
 * responses with Node's write()/drain backpressure contract, and a file pipe that honours it.
 *
 * Why a parser of our own: Node's (llhttp) is not packaged in Debian 12, and refloop needs only
 * the request line, headers and a Content-Length body of requests its own clients send. Requests
 * on one connection are handled one at a time, in order: reading stops while a request is in the
 * handler's hands and resumes (or parses what was pipelined) once its response has been written.
 *
 * Lifetimes: a connection is freed in its close callback; a request when its response has ended
 * and its last write completed. A request outlives its connection when the client goes away
 * mid-response (req->conn becomes NULL and further writes fail with UV_EPIPE), so a handler
 * finishing late on the thread pool never touches freed memory.
 */
#include "rl_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEAD    (16u * 1024u) /* Node's default --max-http-header-size */
#define MAX_HEADERS 32
#define HIGH_WATER  (64u * 1024u)

struct conn;

struct rl_http_server {
	uv_tcp_t tcp;
	rl_http_handler handler;
	void *arg;
	int closing;
	int listener_closing; /* its listening socket is closing or closed */
	int listener_closed;
	size_t nconns;
	struct conn *conns;
	struct rl_http_server *next;
};

struct conn {
	uv_tcp_t tcp;
	struct rl_http_server *srv;
	struct conn *prev, *next;
	char *in;
	size_t in_len;
	struct rl_http_req *cur;
	int reading;
	int closing;
};

struct header {
	const char *name;
	const char *value;
};

struct rl_http_req {
	struct conn *conn;
	uint64_t id;
	char *head; /* a copy of the request head, NUL-separated, that the strings below point into
		     */
	const char *method;
	const char *path;
	struct header headers[MAX_HEADERS];
	int nheaders;
	int keep_alive;
	int began;
	int ended;
	int aborted; /* the client went away before the response was complete */
	int status;
	size_t pending_writes;
	struct rl_object *held;
	int held_rooted;
	rl_task_fn drain_fn;
	void *drain_arg;
};

struct write_req {
	uv_write_t w;
	struct rl_http_req *req;
	char data[];
};

static struct rl_http_server *servers;
static struct rl__http_stats st;
static uint64_t next_req_id;

static void conn_close(struct conn *c);
static void conn_resume(struct conn *c);

/* ------------------------------------------------------------------ requests */

const char *rl_http_req_method(const struct rl_http_req *req)
{
	return req->method;
}

const char *rl_http_req_path(const struct rl_http_req *req)
{
	return req->path;
}

uint64_t rl_http_req_id(const struct rl_http_req *req)
{
	return req->id;
}

const char *rl_http_req_header(const struct rl_http_req *req, const char *name)
{
	int i;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

void rl_http_req_hold(struct rl_http_req *req, struct rl_object *obj)
{
	if (!req->held_rooted && rl_root_add(&req->held) == 0)
		req->held_rooted = 1;
	req->held = obj;
}

struct rl_object *rl_http_req_held(const struct rl_http_req *req)
{
	return req->held;
}

size_t rl_http_write_queue_size(const struct rl_http_req *req)
{
	return req->conn ? uv_stream_get_write_queue_size((uv_stream_t *)&req->conn->tcp) : 0;
}

static void req_free(struct rl_http_req *req)
{
	if (req->held_rooted)
		rl_root_remove(&req->held);
	free(req->head);
	free(req);
}

/* The response has ended and its last byte is written (or dropped): let the connection go on. */
static void req_finished(struct rl_http_req *req)
{
	struct conn *c = req->conn;

	RL_PROBE2(request__end, req->id, req->status);
	st.responses++;
	if (c) {
		c->cur = NULL;
		if (!req->keep_alive || rl_stopping())
			conn_close(c);
		else
			conn_resume(c);
	}
	req_free(req);
}

static void req_abort(struct rl_http_req *req)
{
	if (!req->aborted && !(req->ended && req->pending_writes == 0)) {
		req->aborted = 1;
		st.aborted++;
	}
}

static void drain_task(void *arg)
{
	struct rl_http_req *req = arg;
	rl_task_fn fn = req->drain_fn;

	req->drain_fn = NULL;
	fn(req->drain_arg);
}

static void write_done(uv_write_t *w, int status)
{
	struct write_req *wr = rl__container_of(w, struct write_req, w);
	struct rl_http_req *req = wr->req;

	rl_buffer_free(wr);
	if (status < 0) {
		/* Reset by the peer (or cancelled by a close): the connection is done for. Closing
		 * it cancels the writes still queued, so a drain waiter hears of it below. */
		req_abort(req);
		if (req->conn)
			conn_close(req->conn);
	}
	if (--req->pending_writes)
		return;
	if (req->ended)
		req_finished(req);
	else if (req->drain_fn)
		/* Last use of req here: the drain callback may end the response, which frees it. */
		rl__dispatch(RL_CB_IO, drain_task, req);
}

static int queue_write(struct rl_http_req *req, const void *a, size_t alen, const void *b,
		       size_t blen)
{
	struct write_req *wr;
	uv_buf_t buf;
	size_t q;
	int err;

	if (!req->conn || req->conn->closing) {
		req_abort(req);
		return UV_EPIPE;
	}
	wr = rl_buffer_alloc(sizeof(*wr) + alen + blen);
	if (!wr)
		return UV_ENOMEM;
	wr->req = req;
	memcpy(wr->data, a, alen);
	if (blen)
		memcpy(wr->data + alen, b, blen);
	buf = uv_buf_init(wr->data, (unsigned)(alen + blen));
	err = uv_write(&wr->w, (uv_stream_t *)&req->conn->tcp, &buf, 1, write_done);
	if (err) {
		rl_buffer_free(wr);
		return err;
	}
	req->pending_writes++;
	st.bytes_out += alen + blen;
	q = uv_stream_get_write_queue_size((uv_stream_t *)&req->conn->tcp);
	if (q > st.peak_write_queue)
		st.peak_write_queue = q;
	return q < HIGH_WATER ? 1 : 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 413:
		return "Payload Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

static int format_head(struct rl_http_req *req, int status, const char *ctype, uint64_t len,
		       char *out, size_t cap)
{
	int keep = req->keep_alive && !rl_stopping();

	req->keep_alive = keep;
	return snprintf(out, cap,
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %llu\r\n"
			"Connection: %s\r\n\r\n",
			status, reason(status), ctype ? ctype : "text/plain",
			(unsigned long long)len, keep ? "keep-alive" : "close");
}

int rl_http_begin(struct rl_http_req *req, int status, const char *content_type, uint64_t length)
{
	char head[512];
	int n, err;

	if (req->began || req->ended)
		return UV_EINVAL;
	req->began = 1;
	req->status = status;
	n = format_head(req, status, content_type, length, head, sizeof(head));
	err = queue_write(req, head, (size_t)n, NULL, 0);
	return err < 0 ? err : 0;
}

int rl_http_write(struct rl_http_req *req, const void *data, size_t len)
{
	if (!req->began || req->ended)
		return UV_EINVAL;
	return queue_write(req, data, len, NULL, 0);
}

int rl_http_on_drain(struct rl_http_req *req, rl_task_fn fn, void *arg)
{
	if (req->ended)
		return UV_EINVAL;
	/* Nothing in flight: nothing to wait for, write on (and no deferred call that could
	 * outlive the request). */
	if (req->pending_writes == 0)
		return UV_EALREADY;
	req->drain_fn = fn;
	req->drain_arg = arg;
	return 0;
}

int rl_http_end(struct rl_http_req *req)
{
	if (req->ended)
		return UV_EINVAL;
	req->ended = 1;
	req->drain_fn = NULL;
	if (!req->began)
		req->keep_alive =
			0; /* a response that never began leaves the client nothing to parse */
	if (req->pending_writes == 0)
		req_finished(req);
	return 0;
}

int rl_http_respond(struct rl_http_req *req, int status, const char *content_type, const void *body,
		    size_t len)
{
	char head[512];
	int n, err;

	if (req->began || req->ended)
		return UV_EINVAL;
	req->began = 1;
	req->status = status;
	n = format_head(req, status, content_type, len, head, sizeof(head));
	err = queue_write(req, head, (size_t)n, body, len);
	rl_http_end(req);
	return err < 0 ? err : 0;
}

/* ------------------------------------------------------------------ file pipe */

#define PIPE_CHUNK (64u * 1024u)

struct pipe_file {
	uv_fs_t fs;
	struct rl_http_req *req;
	const char *ctype;
	uv_file fd;
	char *chunk;
	int status;
};

static void pipe_read(struct pipe_file *p);

static void pipe_closed(uv_fs_t *fs)
{
	struct pipe_file *p = rl__container_of(fs, struct pipe_file, fs);

	uv_fs_req_cleanup(fs);
	rl_buffer_free(p->chunk);
	free(p);
}

static void pipe_end_task(void *arg)
{
	struct pipe_file *p = arg;

	if (!p->req->began)
		rl_http_respond(p->req, p->status ? p->status : 500, "text/plain", "error\n", 6);
	else
		rl_http_end(p->req);
	if (p->fd < 0 || uv_fs_close(rl_loop(), &p->fs, p->fd, pipe_closed))
		pipe_closed(&p->fs);
}

static void pipe_finish(struct pipe_file *p)
{
	rl__dispatch(RL_CB_FS, pipe_end_task, p);
}

static void pipe_resume(void *arg)
{
	st.stream_resumes++;
	pipe_read(arg);
}

static void pipe_write_task(void *arg)
{
	struct pipe_file *p = arg;
	int w = rl_http_write(p->req, p->chunk, (size_t)p->fs.result);

	if (w < 0)
		return pipe_end_task(p); /* the client went away */
	/* Over the high-water mark: wait for the socket to drain before reading on. */
	if (w == 0 && rl_http_on_drain(p->req, pipe_resume, p) == 0) {
		st.stream_pauses++;
		return;
	}
	pipe_read(p);
}

static void pipe_on_read(uv_fs_t *fs)
{
	struct pipe_file *p = rl__container_of(fs, struct pipe_file, fs);
	ssize_t n = fs->result;

	uv_fs_req_cleanup(fs);
	p->fs.result = n;
	if (n <= 0)
		return pipe_finish(p);
	rl__dispatch(RL_CB_FS, pipe_write_task, p);
}

static void pipe_read(struct pipe_file *p)
{
	uv_buf_t b = uv_buf_init(p->chunk, PIPE_CHUNK);

	p->fs.result = 0;
	if (uv_fs_read(rl_loop(), &p->fs, p->fd, &b, 1, -1, pipe_on_read))
		pipe_finish(p);
}

static void pipe_on_fstat(uv_fs_t *fs)
{
	struct pipe_file *p = rl__container_of(fs, struct pipe_file, fs);
	uint64_t size = fs->statbuf.st_size;
	int err = (int)fs->result;

	uv_fs_req_cleanup(fs);
	if (err < 0 || rl_http_begin(p->req, 200, p->ctype, size) < 0)
		return pipe_finish(p);
	pipe_read(p);
}

static void pipe_on_open(uv_fs_t *fs)
{
	struct pipe_file *p = rl__container_of(fs, struct pipe_file, fs);

	uv_fs_req_cleanup(fs);
	if (fs->result < 0) {
		p->status = fs->result == UV_ENOENT ? 404 : 500;
		return pipe_finish(p);
	}
	p->fd = (uv_file)fs->result;
	if (uv_fs_fstat(rl_loop(), &p->fs, p->fd, pipe_on_fstat))
		pipe_finish(p);
}

int rl_http_pipe_file(struct rl_http_req *req, const char *path, const char *content_type)
{
	struct pipe_file *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return UV_ENOMEM;
	p->chunk = rl_buffer_alloc(PIPE_CHUNK);
	if (!p->chunk) {
		free(p);
		return UV_ENOMEM;
	}
	p->req = req;
	p->ctype = content_type;
	p->fd = -1;
	err = uv_fs_open(rl_loop(), &p->fs, path, O_RDONLY | O_CLOEXEC, 0, pipe_on_open);
	if (err) {
		rl_buffer_free(p->chunk);
		free(p);
	}
	return err;
}

/* ------------------------------------------------------------------ connections */

static void handler_task(void *arg)
{
	struct rl_http_req *req = arg;

	req->conn->srv->handler(req->conn->srv->arg, req);
}

static int token_has(const char *value, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = value; (p = strcasestr(p, token)); p += n)
		if ((p == value || p[-1] == ' ' || p[-1] == ',') &&
		    (p[n] == 0 || p[n] == ' ' || p[n] == ','))
			return 1;
	return 0;
}

/* Quick answer to a request the parser refuses; the connection closes after it. */
static void reject(struct conn *c, int status)
{
	struct rl_http_req *req = calloc(1, sizeof(*req));

	if (!req)
		return conn_close(c);
	req->conn = c;
	req->id = ++next_req_id;
	c->cur = req;
	rl_http_respond(req, status, "text/plain", reason(status), strlen(reason(status)));
}

/*
 * Parses one request from the head of c->in. Returns 1 when a request was handed to the handler,
 * 0 when more bytes are needed, or a status code (>= 400) for a malformed request.
 */
static int parse_one(struct conn *c)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4), *line, *next, *sp1, *sp2;
	size_t head_len, body_len = 0;
	struct rl_http_req *req;
	const char *cl, *conn_hdr;
	int http10;

	if (!end)
		return c->in_len >= MAX_HEAD ? 431 : 0;
	head_len = (size_t)(end - c->in) + 4;
	req = calloc(1, sizeof(*req));
	if (!req || !(req->head = malloc(head_len + 1))) {
		free(req);
		return 503;
	}
	memcpy(req->head, c->in, head_len);
	req->head[head_len] = 0;

	line = req->head;
	next = strstr(line, "\r\n");
	*next = 0;
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		goto bad;
	*sp1 = *sp2 = 0;
	req->method = line;
	req->path = sp1 + 1;
	http10 = sp2[8] == '0';
	for (line = next + 2; *line != '\r'; line = next + 2) {
		char *colon;

		next = strstr(line, "\r\n");
		*next = 0;
		colon = strchr(line, ':');
		if (!colon || req->nheaders == MAX_HEADERS)
			goto bad;
		*colon++ = 0;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		req->headers[req->nheaders++] = (struct header){line, colon};
	}
	cl = rl_http_req_header(req, "Content-Length");
	if (cl) {
		char *e;
		unsigned long long v = strtoull(cl, &e, 10);

		if (*e || v > MAX_HEAD)
			goto bad;
		body_len = v;
	}
	if (rl_http_req_header(req, "Transfer-Encoding"))
		goto bad; /* no chunked request bodies */
	if (head_len + body_len > MAX_HEAD) {
		req_free(req);
		return 413;
	}
	if (c->in_len < head_len + body_len) {
		req_free(req);
		return 0;
	}
	conn_hdr = rl_http_req_header(req, "Connection");
	req->keep_alive = http10 ? conn_hdr && token_has(conn_hdr, "keep-alive")
				 : !(conn_hdr && token_has(conn_hdr, "close"));
	/* The body is not kept: refloop's handlers take none. Consume it with the head. */
	memmove(c->in, c->in + head_len + body_len, c->in_len - head_len - body_len);
	c->in_len -= head_len + body_len;

	req->conn = c;
	req->id = ++next_req_id;
	c->cur = req;
	st.requests++;
	RL_PROBE1(request__begin, req->id);
	rl__dispatch(RL_CB_IO, handler_task, req);
	return 1;
bad:
	req_free(req);
	return 400;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	*buf = uv_buf_init(c->in + c->in_len, (unsigned)(MAX_HEAD - c->in_len));
}

static void parse_pending(struct conn *c)
{
	int r;

	if (c->cur || c->closing)
		return;
	r = parse_one(c);
	if (r >= 400)
		return reject(c, r);
	if (r == 1) {
		/* One request at a time; reading resumes when its response is written. */
		if (c->reading && !c->closing) {
			uv_read_stop((uv_stream_t *)&c->tcp);
			c->reading = 0;
		}
	}
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (n < 0)
		return conn_close(c);
	c->in_len += n;
	parse_pending(c);
}

static void conn_resume(struct conn *c)
{
	if (c->closing)
		return;
	parse_pending(c);
	if (!c->cur && !c->closing && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
			c->reading = 1;
		else
			conn_close(c);
	}
}

static void server_maybe_free(struct rl_http_server *s)
{
	struct rl_http_server **pp;

	if (!s->listener_closed || s->nconns)
		return;
	for (pp = &servers; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s);
}

static void conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct rl_http_server *s = c->srv;
	struct rl_http_req *req = c->cur;

	if (req) {
		/* The client left mid-response (cancelled writes have completed by now, so req has
		 * not ended): the handler still owns req and will end it. A drain waiter learns it
		 * now, by its next write failing; that call is the last use of req here. */
		req->conn = NULL;
		req_abort(req);
		if (req->drain_fn)
			rl__dispatch(RL_CB_IO, drain_task, req);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	rl_buffer_free(c->in);
	free(c);
	rl__handle_closed(UV_TCP);
	server_maybe_free(s);
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void connection_cb(uv_stream_t *server, int status)
{
	struct rl_http_server *s = server->data;
	struct conn *c;

	if (status < 0 || s->closing)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->in = rl_buffer_alloc(MAX_HEAD);
	if (!c->in || uv_tcp_init(rl_loop(), &c->tcp)) {
		rl_buffer_free(c->in);
		free(c);
		return;
	}
	c->tcp.data = c;
	c->srv = s;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	st.connections++;
	rl__handle_opened(UV_TCP);
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	conn_resume(c);
	rl__note_active();
}

/* ------------------------------------------------------------------ servers */

static void listener_closed(uv_handle_t *h)
{
	struct rl_http_server *s = h->data;

	s->listener_closed = 1;
	rl__handle_closed(UV_TCP);
	server_maybe_free(s);
}

int rl_http_listen(const char *host, int port, rl_http_handler handler, void *arg,
		   struct rl_http_server **out)
{
	struct sockaddr_storage ss;
	struct rl_http_server *s;
	int err;

	if (port < 0 || port > 65535 || !handler)
		return UV_EINVAL;
	if (!host)
		host = "127.0.0.1";
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss))
		return UV_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return UV_ENOMEM;
	s->handler = handler;
	s->arg = arg;
	err = uv_tcp_init(rl_loop(), &s->tcp);
	if (err) {
		free(s);
		return err;
	}
	s->tcp.data = s;
	s->next = servers;
	servers = s;
	rl__handle_opened(UV_TCP);
	err = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
	if (!err)
		err = uv_listen((uv_stream_t *)&s->tcp, 511, connection_cb);
	if (err) {
		rl_http_server_close(s);
		return err;
	}
	if (out)
		*out = s;
	rl__note_active();
	return 0;
}

int rl_http_server_port(const struct rl_http_server *s)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len))
		return UV_EINVAL;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

void rl_http_server_close(struct rl_http_server *s)
{
	struct conn *c;

	if (!s || s->closing)
		return;
	s->closing = 1;
	for (c = s->conns; c; c = c->next)
		conn_close(c);
	if (!s->listener_closing) {
		s->listener_closing = 1;
		uv_close((uv_handle_t *)&s->tcp, listener_closed);
	}
}

void rl_http_stop_listening(void)
{
	struct rl_http_server *s;

	for (s = servers; s; s = s->next)
		if (!s->listener_closing) {
			s->listener_closing = 1;
			uv_close((uv_handle_t *)&s->tcp, listener_closed);
		}
}

void rl__http_close_all(void)
{
	struct rl_http_server *s;

	for (s = servers; s; s = s->next)
		rl_http_server_close(s);
}

void rl__http_stats_get(struct rl__http_stats *out)
{
	*out = st;
}
