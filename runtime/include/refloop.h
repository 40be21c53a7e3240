/*
 * refloop.h — the public API of refloop, loopscope's reference event-loop runtime.
 *
 * refloop has the shape of Node.js: libuv's default loop underneath (linked statically, internal
 * symbols kept), a nextTick queue and a microtask queue drained after every callback, timers and
 * immediates, a managed heap with a mark-sweep collector, and fs, crypto and http modules. Scenario
 * programs in examples/ are written against this header; loopscope's tests use them as targets
 * whose ground truth is known from the inside (--stats).
 *
 * Threading: everything here is for the loop thread only, except rl_observer_register() (any
 * thread, any time, even before main) and the work functions passed to rl_pool_submit() (which run
 * on libuv's thread pool and must not touch the managed heap).
 *
 * Errors: functions return 0 or a negative errno (libuv's codes are negative errnos on Linux).
 */
#ifndef REFLOOP_H
#define REFLOOP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ runtime lifecycle */

struct rl_options {
	const char *name;	  /* program name in stats; may be NULL */
	const char *stats_path;	  /* write --stats JSON at exit and on SIGUSR1; may be NULL */
	uint64_t heap_min_budget; /* bytes allocated before the first GC; 0 = default (8 MiB) */
};

int rl_init(const struct rl_options *opts);
/* Runs the loop until nothing keeps it alive or rl_stop() was called and everything closed. */
int rl_run(void);
/* Graceful stop: closes servers, connections, timers and immediates; pending work completes. */
void rl_stop(void);
int rl_stopping(void);
/* Writes the stats file now (also done at exit and on SIGUSR1). */
int rl_stats_write(void);
/* Frees everything the runtime owns. Call after rl_run() returned. */
void rl_release(void);
uv_loop_t *rl_loop(void);
uint64_t rl_now_ns(void);

/* ------------------------------------------------------------------ task model */

typedef void (*rl_task_fn)(void *arg);

/* The program's own answer to SIGTERM and SIGINT (Node's process.on('SIGTERM')): fn runs
 * instead of rl_stop(), and stops what it chooses. NULL: rl_stop() again. */
void rl_on_stop_signal(rl_task_fn fn, void *arg);

/* Runs fn before any other callback, before microtasks (process.nextTick). */
int rl_next_tick(rl_task_fn fn, void *arg);
/* Runs fn after the nextTick queue is empty (queueMicrotask / promise jobs). */
int rl_queue_microtask(rl_task_fn fn, void *arg);
/* Runs fn in the check phase of the loop's next iteration (setImmediate). */
int rl_set_immediate(rl_task_fn fn, void *arg);

struct rl_timer;
/* A timeout's handle is valid until its callback returns or rl_clear_timer(); an interval's until
 * rl_clear_timer(). Each timer owns one uv_timer_t, so leaked timers are leaked libuv handles. */
int rl_set_timeout(uint64_t ms, rl_task_fn fn, void *arg, struct rl_timer **out);
int rl_set_interval(uint64_t ms, rl_task_fn fn, void *arg, struct rl_timer **out);
void rl_clear_timer(struct rl_timer *t);
/* The timer no longer keeps the loop alive (timer.unref()). */
void rl_timer_unref(struct rl_timer *t);

/* ------------------------------------------------------------------ managed heap */

/*
 * Objects live on mmap'd pages, never in malloc: managed and native memory are separate views, as
 * in V8. An object has a type (a name, like a JS constructor), a fixed number of reference slots
 * and a byte payload. Roots: registered slots, and objects held by requests in flight.
 *
 * Collection happens only at safe points, between two callbacks (or ticks, or microtasks) that the
 * runtime dispatches, never inside rl_alloc(): C code may keep unrooted object pointers in locals
 * for the duration of one callback.
 */
struct rl_object;

/* Returns a type id > 0, the same id for the same name, or a negative errno. */
int rl_type_register(const char *name);
/* NULL when memory is exhausted. Reference slots start NULL, the payload zeroed. */
struct rl_object *rl_alloc(int type, uint32_t nrefs, size_t payload);
struct rl_object *rl_obj_ref(const struct rl_object *o, uint32_t i);
void rl_obj_set_ref(struct rl_object *o, uint32_t i, struct rl_object *v);
uint32_t rl_obj_nrefs(const struct rl_object *o);
void *rl_obj_payload(struct rl_object *o);
size_t rl_obj_payload_size(const struct rl_object *o);
int rl_obj_type(const struct rl_object *o);
const char *rl_type_name(int type);

