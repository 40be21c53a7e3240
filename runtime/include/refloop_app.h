/*
 * refloop_app.h — the scenario harness: what every program in examples/ shares. It parses the
 * common flags (--duration, --port, --host, --self-load, --requests, --stats, --die-after,
 * --die-how, --quiet) and the scenario's own, starts the HTTP server, forks the bounded loopback
 * client when asked, runs the loop, and writes the stats.
 */
#ifndef REFLOOP_APP_H
#define REFLOOP_APP_H

#include "refloop.h"

#include <sys/types.h>

enum rl_opt_type { RL_OPT_U64 = 1, RL_OPT_DOUBLE, RL_OPT_STRING };

struct rl_app_opt {
	const char *name; /* without the leading "--" */
	enum rl_opt_type type;
	void *dst; /* uint64_t *, double * or const char ** holding the default */
	const char *help;
};

struct rl_app {
	const char *name;
	const char *summary;
	const struct rl_app_opt *opts; /* ends with a zeroed entry; may be NULL */
	rl_http_handler handler;
	/* After rl_init(), before the server listens. On failure, return a negative errno and
	 * write what failed into err ("cannot open 'x'"); the harness adds the cause. */
	int (*start)(char *err, size_t errlen);
	/* After the loop ended, before the stats are written. */
	void (*finish)(void);
	const char *load_path;	/* what the self-load client requests */
	uint64_t load_read_bps; /* client read rate per connection; 0 = as fast as it can */
};

int rl_app_main(int argc, char **argv, const struct rl_app *app);

/* Creates a file of size pseudo-random bytes under $TMPDIR (or /tmp), removed when rl_app_main()
 * returns. Call from start(). Writes its path into path. */
int rl_app_temp_file(uint64_t size, char *path, size_t cap);

/* The bounded loopback client, in a child process of its own. */
struct rl_load_opts {
	const char *host;
	int port;
	int conns;
	double duration_s;     /* 0: until killed */
	uint64_t max_requests; /* over all connections; 0: no limit */
	const char *path;
	uint64_t read_bps; /* per connection; 0: unlimited */
};
int rl_load_spawn(const struct rl_load_opts *o, pid_t *pid);

#endif
