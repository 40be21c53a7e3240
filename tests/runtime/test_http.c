/* test_http.c — the HTTP server: keep-alive, pipelining, bad requests, a taken port. */
#include "task.h"
#include "net_client.h"
#include "rl_internal.h"

static uv_async_t done_async;
static int port;
static char results[1024];

static void echo_path(void *arg, struct rl_http_req *req)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%s %s", rl_http_req_method(req),
			 rl_http_req_path(req));

	rl_http_respond(req, 200, "text/plain", body, (size_t)n);
}

static void on_done(uv_async_t *a)
{
	uv_close((uv_handle_t *)a, NULL);
	rl_stop();
}

static void run_with_client(void *(*client)(void *))
{
	struct rl_http_server *srv;
	pthread_t th;

	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_http_listen("127.0.0.1", 0, echo_path, NULL, &srv));
	port = rl_http_server_port(srv);
	ASSERT_CMP(port, >, 0);
	ASSERT_OK(uv_async_init(rl_loop(), &done_async, on_done));
	ASSERT_OK(pthread_create(&th, NULL, client, NULL));
	ASSERT_OK(rl_run());
	pthread_join(th, NULL);
}

static void *keep_alive_client(void *arg)
{
	char head[4096], body[256];
	int fd = client_connect(port, 0), i;
	long n;

	for (i = 1; i <= 3; i++) {
		char req[128];

		snprintf(req, sizeof(req), "GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		client_send(fd, req);
		n = client_read_response(fd, head, sizeof(head), body, sizeof(body));
		body[n > 0 ? n : 0] = 0;
		strcat(results, body);
		strcat(results, strstr(head, "Connection: keep-alive") ? "+ka;" : "-ka;");
	}
	client_send(fd, "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	n = client_read_response(fd, head, sizeof(head), body, sizeof(body));
	body[n > 0 ? n : 0] = 0;
	strcat(results, body);
	strcat(results, strstr(head, "Connection: close") ? "+close;" : "-close;");
	/* The server closes after a Connection: close response. */
	strcat(results, recv(fd, head, 1, 0) == 0 ? "eof" : "open");
	close(fd);
	uv_async_send(&done_async);
	return NULL;
}

TEST(keep_alive_serves_several_requests_on_one_connection)
{
	struct rl__http_stats st;

	run_with_client(keep_alive_client);
	ASSERT_STR_EQ(results, "GET /r1+ka;GET /r2+ka;GET /r3+ka;GET /last+close;eof");
	rl__http_stats_get(&st);
	ASSERT_EQ(st.connections, 1);
	ASSERT_EQ(st.requests, 4);
	ASSERT_EQ(st.responses, 4);
	rl_release();
}

static void *pipelining_client(void *arg)
{
	char head[4096], body[256];
	int fd = client_connect(port, 0), i;

	client_send(fd, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\n"
			"Content-Length: 5\r\n\r\nhello");
	for (i = 0; i < 3; i++) {
		long n = client_read_response(fd, head, sizeof(head), body, sizeof(body));

		body[n > 0 ? n : 0] = 0;
		strcat(results, body);
		strcat(results, ";");
	}
	close(fd);
	uv_async_send(&done_async);
	return NULL;
}

TEST(pipelined_requests_are_answered_in_order)
{
	run_with_client(pipelining_client);
	ASSERT_STR_EQ(results, "GET /a;GET /b;POST /c;");
	rl_release();
}

static void *bad_client(void *arg)
{
	char head[4096];
	int fd = client_connect(port, 0);

	client_send(fd, "NONSENSE\r\n\r\n");
	client_read_response(fd, head, sizeof(head), NULL, 0);
	strcat(results, strncmp(head, "HTTP/1.1 400 ", 13) == 0 ? "400;" : head);
	strcat(results, recv(fd, head, 1, 0) == 0 ? "eof" : "open");
	close(fd);
	uv_async_send(&done_async);
	return NULL;
}

TEST(malformed_request_gets_400_and_close)
{
	run_with_client(bad_client);
	ASSERT_STR_EQ(results, "400;eof");
	rl_release();
}

TEST(taken_port_is_eaddrinuse)
{
	struct rl_http_server *a, *b;

	ASSERT_OK(rl_init(NULL));
	ASSERT_OK(rl_http_listen("127.0.0.1", 0, echo_path, NULL, &a));
	ASSERT_EQ(rl_http_listen("127.0.0.1", rl_http_server_port(a), echo_path, NULL, &b),
		  UV_EADDRINUSE);
	ASSERT_EQ(rl_http_listen("not-an-address", 0, echo_path, NULL, &b), UV_EINVAL);
	rl_release();
}

TEST_MAIN(TEST_ENTRY(keep_alive_serves_several_requests_on_one_connection),
	  TEST_ENTRY(pipelined_requests_are_answered_in_order),
	  TEST_ENTRY(malformed_request_gets_400_and_close), TEST_ENTRY(taken_port_is_eaddrinuse))
