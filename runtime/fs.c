/*
 * fs.c — refloop's fs module: whole-file read, write and stat, each synchronous and asynchronous.
 *
 * Both go through libuv's uv_fs_* exactly as Node's fs does: with a callback the request runs on
 * the thread pool (uv__fs_work on a worker); without one it runs right here on the loop thread
 * (uv__fs_work on the loop thread), which is how fs.readFileSync blocks Node's loop. So the
 * stacks loopscope records for a synchronous read pass through uv_fs_read and uv__fs_work in
 * refloop just as they do in node.
 *
 * File contents are runtime buffers (rl_buffer_alloc), counted in --stats.
 */
#include "rl_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ synchronous */

static int sync_close(uv_file fd)
{
	uv_fs_t req;
	int err = uv_fs_close(NULL, &req, fd, NULL);

	uv_fs_req_cleanup(&req);
	return err;
}

int rl_fs_stat_sync(const char *path, uint64_t *size)
{
	uv_fs_t req;
	int err = uv_fs_stat(NULL, &req, path, NULL);

	if (err == 0)
		*size = req.statbuf.st_size;
	uv_fs_req_cleanup(&req);
	return err;
}

int rl_fs_read_file_sync(const char *path, char **data, size_t *len)
{
	uv_fs_t req;
	uv_file fd;
	uint64_t size;
	size_t got = 0;
	char *buf = NULL;
	int err;

	err = uv_fs_open(NULL, &req, path, O_RDONLY | O_CLOEXEC, 0, NULL);
	uv_fs_req_cleanup(&req);
	if (err < 0)
		return err;
	fd = err;
	err = uv_fs_fstat(NULL, &req, fd, NULL);
	size = req.statbuf.st_size;
	uv_fs_req_cleanup(&req);
	if (err < 0)
		goto out;
	buf = rl_buffer_alloc(size ? size : 1);
	if (!buf) {
		err = UV_ENOMEM;
		goto out;
	}
	/* As readFileSync does for a regular file: one read of the whole size, more if short. */
	while (got < size) {
		uv_buf_t b = uv_buf_init(buf + got, (unsigned)(size - got));
		ssize_t n = uv_fs_read(NULL, &req, fd, &b, 1, -1, NULL);

		uv_fs_req_cleanup(&req);
		if (n < 0) {
			err = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		got += n;
	}
	err = 0;
	*data = buf;
	*len = got;
	buf = NULL;
out:
	rl_buffer_free(buf);
	sync_close(fd);
	return err;
}

int rl_fs_write_file_sync(const char *path, const void *data, size_t len)
{
	uv_fs_t req;
	uv_file fd;
	size_t done = 0;
	int err;

	err = uv_fs_open(NULL, &req, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644, NULL);
	uv_fs_req_cleanup(&req);
	if (err < 0)
		return err;
	fd = err;
	err = 0;
	while (done < len) {
		uv_buf_t b = uv_buf_init((char *)data + done, (unsigned)(len - done));
		ssize_t n = uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL);

		uv_fs_req_cleanup(&req);
		if (n < 0) {
			err = (int)n;
			break;
		}
		done += n;
	}
	if (sync_close(fd) < 0 && err == 0)
		err = UV_EIO;
	return err;
}

/* ------------------------------------------------------------------ asynchronous */

enum op_kind { OP_READ, OP_WRITE, OP_STAT };

struct fs_op {
	uv_fs_t req;
	enum op_kind kind;
	uv_file fd;
	int err;
	char *buf;
	size_t len, done;
	uint64_t size;
	const void *src;
	union {
		rl_fs_read_cb read;
		rl_fs_done_cb done;
		rl_fs_stat_cb stat;
	} cb;
	void *arg;
};

static void op_deliver(void *arg)
{
	struct fs_op *op = arg;

	switch (op->kind) {
	case OP_READ:
		op->cb.read(op->arg, op->err, op->err ? NULL : op->buf, op->err ? 0 : op->done);
		if (!op->err)
			op->buf = NULL; /* the callee owns it now */
		break;
	case OP_WRITE:
		op->cb.done(op->arg, op->err);
		break;
	case OP_STAT:
		op->cb.stat(op->arg, op->err, op->size);
		break;
	}
}

static void op_finish(struct fs_op *op)
{
	rl__dispatch(RL_CB_FS, op_deliver, op);
	rl_buffer_free(op->buf);
	free(op);
}