int rl_root_add(struct rl_object **slot);
void rl_root_remove(struct rl_object **slot);
/* Collects now. Only at a safe point: never while a caller up the stack holds unrooted objects. */
void rl_gc(void);

struct rl_type_stat {
	const char *name; /* borrowed; valid for the runtime's lifetime */
	uint64_t count;
	uint64_t bytes;
};

struct rl_gc_info {
	uint64_t seq;	      /* 1 for the first collection */
	uint64_t start_ns;    /* rl_now_ns() at the start */
	uint64_t pause_ns;    /* the loop thread was stopped for this long */
	uint64_t heap_before; /* used bytes before */
	uint64_t live_after;  /* used bytes after: the live set */
	uint32_t ntypes;
	const struct rl_type_stat
		*types; /* live count and bytes per type after this GC; borrowed */
};

struct rl_heap_stats {
	uint64_t used_bytes;	  /* object bytes allocated and not yet swept */
	uint64_t committed_bytes; /* bytes of mmap'd pages */
	uint64_t live_after_gc;	  /* used bytes after the last collection */
	uint64_t collections;
	uint64_t pause_total_ns;
	uint64_t pause_max_ns;
	uint64_t allocated_total;   /* bytes ever allocated */
	uint64_t objects_allocated; /* objects ever allocated */
	uint64_t objects_freed;	    /* objects ever swept */
};
void rl_heap_stats_get(struct rl_heap_stats *out);

/* A managed hash map from uint64 keys to objects (a JS Map used as a cache). */
struct rl_object *rl_map_new(void);
int rl_map_set(struct rl_object *map, uint64_t key, struct rl_object *value);
struct rl_object *rl_map_get(struct rl_object *map, uint64_t key);
int rl_map_delete(struct rl_object *map, uint64_t key);
size_t rl_map_size(struct rl_object *map);

/* ------------------------------------------------------------------ native buffers */

/* malloc'd memory the runtime's modules use for I/O, counted in stats ("buffers"). */
void *rl_buffer_alloc(size_t len);
void rl_buffer_free(void *p);

/* ------------------------------------------------------------------ thread pool */

typedef void (*rl_work_fn)(void *arg);
typedef void (*rl_after_work_fn)(void *arg, int status);
/* Queues work on libuv's pool (uv_queue_work), timed: queue depth and queue-wait are in stats. */
int rl_pool_submit(rl_work_fn work, rl_after_work_fn done, void *arg);
/* The pool's size as libuv will use it (UV_THREADPOOL_SIZE, default 4). */
int rl_pool_size(void);

/* ------------------------------------------------------------------ fs */

/* Buffers handed out by the fs functions are freed with rl_buffer_free(). */
typedef void (*rl_fs_read_cb)(void *arg, int err, char *data, size_t len);
typedef void (*rl_fs_done_cb)(void *arg, int err);
typedef void (*rl_fs_stat_cb)(void *arg, int err, uint64_t size);

/* The synchronous variants run on the loop thread and block it (fs.readFileSync). */
int rl_fs_read_file_sync(const char *path, char **data, size_t *len);
int rl_fs_write_file_sync(const char *path, const void *data, size_t len);
int rl_fs_stat_sync(const char *path, uint64_t *size);
/* The asynchronous variants go through libuv's thread pool; the callback runs on the loop. */
int rl_fs_read_file(const char *path, rl_fs_read_cb cb, void *arg);
int rl_fs_write_file(const char *path, const void *data, size_t len, rl_fs_done_cb cb, void *arg);
int rl_fs_stat(const char *path, rl_fs_stat_cb cb, void *arg);

/* ------------------------------------------------------------------ crypto */

void rl_sha256(const void *data, size_t len, uint8_t out[32]);
void rl_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32]);
/* PBKDF2-HMAC-SHA256, computed on the calling thread. */
void rl_pbkdf2_sha256(const void *pass, size_t plen, const void *salt, size_t slen,
		      uint32_t iterations, uint8_t *out, size_t outlen);
typedef void (*rl_pbkdf2_cb)(void *arg, int err, const uint8_t *key, size_t len);
/* PBKDF2 on the thread pool (crypto.pbkdf2). outlen <= 64. */
int rl_crypto_pbkdf2(const void *pass, size_t plen, const void *salt, size_t slen,
		     uint32_t iterations, size_t outlen, rl_pbkdf2_cb cb, void *arg);

/* ------------------------------------------------------------------ http */

