/*
 * gen_folded.c — writes the flame-graph benchmark's input: folded stacks of about 250 MB, 300,000
 * lines over 40,000 distinct stacks of depth 10-60, frame names with spaces as JIT names have
 * ("JS:*users orders.js:120:17"). Deterministic (a fixed xorshift seed), so every
 * run of the benchmark reads the same bytes. Frames come from a program's worth of functions
 * (20,000 names, the first ones far more often, as hot code is), not a fresh name per frame.
 *   gen_folded LINES STACKS > big.folded
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

int main(int argc, char **argv)
{
	long lines = argc > 1 ? atol(argv[1]) : 300000, nstacks = argc > 2 ? atol(argv[2]) : 40000;
	static const char *kinds[] = {"JS:*%s %s.js:%u%.0u", "JS:~%s lib/%s.js:%u%.0u",
				      "node::%s::%s%u_%u", "uv__%s_%s%u%u"};
	static const char *words[] = {"users",	 "orders", "render", "parse",  "query", "cache",
				      "session", "auth",   "stream", "zip",    "json",	"tpl",
				      "router",	 "mw",	   "logger", "metrics"};
	char **stacks = malloc(nstacks * sizeof(*stacks)), *names[20000];
	long i;

	for (i = 0; i < 20000; i++) {
		char buf[256];

		snprintf(buf, sizeof(buf), kinds[next() % 4], words[next() % 16],
			 words[next() % 16], (unsigned)(next() % 400), (unsigned)(next() % 80));
		names[i] = strdup(buf);
	}
	/* Stacks share prefixes, as real ones do: each extends a random earlier one or starts anew.
	 */
	for (i = 0; i < nstacks; i++) {
		char buf[8192];
		int depth = 10 + (int)(next() % 51), d, n = 0, base = 0;

		if (i > 0 && next() % 4) {
			const char *parent = stacks[next() % i];
			const char *cut = parent;
			int keep = (int)(next() % 8) + 2, k;

			for (k = 0; k < keep && (cut = strchr(cut, ';')); k++, cut++)
				;
			if (cut) {
				n = (int)(cut - parent);
				memcpy(buf, parent, n);
				base = keep;
			}
		}
		for (d = base; d < depth && n < (int)sizeof(buf) - 200; d++) {
			/* the square of a uniform draw: low indexes (hot functions) come up most */
			uint64_t u = next() % 20000;

			n += snprintf(buf + n, sizeof(buf) - n, "%s;", names[u * u / 20000]);
		}
		buf[n - 1] = 0;
		stacks[i] = strdup(buf);
	}
	for (i = 0; i < lines; i++)
		printf("%s %u\n", stacks[i < nstacks ? i : next() % nstacks],
		       (unsigned)(1 + next() % 1000));
	return 0;
}