static void on_close(uv_fs_t *req)
{
	struct fs_op *op = rl__container_of(req, struct fs_op, req);

	if (req->result < 0 && op->err == 0)
		op->err = (int)req->result;
	uv_fs_req_cleanup(req);
	op_finish(op);
}

static void op_close(struct fs_op *op, int err)
{
	if (err && !op->err)
		op->err = err;
	if (uv_fs_close(rl_loop(), &op->req, op->fd, on_close))
		op_finish(op);
}

static void on_io(uv_fs_t *req);

static void next_io(struct fs_op *op)
{
	uv_buf_t b;
	int err;

	if (op->kind == OP_READ) {
		if (op->done == op->len)
			return op_close(op, 0);
		b = uv_buf_init(op->buf + op->done, (unsigned)(op->len - op->done));
		err = uv_fs_read(rl_loop(), &op->req, op->fd, &b, 1, -1, on_io);
	} else {
		if (op->done == op->len)
			return op_close(op, 0);
		b = uv_buf_init((char *)op->src + op->done, (unsigned)(op->len - op->done));
		err = uv_fs_write(rl_loop(), &op->req, op->fd, &b, 1, -1, on_io);
	}
	if (err)
		op_close(op, err);
}

static void on_io(uv_fs_t *req)
{
	struct fs_op *op = rl__container_of(req, struct fs_op, req);
	ssize_t n = req->result;

	uv_fs_req_cleanup(req);
	if (n < 0)
		return op_close(op, (int)n);
	if (n == 0 && op->kind == OP_READ) /* the file shrank under us */
		return op_close(op, 0);
	op->done += n;
	next_io(op);
}

static void on_fstat(uv_fs_t *req)
{
	struct fs_op *op = rl__container_of(req, struct fs_op, req);
	int err = (int)req->result;

	op->len = req->statbuf.st_size;
	uv_fs_req_cleanup(req);
	if (err < 0)
		return op_close(op, err);
	op->buf = rl_buffer_alloc(op->len ? op->len : 1);
	if (!op->buf)
		return op_close(op, UV_ENOMEM);
	next_io(op);
}

static void on_open(uv_fs_t *req)
{
	struct fs_op *op = rl__container_of(req, struct fs_op, req);
	int err;

	uv_fs_req_cleanup(req);
	if (req->result < 0) {
		op->err = (int)req->result;
		return op_finish(op);
	}
	op->fd = (uv_file)req->result;
	if (op->kind == OP_WRITE)
		return next_io(op);
	err = uv_fs_fstat(rl_loop(), &op->req, op->fd, on_fstat);
	if (err)
		op_close(op, err);
}

static void on_stat(uv_fs_t *req)
{
	struct fs_op *op = rl__container_of(req, struct fs_op, req);

	if (req->result < 0)
		op->err = (int)req->result;
	else
		op->size = req->statbuf.st_size;
	uv_fs_req_cleanup(req);
	op_finish(op);
}

static struct fs_op *op_new(enum op_kind kind, void *arg)
{
	struct fs_op *op = calloc(1, sizeof(*op));

	if (op) {
		op->kind = kind;
		op->fd = -1;
		op->arg = arg;
	}
	return op;
}

int rl_fs_read_file(const char *path, rl_fs_read_cb cb, void *arg)
{
	struct fs_op *op = op_new(OP_READ, arg);
	int err;

	if (!op)
		return UV_ENOMEM;
	op->cb.read = cb;
	err = uv_fs_open(rl_loop(), &op->req, path, O_RDONLY | O_CLOEXEC, 0, on_open);
	if (err)
		free(op);
	return err;
}

/* data must stay valid until cb runs, as with Node's fs.write of a Buffer. */
int rl_fs_write_file(const char *path, const void *data, size_t len, rl_fs_done_cb cb, void *arg)
{
	struct fs_op *op = op_new(OP_WRITE, arg);
	int err;

	if (!op)
		return UV_ENOMEM;
	op->cb.done = cb;
	op->src = data;
	op->len = len;
	err = uv_fs_open(rl_loop(), &op->req, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644,
			 on_open);
	if (err)
		free(op);
	return err;
}

int rl_fs_stat(const char *path, rl_fs_stat_cb cb, void *arg)
{
	struct fs_op *op = op_new(OP_STAT, arg);
	int err;

	if (!op)
		return UV_ENOMEM;
	op->cb.stat = cb;
	err = uv_fs_stat(rl_loop(), &op->req, path, on_stat);
	if (err)
		free(op);
	return err;
}