struct rl_http_server;
struct rl_http_req;
typedef void (*rl_http_handler)(void *arg, struct rl_http_req *req);

/* HTTP/1.1 with keep-alive. Returns UV_EADDRINUSE when the port is taken. */
int rl_http_listen(const char *host, int port, rl_http_handler handler, void *arg,
		   struct rl_http_server **out);
int rl_http_server_port(const struct rl_http_server *s);
void rl_http_server_close(struct rl_http_server *s);
/* Stops accepting, as Node's server.close() does: every server's listening socket closes; its
 * connections stay until they end (a keep-alive client's when the client leaves). */
void rl_http_stop_listening(void);

/*
 * A request is valid from the handler's call until its response is ended (rl_http_respond(),
 * rl_http_end(), or the end of rl_http_pipe_file()). Every request must be ended exactly once,
 * even when the client went away: writes to a gone client fail and are dropped.
 */
const char *rl_http_req_method(const struct rl_http_req *req);
const char *rl_http_req_path(const struct rl_http_req *req);
const char *rl_http_req_header(const struct rl_http_req *req, const char *name);
uint64_t rl_http_req_id(const struct rl_http_req *req);
/* Keeps obj alive until the response ends (a closure's captured state). */
void rl_http_req_hold(struct rl_http_req *req, struct rl_object *obj);
struct rl_object *rl_http_req_held(const struct rl_http_req *req);

int rl_http_respond(struct rl_http_req *req, int status, const char *content_type, const void *body,
		    size_t len);
/* Streaming: begin with the full length, write pieces, end. rl_http_write() copies data and
 * returns 1 while the connection's write queue is under its high-water mark, 0 when the caller
 * should wait for rl_http_on_drain() (Node's res.write() returning false), or a negative errno.
 * rl_http_on_drain() calls fn once every queued write has completed (or failed, when the client
 * left); it returns UV_EALREADY when nothing is queued: write on. */
int rl_http_begin(struct rl_http_req *req, int status, const char *content_type, uint64_t length);
int rl_http_write(struct rl_http_req *req, const void *data, size_t len);
int rl_http_on_drain(struct rl_http_req *req, rl_task_fn fn, void *arg);
int rl_http_end(struct rl_http_req *req);
size_t rl_http_write_queue_size(const struct rl_http_req *req);
/* Streams a file as the response, respecting backpressure (fs.createReadStream().pipe(res)).
 * Ends the request itself. */
int rl_http_pipe_file(struct rl_http_req *req, const char *path, const char *content_type);

/* ------------------------------------------------------------------ ground truth counters */

/* Named counters a program exports in its stats ("scenario" object). At most 32 names; the name is
 * kept by pointer, so pass a string literal. */
void rl_counter_add(const char *name, uint64_t delta);
void rl_counter_max(const char *name, uint64_t value);
uint64_t rl_counter_get(const char *name);

/* ------------------------------------------------------------------ observer API */

/* What a callback was dispatched for; the same codes are in the USDT probes. */
enum rl_cb_kind {
	RL_CB_TIMER = 1,
	RL_CB_IMMEDIATE = 2,
	RL_CB_IO = 3,
	RL_CB_FS = 4,
	RL_CB_WORK = 5,
	RL_CB_SIGNAL = 6,
	RL_CB_TICK = 7,
	RL_CB_MICROTASK = 8,
};

#define RL_OBSERVER_VERSION 1

/*
 * Called on the loop thread. Any member may be NULL. Observers run on the runtime's hot path:
 * they must be quick and must not call back into the runtime. handle_open/close carry libuv's
 * uv_handle_type.
 */
struct rl_observer {
	int version; /* RL_OBSERVER_VERSION */
	void *ctx;
	void (*gc_end)(void *ctx, const struct rl_gc_info *info);
	void (*handle_open)(void *ctx, int uv_handle_type);
	void (*handle_close)(void *ctx, int uv_handle_type);
	void (*callback_begin)(void *ctx, int kind);
	void (*callback_end)(void *ctx, int kind);
};

/*
 * Exported from every refloop executable's dynamic symbol table, so that a preloaded agent finds it
 * with dlsym(RTLD_DEFAULT, "rl_observer_register"). The struct is copied. Up to 4 observers.
 * Returns 0, -EINVAL on a version mismatch, -ENOSPC when full.
 */
int rl_observer_register(const struct rl_observer *obs);
typedef int (*rl_observer_register_fn)(const struct rl_observer *obs);

#ifdef __cplusplus
}
#endif
#endif
