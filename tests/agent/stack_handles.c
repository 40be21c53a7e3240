/*
 * stack_handles.c — libuv's hello-world shape: the loop's handles live in main's frame, the
 * loop runs until a timer stops it, and main returns with its repeating timers still in the
 * loop (nothing calls libuv again). After main returns, that memory is the stack of exit() and
 * of the exit handlers (one of which uses a large buffer, as any may): the agent's destructor
 * must not walk the loop's handle queue then. Exits 0.
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* An exit handler that uses the stack, over where main's frame was. */
static void reuse_the_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0xa5, sizeof(buf));
	(void)buf[0];
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void on_end(uv_timer_t *t)
{
	uv_stop(t->loop);
}

int main(void)
{
	uv_loop_t *loop = uv_default_loop();
	uv_timer_t ticks[3], end;
	int i;

	atexit(reuse_the_stack);
	for (i = 0; i < 3; i++) {
		uv_timer_init(loop, &ticks[i]);
		uv_timer_start(&ticks[i], on_tick, 10, 10);
	}
	uv_timer_init(loop, &end);
	uv_timer_start(&end, on_end, 1200, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
