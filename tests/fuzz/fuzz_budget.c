/*
 * fuzz_budget.c — the CI budget parser (lsc_gate_parse): any text either parses into checks
 * that hold what they promise or is refused with one line naming the file's line.
 */
#include "fuzz.h"
#include "lsc_gate.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lsc_gate g;
	char *text = malloc(size + 1), err[512], v[64];
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	err[0] = 0;
	if (lsc_gate_parse(text, "budget.txt", &g, err, sizeof(err)) == 0) {
		if (!g.n || g.n > LSC_GATE_MAX_CHECKS)
			abort();
		for (i = 0; i < g.n; i++) {
			const struct lsc_gate_check *c = &g.checks[i];

			/* what the parser accepts is a limit someone could mean */
			if (!isfinite(c->limit) || !isfinite(c->tolerance) || c->op < LSC_OP_LE ||
			    c->op > LSC_OP_GT || !lsc_gate_unit(c->metric))
				abort();
			lsc_gate_format(c->metric, c->limit, v, sizeof(v));
		}
	} else if (strncmp(err, "budget.txt", 10) != 0 || strchr(err, '\n')) {
		abort(); /* one line, naming the file */
	}
	free(text);
	return 0;
}
