/*
 * snap_parse.c — bench/heapsnap.sh's helper: the time of each phase of `loopscope heap` on one
 * snapshot, the file already in the page cache: reading it (read(2) into one buffer, what any
 * reader must at least do), parsing it (lsc_snap_read) and analysing it (lsc_snap_analyse).
 * Prints "read_s parse_s analyse_s".
 */
#include "lsc_heapsnap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	struct lsc_snap *s;
	char err[300];
	double t0, t1, t2, t3;
	ssize_t r;
	int fd;

	if (argc != 2)
		return 2;
	t0 = now();
	fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		return 1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	t1 = now();
	if (lsc_snap_read(argv[1], &s, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t2 = now();
	if (lsc_snap_analyse(s))
		return 1;
	t3 = now();
	printf("%.3f %.3f %.3f\n", t1 - t0, t2 - t1, t3 - t2);
	lsc_snap_free(s);
	return 0;
}
