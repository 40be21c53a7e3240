/*
 * demo_summary.c — prints the part of a refloop --stats file that tells the sync-read story, for
 * `make demo`. Exit 1 with one line when the file is missing or not refloop's stats.
 */
#include <json-c/json.h>
#include <stdio.h>

static double get(json_object *root, const char *a, const char *b)
{
	json_object *o, *v;

	if (!json_object_object_get_ex(root, a, &o) || !json_object_object_get_ex(o, b, &v))
		return -1;
	return json_object_get_double(v);
}

int main(int argc, char **argv)
{
	json_object *root = argc == 2 ? json_object_from_file(argv[1]) : NULL;
	double reads, read_ns, busy, wall, resp;

	if (!root || get(root, "loop", "wall_ns") < 0) {
		fprintf(stderr,
			"demo: cannot read stats '%s'; run the scenario with --stats FILE\n",
			argc == 2 ? argv[1] : "");
		return 1;
	}
	reads = get(root, "scenario", "sync_reads");
	read_ns = get(root, "scenario", "sync_read_ns");
	busy = get(root, "loop", "busy_ns");
	wall = get(root, "loop", "wall_ns");
	resp = get(root, "http", "responses");
	printf("\nWhat refloop measured from the inside:\n");
	printf("  event-loop utilization      %.2f  (1.00 = never idle)\n",
	       get(root, "loop", "elu"));
	printf("  requests served             %.0f in %.1f s\n", resp, wall / 1e9);
	printf("  loop busy per request       %.1f ms\n", resp > 0 ? busy / resp / 1e6 : 0);
	printf("  of which the sync read      %.1f ms (%.0f %% of all loop-busy time)\n",
	       reads > 0 ? read_ns / reads / 1e6 : 0, busy > 0 ? 100 * read_ns / busy : 0);
	printf("  loop iterations             %.0f\n", get(root, "loop", "iterations"));
	printf("\nThe loop spends its time blocked in handle_video()'s readFileSync-style read.\n");
	printf("Full ground truth: %s\n", argv[1]);
	json_object_put(root);
	return 0;
}
