/*
 * config.c — the agent's configuration from LOOPSCOPE_* environment variables (set by
 * `loopscope run`, or by hand when preloading the agent yourself; see agent/README.md). Runs once,
 * in the agent's constructor, before the program's main().
 */
#include "agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int number(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int lsc_agent_config_parse(struct lsc_agent_config *c, const char *(*get)(const char *),
			   const char **bad)
{
	const char *v;
	uint64_t n;

	memset(c, 0, sizeof(*c));
	c->window_ns = 1000000000ULL;
	c->block_threshold_ns = 1000000ULL;
	c->busy_threshold_ns = 10000000ULL;
	c->cpu_hz = 99;
	c->heap_mode = LSC_HEAP_SAMPLED;
	c->sample_interval = 512 * 1024;
	c->js_heap_interval = 256 * 1024;
	*bad = NULL;

	v = get("LOOPSCOPE_OUTPUT");
	if (!v || !*v || strlen(v) >= sizeof(c->output)) {
		*bad = "LOOPSCOPE_OUTPUT";
		return -EINVAL;
	}
	strcpy(c->output, v);
#define NUM(var, field, scale, min, max)                                                           \
	v = get(var);                                                                              \
	if (v) {                                                                                   \
		if (number(v, &n) || n + 1 < (min) + 1 || n > (max)) {                             \
			*bad = var;                                                                \
			return -EINVAL;                                                            \
		}                                                                                  \
		c->field = n * (scale);                                                            \
	}
	NUM("LOOPSCOPE_WINDOW_MS", window_ns, 1000000ULL, 10, 3600000)
	NUM("LOOPSCOPE_BLOCK_THRESHOLD_MS", block_threshold_ns, 1000000ULL, 0, 3600000)
	NUM("LOOPSCOPE_BUSY_THRESHOLD_MS", busy_threshold_ns, 1000000ULL, 1, 3600000)
	NUM("LOOPSCOPE_CPU_HZ", cpu_hz, 1, 0, 10000)
	NUM("LOOPSCOPE_SAMPLE_INTERVAL", sample_interval, 1, 1, 1ULL << 40)
	NUM("LOOPSCOPE_JS_HEAP_INTERVAL", js_heap_interval, 1, 0, 1ULL << 30)
#undef NUM
	v = get("LOOPSCOPE_HEAP");
	if (v) {
		if (!strcmp(v, "off"))
			c->heap_mode = LSC_HEAP_OFF;
		else if (!strcmp(v, "sampled"))
			c->heap_mode = LSC_HEAP_SAMPLED;
		else if (!strcmp(v, "full"))
			c->heap_mode = LSC_HEAP_FULL;
		else {
			*bad = "LOOPSCOPE_HEAP";
			return -EINVAL;
		}
	}
	v = get("LOOPSCOPE_FOLLOW_CHILDREN");
	/* "1": every child; "node": Node.js children only (run's default for a Node target) */
	c->follow_children = !v ? 0 : !strcmp(v, "1") ? 1 : !strcmp(v, "node") ? 2 : 0;
	v = get("LOOPSCOPE_WALL");
	c->wall = v && !strcmp(v, "1");
	return 0;
}
